#include "loop/future_base.h"

#include <algorithm>
#include <utility>

#include "loop/errors.h"
#include "loop/event_loop.h"
#include "loop/task_base.h"

namespace weft::internal {

namespace {

// The reference a posted done-callback holds on its future. Released when the callback is
// destroyed: after it ran (even if it threw), or unrun because a closing loop dropped it or
// the loop was closed already. (Released by hand in the callback's body, it would leak in
// the last two cases.)
class PostedRef {
 public:
  explicit PostedRef(FutureBase* f) : f_(f) {}  // adopts a reference
  PostedRef(PostedRef&& other) noexcept : f_(std::exchange(other.f_, nullptr)) {}
  PostedRef& operator=(PostedRef&&) = delete;
  ~PostedRef() {
    if (f_) f_->unref();
  }
  FutureBase& get() const { return *f_; }

 private:
  FutureBase* f_;
};

}  // namespace

// Carries the last reference of a pinned future from another thread to the future's loop,
// where the pin byte may be read and written (see "Awaiter pins" in future_base.h). Run on
// the loop, or discarded: by close() on the closing thread, which destroys the loop's
// frames itself and so is where the pins are written then; or, the loop closed already, by
// schedule_threadsafe on the sending thread, after close() (seq_cst on the inbox gate) and
// so after every frame's unpin.
class PinnedRelease final : public Runnable {
 public:
  explicit PinnedRelease(FutureBase* f) : f_(f) {}
  void run() override { release(); }
  void discard() override { release(); }

 private:
  void release() {
    FutureBase* f = f_;
    delete this;
    f->release_as_owner();
  }
  FutureBase* f_;
};

void FutureBase::report_and_destroy() {
  report_never_retrieved();
  delete this;
}

void FutureBase::unref_slow() {
  if (refs_.load(std::memory_order_acquire) != 1 && !drop_one_of_several()) return;
  release_last();
}

void FutureBase::release_last_while_pinned() {
  if (t_running_loop == loop()) return decide_as_owner();
  // The pin byte is the loop's to write: keep the reference (still counted, see unref) and
  // drop it there.
  loop()->schedule_threadsafe(new PinnedRelease(this));
}

void FutureBase::release_as_owner() {
  if (refs_.load(std::memory_order_acquire) != 1 && !drop_one_of_several()) return;
  decide_as_owner();
}

void FutureBase::decide_as_owner() {
  uint8_t w = lock_.pins().load(std::memory_order_relaxed);
  if ((w & kPinCount) == 0) return destroy();
  // The last unpin deletes it. The count goes to 0, which post_callback tests: nobody else
  // holds a reference to change it with.
  refs_.store(0, std::memory_order_relaxed);
  lock_.pins().store(w | kOrphaned, std::memory_order_relaxed);
}

bool FutureBase::cancel(std::string msg) {
  if (done()) return false;
  exception_retrieved_ = true;  // a cancelled future has nothing to report
  finish_cancelled(std::make_exception_ptr(CancelledError(std::move(msg))));
  return true;
}

std::string FutureBase::describe() const {
  const char* state_text = "";
  switch (state()) {
    case State::kPending:
      state_text = "pending";
      break;
    case State::kCancelled:
      state_text = "cancelled";
      break;
    case State::kFinished:
      state_text = exception_ ? "finished exception" : "finished";
      break;
  }
  if (const CallSite* site = creation_site()) {
    return "<Future " + std::string(state_text) + " created at " + site->to_string() + ">";
  }
  return "<Future " + std::string(state_text) + ">";
}

void FutureBase::raise_result() {
  if (state() == State::kPending) {
    throw InvalidStateError(describe() +
                            ": result is not set yet; await the future (or check done()) "
                            "before asking for its result");
  }
  // Cancelled (the CancelledError) or finished with an exception.
  if (state() == State::kFinished) exception_retrieved_ = true;
  std::rethrow_exception(exception_);
}

std::exception_ptr FutureBase::exception() {
  if (state() == State::kPending) {
    throw InvalidStateError(describe() +
                            ": exception is not set yet; await the future (or check done()) "
                            "before asking for its exception");
  }
  if (state() == State::kCancelled) std::rethrow_exception(exception_);
  exception_retrieved_ = true;
  return exception_;
}

void FutureBase::check_loop_thread(const char* what) const { loop()->check_thread(what); }

namespace {
// check_pending's throwing half, out of line so that the check itself needs no frame.
[[noreturn, gnu::noinline, gnu::cold]] void raise_not_pending(const char* what,
                                                             const FutureBase& f) {
  throw InvalidStateError(std::string(what) + "() on " + f.describe() +
                          ": a future can be completed only once; check done() first");
}
}  // namespace

void FutureBase::check_pending(const char* what) const {
  check_loop_thread(what);
  if (state() != State::kPending) [[unlikely]] raise_not_pending(what, *this);
}

void FutureBase::finish_exception(std::exception_ptr e) {
  exception_ = std::move(e);
  complete_as(State::kFinished);
}

void FutureBase::finish_cancelled(std::exception_ptr cancelled_error) {
  exception_ = std::move(cancelled_error);
  complete_as(State::kCancelled);
}

void FutureBase::complete_as(State s) {
  TaskBase* first;
  Callbacks callbacks;
  {
    MaybeSpinGuard guard(lock_, shared_);
    // Release: whoever reads the state with acquire also sees the result and exception.
    state_.store(s, std::memory_order_release);
    first = std::exchange(first_waiter_, nullptr);
    callbacks = std::move(callbacks_);
  }
  if (first) first->wake_from_wait();
  if (!callbacks) return;
  for (Callback& cb : *callbacks) {
    if (cb.waiter) {
      cb.waiter->wake_from_wait();
    } else {
      post_callback(std::move(cb.fn), cb.loop);
    }
  }
}

void FutureBase::post_callback(DoneCallbackFn fn, EventLoop* loop) {
  if (!shared_ && refs_.load(std::memory_order_relaxed) == 0) {
    // An orphaned future, completed by its pinned task's cancellation: the callbacks'
    // references keep it from here on, not the last unpin. A plain future completes on its
    // loop's thread, the one that writes the pin byte.
    lock_.pins().store(lock_.pins().load(std::memory_order_relaxed) & ~kOrphaned,
                       std::memory_order_relaxed);
  }
  ref();
  auto call = [self = PostedRef(this), fn = std::move(fn)]() mutable { fn(self.get()); };
  if (!loop) loop = this->loop();
  try {
    if (EventLoop::current_or_null() == loop) {
      loop->call_soon(std::move(call));
    } else {
      loop->call_soon_threadsafe(std::move(call));
    }
  } catch (const RuntimeError&) {
    // The loop is closed: nobody can run the callback. The lambda (and its reference) went
    // with the exception.
  }
}

uint64_t FutureBase::add_done_callback(DoneCallbackFn fn) {
  static std::atomic<uint64_t> next_id{1};
  uint64_t id = next_id.fetch_add(1, std::memory_order_relaxed);
  {
    MaybeSpinGuard guard(lock_, shared_);
    if (!done()) {
      if (!callbacks_) callbacks_.reset(new std::vector<Callback>());
      callbacks_->push_back(Callback{id, nullptr, std::move(fn), t_running_loop});
      return id;
    }
  }
  post_callback(std::move(fn), t_running_loop);
  return id;
}

size_t FutureBase::remove_done_callback(uint64_t id) {
  MaybeSpinGuard guard(lock_, shared_);
  if (!callbacks_) return 0;
  auto& v = *callbacks_;
  auto it = std::remove_if(v.begin(), v.end(),
                           [id](const Callback& cb) { return !cb.waiter && cb.id == id; });
  size_t n = static_cast<size_t>(v.end() - it);
  v.erase(it, v.end());
  return n;
}

bool FutureBase::add_waiter(TaskBase* task) {
  MaybeSpinGuard guard(lock_, shared_);
  if (done()) return false;
  if (!first_waiter_ && !callbacks_) {
    first_waiter_ = task;
    return true;
  }
  if (!callbacks_) callbacks_.reset(new std::vector<Callback>());
  callbacks_->push_back(Callback{0, task, nullptr, nullptr});
  return true;
}

std::vector<TaskBase*> FutureBase::waiters() const {
  MaybeSpinGuard guard(lock_, shared_);
  std::vector<TaskBase*> out;
  if (first_waiter_) out.push_back(first_waiter_);
  if (callbacks_) {
    for (const Callback& c : *callbacks_) {
      if (c.waiter) out.push_back(c.waiter);
    }
  }
  return out;
}

bool FutureBase::remove_waiter(TaskBase* task) {
  MaybeSpinGuard guard(lock_, shared_);
  if (first_waiter_ == task) {
    first_waiter_ = nullptr;
    return true;
  }
  if (!callbacks_) return false;
  auto& v = *callbacks_;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it->waiter == task) {
      v.erase(it);
      return true;
    }
  }
  return false;
}

void FutureBase::report_never_retrieved() {
  ExceptionContext ctx;
  ctx.message = "Future exception was never retrieved";
  ctx.exception = exception_;
  ctx.future = describe();
  if (const CallSite* site = creation_site()) ctx.source = site->to_string();
  if (loop_is_alive(loop())) {
    loop()->call_exception_handler(ctx);
  } else {
    print_exception_context(ctx);
  }
}

}  // namespace weft::internal
