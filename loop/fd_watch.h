// FdWatch: lets a task wait until a non-blocking file descriptor is readable or writable,
// on the loop that runs the task. The building block of sockets, streams and pipes.
//
//   weft::FdWatch watch(fd);                 // does not own fd
//   for (;;) {
//     ssize_t n = ::read(fd, buf, sizeof buf);
//     if (n >= 0) return n;
//     if (errno != EAGAIN) weft::raise_os_error(errno, "read");
//     co_await watch.readable();             // suspends until the next readiness edge
//   }
//   ...
//   watch.reset();                           // before ::close(fd)
//
// Protocol: try the operation first; await readable()/writable() only after it failed with
// EAGAIN. The first wait registers fd with the loop's epoll once, edge-triggered, for input,
// output and hang-up; later waits cost no system call (asyncio's add_reader would cost two
// epoll_ctl per wait: bench/fd_watch_bench.cc). An edge that arrives while nobody waits is
// remembered, so the next wait in that direction returns at once. A wake-up can therefore be
// spurious (the retried operation sees EAGAIN again and waits again); it is never missed.
// Hang-up and errors wake both directions: the retried read or write reports them.
//
// Cancellation: cancelling the waiting task removes the wait at once and raises
// CancelledError at the co_await. No allocation per wait: the waiting node is the awaiter,
// in the coroutine frame; the registration (one small object) is made at the first wait.
//
// Ownership and threads. FdWatch does not own fd; reset() (or the destructor) must run before
// fd is closed, else a new descriptor with the same number could be confused with it. fd is
// bound to the loop of its first wait: waiting from a task of another loop raises
// RuntimeError. Owning loop only: waits, reset() and destruction belong on that loop's
// thread (or after that loop stopped). Destruction from another thread while the loop runs is
// handled without touching freed memory, but is a misuse. reset() while a task waits wakes it
// with OSError(EBADF). At most one task may wait per direction (RuntimeError otherwise, as
// asyncio's "another coroutine is already waiting").
#ifndef WEFT_LOOP_FD_WATCH_H_
#define WEFT_LOOP_FD_WATCH_H_

#include <string>
#include <utility>

#include "loop/task_base.h"

namespace weft {

class EventLoop;
class FdWatch;

namespace internal {

class FdRegistration;

// What `co_await watch.readable()` is. Lives in the awaiting frame.
class FdWaitAwaiter final : public WaitCanceller {
 public:
  FdWaitAwaiter(FdWatch* watch, bool writable) : watch_(watch), writable_(writable) {}
  FdWaitAwaiter(FdWaitAwaiter&& other) noexcept
      : watch_(other.watch_), writable_(other.writable_) {}
  FdWaitAwaiter(const FdWaitAwaiter&) = delete;
  // reg_ is set only while suspended: an awaiter that resumed (every one but those of an
  // abandoned frame) has nothing to undo.
  ~FdWaitAwaiter() {
    if (reg_) [[unlikely]] leave_slot();
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(TaskBase& task);
  // Raises OSError(EBADF) if the watch was reset while the task waited.
  void await_resume() const {
    if (closed_) throw_closed();
  }

  bool cancel_wait(const std::string& msg) override;

 private:
  friend class FdRegistration;
  // Called by the registration: the edge came (closed=false) or the watch was reset.
  void wake(bool closed);
  [[noreturn]] void throw_closed() const;
  // The frame is destroyed while suspended (its task was abandoned): leave the slot.
  void leave_slot() noexcept;
  // Cold paths, out of line so that the waits stay small.
  [[noreturn, gnu::noinline, gnu::cold]] void throw_busy(int fd) const;

  FdWatch* watch_;
  FdRegistration* reg_ = nullptr;  // non-null while suspended in the registration's slot
  TaskBase* task_ = nullptr;
  bool writable_;
  bool closed_ = false;
};

}  // namespace internal

class FdWatch {
 public:
  FdWatch() noexcept = default;
  // Watches fd (not owned). Nothing is registered until the first wait.
  explicit FdWatch(int fd) noexcept : fd_(fd) {}
  FdWatch(FdWatch&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), reg_(std::exchange(other.reg_, nullptr)) {}
  FdWatch& operator=(FdWatch&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
      reg_ = std::exchange(other.reg_, nullptr);
    }
    return *this;
  }
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;
  ~FdWatch() { reset(); }

  int fd() const { return fd_; }
  // The loop fd is registered with, or nullptr before the first wait (or after its loop
  // closed).
  EventLoop* loop() const;

  // Whether an edge reported that the peer closed its side, a hang-up or an error (sticky).
  // Such an edge never repeats: code that skips a system call because it expects a later
  // edge (Socket's wait after a short read) must not skip it once this is true.
  bool hung_up() const;

  // Awaitables; see the file comment for the protocol. Inside a task only (RuntimeError).
  [[nodiscard]] internal::FdWaitAwaiter readable() { return internal::FdWaitAwaiter(this, false); }
  [[nodiscard]] internal::FdWaitAwaiter writable() { return internal::FdWaitAwaiter(this, true); }

  // Unregisters fd from its loop and forgets it (fd() becomes -1); wakes a waiting task
  // with OSError(EBADF). Idempotent. Call before closing fd.
  void reset() noexcept;

 private:
  friend class internal::FdWaitAwaiter;
  // The registration on the loop of `task` (the waiting task, which it pins there), made on
  // first use. Raises RuntimeError if fd is registered with another loop, OSError if epoll
  // refuses fd.
  internal::FdRegistration* registration(internal::TaskBase& task);
  // The first wait's registration (or a refusal): registration()'s cold path.
  [[gnu::noinline, gnu::cold]] internal::FdRegistration* register_with(EventLoop* loop);

  int fd_ = -1;
  internal::FdRegistration* reg_ = nullptr;
};

}  // namespace weft

#endif  // WEFT_LOOP_FD_WATCH_H_
