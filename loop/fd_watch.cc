#include "loop/fd_watch.h"

#include <errno.h>
#include <sys/epoll.h>

#include <system_error>

#include "loop/event_loop.h"
#include "loop/frame_allocator.h"
#include "loop/os_error.h"
#include "loop/poller.h"
#include "loop/task_base.h"

namespace weft::internal {

// One descriptor's registration with one loop's poller: the two waiting slots and the edges
// that came while nobody waited. Owned by its FdWatch; when the watch goes away off the
// loop's thread, the loop deletes it (it is then a Runnable in the loop's inbox).
class FdRegistration final : public IoSource, public Runnable, public UsesFrameAllocator {
 public:
  FdRegistration(int fd, EventLoop* loop) : fd_(fd), loop_(loop) {
    loop->poller().add_source(fd, this);
  }

  EventLoop* loop() const { return loop_; }
  int fd() const { return fd_; }

  // Takes the remembered edge, if any: then the caller need not wait.
  bool take_ready(bool writable) {
    bool& ready = writable ? write_ready_ : read_ready_;
    if (!ready) return false;
    ready = false;
    return true;
  }
  FdWaitAwaiter*& slot(bool writable) { return writable ? writer_ : reader_; }

  bool hung_up() const { return hung_up_; }

  void on_io(bool readable, bool writable, bool hangup) override {
    hung_up_ = hung_up_ || hangup;
    if (readable) deliver(reader_, read_ready_);
    if (writable) deliver(writer_, write_ready_);
  }
  void on_poller_closed() override { loop_ = nullptr; }

  // On the loop's thread (or with the loop not running): wakes the waiters with EBADF,
  // unregisters and deletes this.
  void destroy() {
    wake_closed();
    if (loop_) loop_->poller().remove_source(fd_, this);
    delete this;
  }

  // From a thread that does not run the loop while it runs (a misuse the destructor still
  // survives): unregister at once, since fd is about to be closed and its number reused, and
  // let the loop finish on its own thread (run()), where the poller may be touched.
  void destroy_from_other_thread() {
    epoll_event ev{};
    epoll_ctl(loop_->poller().epoll_fd(), EPOLL_CTL_DEL, fd_, &ev);
    loop_->schedule_threadsafe(this);
  }

  void run() override {
    wake_closed();
    if (loop_) loop_->poller().forget_source(fd_, this);
    delete this;
  }
  void discard() override { delete this; }

 private:
  static void deliver(FdWaitAwaiter*& waiter, bool& ready) {
    if (FdWaitAwaiter* w = waiter) {
      waiter = nullptr;
      w->wake(/*closed=*/false);
    } else {
      ready = true;
    }
  }
  void wake_closed() {
    if (FdWaitAwaiter* w = std::exchange(reader_, nullptr)) w->wake(/*closed=*/true);
    if (FdWaitAwaiter* w = std::exchange(writer_, nullptr)) w->wake(/*closed=*/true);
  }

  int fd_;
  EventLoop* loop_;  // null once the loop closed
  FdWaitAwaiter* reader_ = nullptr;
  FdWaitAwaiter* writer_ = nullptr;
  bool read_ready_ = false;
  bool write_ready_ = false;
  bool hung_up_ = false;
};

void FdWaitAwaiter::leave_slot() noexcept {
  if (reg_->slot(writable_) == this) reg_->slot(writable_) = nullptr;
}

bool FdWaitAwaiter::await_suspend(TaskBase& task) {
  FdRegistration* reg = watch_->registration(task);
  if (reg->take_ready(writable_)) return false;
  FdWaitAwaiter*& slot = reg->slot(writable_);
  if (slot) [[unlikely]] throw_busy(reg->fd());
  slot = this;
  reg_ = reg;
  task_ = &task;
  task.set_waiting_on(this);
  return true;
}

void FdWaitAwaiter::throw_busy(int fd) const {
  throw RuntimeError(std::string("FdWatch: another task is already waiting for fd ") +
                     std::to_string(fd) + " to become " + (writable_ ? "writable" : "readable") +
                     "; one task at a time may wait per direction (serialise the readers or "
                     "writers, e.g. with a weft::Lock)");
}

void FdWaitAwaiter::wake(bool closed) {
  closed_ = closed;
  reg_ = nullptr;
  task_->wake_from_wait();
}

bool FdWaitAwaiter::cancel_wait(const std::string& msg) {
  if (!reg_) return false;  // woken already
  reg_->slot(writable_) = nullptr;
  reg_ = nullptr;
  task_->request_cancel_delivery(msg);
  task_->wake_from_wait();
  return true;
}

void FdWaitAwaiter::throw_closed() const {
  throw OSError(EBADF, "FdWatch: the descriptor was closed while a task waited on it");
}

}  // namespace weft::internal

namespace weft {

EventLoop* FdWatch::loop() const { return reg_ ? reg_->loop() : nullptr; }

bool FdWatch::hung_up() const { return reg_ && reg_->hung_up(); }

internal::FdRegistration* FdWatch::registration(internal::TaskBase& task) {
  // The descriptor is watched by this loop from now on: a spawned task that waits on it
  // stays here (a later wait from another loop would be refused). `task` is the one running
  // (the awaiter's), so this is pin_current_task() without its thread-local lookup.
  task.pin_to_loop();
  EventLoop* loop = task.loop();
  if (reg_ && reg_->loop() == loop) [[likely]] return reg_;
  return register_with(loop);
}

internal::FdRegistration* FdWatch::register_with(EventLoop* loop) {
  if (reg_) {
    if (reg_->loop() != nullptr) {
      throw RuntimeError("FdWatch: fd " + std::to_string(fd_) +
                         " is registered with another event loop; a descriptor is watched by "
                         "the loop of its first wait. Use it from tasks of that loop (create_task "
                         "there), or reset() the watch first");
    }
    // Its loop closed: register afresh with this one.
    delete reg_;
    reg_ = nullptr;
  }
  if (fd_ < 0) {
    throw OSError(EBADF, "FdWatch: no descriptor to wait on (the watch was reset or moved from)");
  }
  try {
    reg_ = new internal::FdRegistration(fd_, loop);
  } catch (const std::system_error& e) {
    throw OSError(e.code().value(), "FdWatch: cannot register fd " + std::to_string(fd_));
  }
  return reg_;
}

void FdWatch::reset() noexcept {
  fd_ = -1;
  internal::FdRegistration* reg = std::exchange(reg_, nullptr);
  if (!reg) return;
  EventLoop* loop = reg->loop();
  if (loop && EventLoop::current_or_null() != loop && loop->is_running()) {
    reg->destroy_from_other_thread();
  } else {
    reg->destroy();
  }
}

}  // namespace weft
