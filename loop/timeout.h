// weft::timeout / weft::timeout_at: a deadline around a block of awaits (asyncio.timeout,
// asyncio.timeout_at).
//
//   // The block is a callable returning a Coro; it may take the scope to inspect or move
//   // the deadline:
//   Reply r = co_await weft::timeout(2s, [&](weft::Timeout& scope) -> weft::Coro<Reply> {
//     co_await connect();
//     scope.reschedule(scope.when().value() + 1s);   // more time for the slow part
//     co_return co_await read_reply();
//   });
//   co_await weft::timeout(100ms, [&]() -> weft::Coro<void> { co_await step(); });
//   int n = co_await weft::timeout_at(deadline, count_rows());     // or a Coro (or any
//                                                                  // other awaitable)
//
// When the deadline passes, the task running the block is cancelled (Task::cancel());
// when the CancelledError comes out of the block, the scope turns it into TimeoutError.
// Nested scopes work as in asyncio, through the task's cancel counter: each scope records
// task.cancelling() on entry and, when it has expired, calls uncancel() on exit and turns
// CancelledError into TimeoutError only if no other cancellation is pending. So an outer
// scope's expiry passes through an inner scope as CancelledError, and a real cancellation
// of the task is never turned into a timeout. If the block catches the cancellation and
// returns normally, its value is returned (expired() tells).
//
// Why a callable, not an RAII object: C++ has no `async with`, and a destructor cannot
// co_await or decide what to raise, so a scope object would need a matching
// `co_await scope.exit()` that a thrown exception would skip. Taking the block as a
// callable makes entry and exit impossible to mismatch.
//
// The Timeout& given to the block is valid for the duration of the block only. The
// deadline is computed when the returned Coro starts (when it is awaited); std::nullopt
// means no deadline (until reschedule()). Must run inside a Task (RuntimeError otherwise).
// Owning loop only.
#ifndef WEFT_LOOP_TIMEOUT_H_
#define WEFT_LOOP_TIMEOUT_H_

#include <concepts>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "loop/clock.h"
#include "loop/coro.h"
#include "loop/deferred_timer.h"
#include "loop/ensure_future.h"
#include "loop/future_base.h"
#include "loop/task_base.h"

namespace weft {

namespace internal {
template <class R, class F>
Coro<R> timeout_impl(std::optional<Duration> delay, std::optional<TimePoint> when, F body);
}  // namespace internal

class Timeout final : private internal::DeferredTimer {
 public:
  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;
  ~Timeout() = default;

  // The deadline on the loop's clock, or std::nullopt if there is none.
  std::optional<TimePoint> when() const { return when_; }
  // Moves the deadline (std::nullopt: none). A deadline in the past expires the scope at
  // the next loop iteration. Raises RuntimeError once the scope is expiring or has exited.
  void reschedule(std::optional<TimePoint> when);
  // True once the deadline has passed (the scope cancelled its task).
  bool expired() const { return state_ == State::kExpiring || state_ == State::kExpired; }

 private:
  template <class R, class F>
  friend Coro<R> internal::timeout_impl(std::optional<Duration> delay,
                                        std::optional<TimePoint> when, F body);

  // Enters the scope in `task`.
  Timeout(internal::TaskBase* task, std::optional<TimePoint> when);
  // Leaves the scope; `error` is what the block raised (or null). Rethrows it, or raises
  // TimeoutError in its place when this scope's expiry caused it.
  void exit(std::exception_ptr error);

  enum class State { kEntered, kExpiring, kExpired, kExited };
  void on_expire() override;
  void arm_deadline();

  internal::TaskBase* task_;
  std::optional<TimePoint> when_;
  int cancelling_;
  State state_ = State::kEntered;
};

namespace internal {

// What the block is: a callable taking Timeout&, a callable taking nothing, or a Coro.
template <class F>
auto start_timeout_body(F& body, Timeout& scope) {
  if constexpr (std::invocable<F&, Timeout&>) {
    return std::invoke(body, scope);
  } else if constexpr (std::invocable<F&>) {
    return std::invoke(body);
  } else {
    static_assert(CoroAwaitable<F&&>,
                  "the block of timeout()/timeout_at() must be a callable returning a Coro "
                  "(taking Timeout& or nothing), a Coro, or another awaitable");
    return std::move(body);
  }
}

template <class F>
using TimeoutBodyResult =
    AwaitResult<decltype(start_timeout_body(std::declval<F&>(), std::declval<Timeout&>()))>;

TaskBase* task_for_timeout();
TimePoint loop_time();

template <class R, class F>
Coro<R> timeout_impl(std::optional<Duration> delay, std::optional<TimePoint> when, F body) {
  TaskBase* task = task_for_timeout();
  if (delay) when = loop_time() + *delay;
  Timeout scope(task, when);
  std::exception_ptr error;
  if constexpr (std::is_void_v<R>) {
    try {
      co_await start_timeout_body(body, scope);
    } catch (...) {
      error = std::current_exception();
    }
    scope.exit(std::move(error));
  } else {
    ResultSlot<R> result;
    try {
      result.set(co_await start_timeout_body(body, scope));
    } catch (...) {
      error = std::current_exception();
    }
    scope.exit(std::move(error));
    if constexpr (std::is_reference_v<R>) {
      co_return result.get();
    } else {
      co_return std::move(result.get());
    }
  }
}

}  // namespace internal

// A scope that expires `delay` after it starts (std::nullopt: never, until rescheduled).
template <class F>
auto timeout(std::optional<Duration> delay, F body) {
  using R = internal::TimeoutBodyResult<F>;
  return internal::timeout_impl<R>(delay, std::nullopt, std::move(body));
}

// A scope that expires at `when` on the loop's clock (std::nullopt: never, until
// rescheduled).
template <class F>
auto timeout_at(std::optional<TimePoint> when, F body) {
  using R = internal::TimeoutBodyResult<F>;
  return internal::timeout_impl<R>(std::nullopt, when, std::move(body));
}

}  // namespace weft

#endif  // WEFT_LOOP_TIMEOUT_H_
