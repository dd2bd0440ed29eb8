// ConcurrentFuture<T>: a thread-safe result slot (Python's concurrent.futures.Future).
//
//   weft::ConcurrentFuture<int> f;
//   std::thread producer([f]() mutable { f.set_result(42); });
//   int v = f.get();                       // blocks this (non-loop) thread until it is set
//   int w = f.get(100ms);                  // or raises weft::TimeoutError after 100 ms
//   // Inside a Coro: int x = co_await f;  // waits without blocking the loop (wrap_future)
//   producer.join();
//
// It is how results cross threads that are not on the same loop: run_coroutine_threadsafe
// returns one, wrap_future turns one into a loop Future, and awaiting one inside a Coro is
// `co_await wrap_future(f)`.
//
// States: pending -> (running) -> finished (a value or an exception) or cancelled.
// cancel() succeeds only while pending (not running, not done), as in concurrent.futures.
//
// Ownership: ConcurrentFuture<T> is a reference-counted handle; copies share one state,
// which lives until the last handle (and the last pending bridge) goes. A default-constructed
// ConcurrentFuture is a new pending future; a moved-from one is empty and raises RuntimeError
// when used. get() returns a reference into the shared state: it is valid while some handle
// is. For a move-only T the bridges (co_await, wrap_future) move the value out: such a future
// delivers its value to one consumer.
//
// Thread-safety: every method may be called from any thread. Methods are const: they act on
// the shared state, not on the handle (as std::shared_future). Done-callbacks run in the thread
// that completes the future, or at once in the caller's thread if it is already done
// (concurrent.futures semantics); they must not block for long.
//
// Misuse: set_result/set_exception on a done future raise InvalidStateError (try_set_result /
// try_set_exception return false instead); get()/exception() on a cancelled future raise
// CancelledError. A blocking get() from a thread that runs an event loop would stall that
// loop (and deadlock if the result needs it): it raises RuntimeError instead (a get() of a
// future that is already done returns at once, on any thread); await the future instead. An
// exception thrown by a done-callback is printed and the other callbacks still run.
#ifndef WEFT_SCHEDULER_CONCURRENT_FUTURE_H_
#define WEFT_SCHEDULER_CONCURRENT_FUTURE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "loop/clock.h"
#include "loop/errors.h"
#include "loop/future_base.h"

namespace weft {

template <class T>
class ConcurrentFuture;

namespace internal {

// The untyped half of the shared state: the lock, the state machine, the exception and the
// callbacks. Every transition happens under `mu_`; `state_` is also atomic so that done()
// and the fast paths of get() need no lock (its release store publishes the value).
class ConcurrentStateBase : public std::enable_shared_from_this<ConcurrentStateBase> {
 public:
  enum class State : uint8_t { kPending, kRunning, kCancelled, kFinished };
  using Callback = absl::AnyInvocable<void(ConcurrentStateBase&)>;

  ConcurrentStateBase() = default;
  ConcurrentStateBase(const ConcurrentStateBase&) = delete;
  ConcurrentStateBase& operator=(const ConcurrentStateBase&) = delete;
  virtual ~ConcurrentStateBase();

  State state() const { return state_.load(std::memory_order_acquire); }
  bool done() const {
    State s = state();
    return s == State::kCancelled || s == State::kFinished;
  }
  bool cancelled() const { return state() == State::kCancelled; }
  bool running() const { return state() == State::kRunning; }

  bool cancel();
  bool set_running_or_notify_cancel();
  bool try_set_exception(std::exception_ptr e);

  // Blocks until done (`what` names the caller in error messages).
  void wait(const char* what);
  // Blocks until done or `deadline`; returns done().
  bool wait_until(TimePoint deadline, const char* what);
  // After done: raises CancelledError if cancelled, rethrows the exception if there is one.
  void check_outcome() const;
  // After done: the exception (nullptr for a value); raises CancelledError if cancelled.
  std::exception_ptr exception_or_null() const;
  // After done: the exception if finished with one, else nullptr (no raise).
  const std::exception_ptr& raw_exception() const { return exception_; }

  void add_done_callback(Callback cb);
  std::string describe() const;

  [[noreturn]] void throw_already_done(const char* what) const;
  [[noreturn]] static void throw_timeout(const char* what, Duration timeout);

 protected:
  // Typed setters: lock, check pending, store, then finish_locked.
  std::unique_lock<std::mutex> lock_if_settable();
  // Publishes the final state, wakes blocked getters, runs the callbacks (after unlocking).
  void finish_locked(std::unique_lock<std::mutex>& lock, State final_state);

 private:
  void check_may_block(const char* what) const;
  void run_callbacks(std::vector<Callback>& callbacks);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<State> state_{State::kPending};
  uint32_t blocked_getters_ = 0;  // guarded by mu_: notify only when someone waits
  std::exception_ptr exception_;  // the error, or CancelledError when cancelled
  std::vector<Callback> callbacks_;
};

template <class T>
class ConcurrentState final : public ConcurrentStateBase {
 public:
  template <class... U>
  bool try_set_result(U&&... value) {
    std::unique_lock<std::mutex> lock = lock_if_settable();
    if (!lock.owns_lock()) return false;
    if constexpr (!std::is_void_v<T>) slot_.set(std::forward<U>(value)...);
    finish_locked(lock, State::kFinished);
    return true;
  }
  // After done with a value.
  ResultSlot<T>& slot() { return slot_; }

 private:
  ResultSlot<T> slot_;
};

}  // namespace internal

template <class T = void>
class ConcurrentFuture {
 public:
  using State = internal::ConcurrentState<T>;

  // A new pending future.
  ConcurrentFuture() : s_(std::make_shared<State>()) {}
  ConcurrentFuture(const ConcurrentFuture&) = default;
  ConcurrentFuture(ConcurrentFuture&&) noexcept = default;
  ConcurrentFuture& operator=(const ConcurrentFuture&) = default;
  ConcurrentFuture& operator=(ConcurrentFuture&&) noexcept = default;

  // False for a moved-from handle.
  explicit operator bool() const { return s_ != nullptr; }

  bool done() const { return state().done(); }
  bool cancelled() const { return state().cancelled(); }
  bool running() const { return state().running(); }

  // Cancels a pending future: true if it is (now or already) cancelled, false if it is
  // running or finished.
  bool cancel() const { return state().cancel(); }
  // For executors (concurrent.futures): false if the future was cancelled (the work must not
  // run), true after marking it running (it can no longer be cancelled). Raises
  // InvalidStateError if it is already running or finished.
  bool set_running_or_notify_cancel() const { return state().set_running_or_notify_cancel(); }

  // Blocks until done; returns the value (a reference into the shared state), raises the
  // exception, or CancelledError if cancelled.
  decltype(auto) get() const {
    state().wait("get");
    return value();
  }
  // As get(), but raises TimeoutError if not done within `timeout`.
  template <class Rep, class Period>
  decltype(auto) get(std::chrono::duration<Rep, Period> timeout) const {
    wait_for(timeout, "get");
    return value();
  }

  // Blocks until done; returns the exception, or nullptr if the future has a value. Raises
  // CancelledError if cancelled.
  std::exception_ptr exception() const {
    state().wait("exception");
    return state().exception_or_null();
  }
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    wait_for(timeout, "exception");
    return state().exception_or_null();
  }

  // Completes the future and runs its callbacks. Raise InvalidStateError if it is done.
  template <class U = T>
    requires(!std::is_void_v<T>)
  void set_result(U&& value) const {
    if (!state().try_set_result(std::forward<U>(value))) state().throw_already_done("set_result");
  }
  void set_result() const
    requires std::is_void_v<T>
  {
    if (!state().try_set_result()) state().throw_already_done("set_result");
  }
  void set_exception(std::exception_ptr e) const {
    if (!state().try_set_exception(std::move(e))) state().throw_already_done("set_exception");
  }
  // As above, but return false instead of raising when the future is already done (for
  // producers that race with a cancel()).
  template <class U = T>
    requires(!std::is_void_v<T>)
  bool try_set_result(U&& value) const {
    return state().try_set_result(std::forward<U>(value));
  }
  bool try_set_result() const
    requires std::is_void_v<T>
  {
    return state().try_set_result();
  }
  bool try_set_exception(std::exception_ptr e) const { return state().try_set_exception(std::move(e)); }

  // fn(ConcurrentFuture<T>&) runs once the future is done: in the thread that completes it,
  // or at once in this thread if it already is.
  template <class F>
  void add_done_callback(F fn) const {
    state().add_done_callback(
        [fn = std::move(fn)](internal::ConcurrentStateBase& base) mutable {
          ConcurrentFuture f(std::static_pointer_cast<State>(base.shared_from_this()));
          fn(f);
        });
  }

  // Inside a Coro: `co_await f` is `co_await wrap_future(f)` (wrap_future.h): the task waits
  // without blocking its loop. Cancelling the task cancels f.
  auto operator co_await() const;

  // For weft's bridges.
  const std::shared_ptr<State>& shared_state() const { return s_; }
  explicit ConcurrentFuture(std::shared_ptr<State> s) : s_(std::move(s)) {}

 private:
  State& state() const {
    if (!s_) throw_empty();
    return *s_;
  }
  [[noreturn]] static void throw_empty() {
    throw RuntimeError(
        "this ConcurrentFuture is empty (moved-from): use the handle it was moved to, or a "
        "copy taken before the move");
  }
  template <class Rep, class Period>
  void wait_for(std::chrono::duration<Rep, Period> timeout, const char* what) const {
    Duration d = std::chrono::ceil<Duration>(timeout);
    if (!state().wait_until(Clock::now() + d, what)) State::throw_timeout(what, d);
  }
  decltype(auto) value() const {
    state().check_outcome();
    if constexpr (std::is_void_v<T>) {
      return;
    } else if constexpr (std::is_reference_v<T>) {
      return s_->slot().get();
    } else {
      return static_cast<const T&>(s_->slot().get());
    }
  }

  std::shared_ptr<State> s_;
};

}  // namespace weft

#include "scheduler/wrap_future.h"

#endif  // WEFT_SCHEDULER_CONCURRENT_FUTURE_H_
