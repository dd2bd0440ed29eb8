#include "scheduler/concurrent_future.h"

#include "absl/strings/str_format.h"
#include "loop/event_loop.h"
#include "loop/exception_context.h"

namespace weft::internal {

ConcurrentStateBase::~ConcurrentStateBase() = default;

std::string ConcurrentStateBase::describe() const {
  switch (state()) {
    case State::kPending:
      return "<ConcurrentFuture pending>";
    case State::kRunning:
      return "<ConcurrentFuture running>";
    case State::kCancelled:
      return "<ConcurrentFuture cancelled>";
    case State::kFinished:
      return exception_ ? "<ConcurrentFuture finished exception>" : "<ConcurrentFuture finished>";
  }
  return "<ConcurrentFuture>";
}

std::unique_lock<std::mutex> ConcurrentStateBase::lock_if_settable() {
  std::unique_lock<std::mutex> lock(mu_);
  State s = state_.load(std::memory_order_relaxed);
  if (s != State::kPending && s != State::kRunning) lock.unlock();
  return lock;
}

void ConcurrentStateBase::finish_locked(std::unique_lock<std::mutex>& lock, State final_state) {
  state_.store(final_state, std::memory_order_release);
  std::vector<Callback> callbacks = std::move(callbacks_);
  callbacks_.clear();
  bool wake = blocked_getters_ > 0;
  lock.unlock();
  if (wake) cv_.notify_all();
  // The caller holds a handle, so the state outlives the callbacks even if they drop theirs.
  run_callbacks(callbacks);
}

void ConcurrentStateBase::run_callbacks(std::vector<Callback>& callbacks) {
  for (Callback& cb : callbacks) {
    try {
      cb(*this);
    } catch (...) {
      // As concurrent.futures: log and go on with the other callbacks. There is no loop to
      // report to: the callback ran in whatever thread completed the future.
      ExceptionContext ctx;
      ctx.message = "exception calling callback for " + describe();
      ctx.exception = std::current_exception();
      print_exception_context(ctx);
    }
  }
}

bool ConcurrentStateBase::cancel() {
  std::unique_lock<std::mutex> lock(mu_);
  State s = state_.load(std::memory_order_relaxed);
  if (s == State::kCancelled) return true;
  if (s != State::kPending) return false;
  exception_ = std::make_exception_ptr(CancelledError("ConcurrentFuture was cancelled"));
  finish_locked(lock, State::kCancelled);
  return true;
}

bool ConcurrentStateBase::set_running_or_notify_cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  State s = state_.load(std::memory_order_relaxed);
  if (s == State::kCancelled) return false;
  if (s != State::kPending) {
    throw InvalidStateError("set_running_or_notify_cancel() on " + describe() +
                            ": only a pending future can start running; call it once, before "
                            "running the work");
  }
  state_.store(State::kRunning, std::memory_order_release);
  return true;
}

bool ConcurrentStateBase::try_set_exception(std::exception_ptr e) {
  if (!e) {
    throw RuntimeError(
        "ConcurrentFuture::set_exception(nullptr): pass the exception to store, e.g. "
        "std::current_exception() or std::make_exception_ptr(error)");
  }
  std::unique_lock<std::mutex> lock = lock_if_settable();
  if (!lock.owns_lock()) return false;
  exception_ = std::move(e);
  finish_locked(lock, State::kFinished);
  return true;
}

void ConcurrentStateBase::check_may_block(const char* what) const {
  // Always, not only in debug mode: one thread-local load, on a path about to block anyway.
  if (EventLoop::current_or_null() == nullptr) return;
  throw RuntimeError(absl::StrFormat(
      "ConcurrentFuture::%s() would block the event loop running on this thread until the "
      "future is done (and deadlock if that needs this loop). Inside a coroutine, "
      "`co_await future` instead (or co_await wrap_future(future))",
      what));
}

void ConcurrentStateBase::wait(const char* what) {
  if (done()) return;
  check_may_block(what);
  std::unique_lock<std::mutex> lock(mu_);
  ++blocked_getters_;
  cv_.wait(lock, [this] { return done(); });
  --blocked_getters_;
}

bool ConcurrentStateBase::wait_until(TimePoint deadline, const char* what) {
  if (done()) return true;
  check_may_block(what);
  std::unique_lock<std::mutex> lock(mu_);
  ++blocked_getters_;
  bool ok = cv_.wait_until(lock, deadline, [this] { return done(); });
  --blocked_getters_;
  return ok;
}

void ConcurrentStateBase::check_outcome() const {
  if (state() == State::kPending || state() == State::kRunning) {
    throw InvalidStateError(describe() + ": not done yet");  // unreachable after a wait
  }
  if (exception_) std::rethrow_exception(exception_);
}

std::exception_ptr ConcurrentStateBase::exception_or_null() const {
  if (cancelled()) std::rethrow_exception(exception_);
  return exception_;
}

void ConcurrentStateBase::add_done_callback(Callback cb) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!done()) {
      callbacks_.push_back(std::move(cb));
      return;
    }
  }
  std::vector<Callback> now;
  now.push_back(std::move(cb));
  run_callbacks(now);
}

void ConcurrentStateBase::throw_already_done(const char* what) const {
  throw InvalidStateError(absl::StrFormat(
      "%s() on %s: a ConcurrentFuture is completed only once. Check done() first, or use "
      "try_%s(), which returns false when the future is already done (e.g. cancelled)",
      what, describe(), what));
}

void ConcurrentStateBase::throw_timeout(const char* what, Duration timeout) {
  throw TimeoutError(absl::StrFormat(
      "ConcurrentFuture::%s(timeout): not done within %d us; call it again to keep waiting, "
      "or cancel() the future",
      what, std::chrono::duration_cast<std::chrono::microseconds>(timeout).count()));
}

}  // namespace weft::internal
