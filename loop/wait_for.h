// weft::wait_for: await something with a time limit (asyncio.wait_for).
//
//   try {
//     Reply r = co_await weft::wait_for(fetch(url), 2s);
//   } catch (const weft::TimeoutError&) { ... }
//
// Takes a Coro<T> (run as a new Task when the wait_for is awaited), a Task<T>, a Future<T>
// or any other awaitable (wrapped in a Task), and a timeout (std::nullopt: no limit).
//
// When the timeout elapses, the inner task is cancelled and wait_for waits until it has
// really finished (its cleanup included), then raises TimeoutError. If the inner task
// swallows the cancellation and returns a value, that value is returned; if it fails
// during its cleanup, that exception propagates (both as asyncio 3.12). A timeout of zero
// or less cancels at once unless the inner is already done.
//
// Cancelling the task that awaits wait_for cancels the inner task too, waits for it, and
// raises CancelledError. The outer cancellation is never lost (asyncio's gh-86296): not
// when the inner completes in the same loop iteration, and - beyond asyncio 3.12 - not
// when the inner swallows the cancellation and returns a value (that value is dropped). An
// exception the inner raises meanwhile goes to the loop's exception handler.
//
// The result is moved out of a task wait_for created or of a handle passed as an rvalue;
// copied from a Task passed as an lvalue. Owning loop only.
#ifndef WEFT_LOOP_WAIT_FOR_H_
#define WEFT_LOOP_WAIT_FOR_H_

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "loop/clock.h"
#include "loop/coro.h"
#include "loop/deferred_timer.h"
#include "loop/ensure_future.h"
#include "loop/future_awaiter.h"
#include "loop/future_base.h"
#include "loop/task_base.h"

namespace weft {
namespace internal {

// Waits for `inner` with a deadline, on behalf of the awaiting task. Awaited as an lvalue.
class WaitForAwaiter final : public WaitCanceller, public DeferredTimer {
 public:
  WaitForAwaiter(FutureBase* inner, std::optional<Duration> timeout)
      : inner_(inner), timeout_(timeout) {}
  WaitForAwaiter(const WaitForAwaiter&) = delete;
  WaitForAwaiter& operator=(const WaitForAwaiter&) = delete;
  ~WaitForAwaiter();

  bool await_ready() const { return inner_->done(); }
  bool await_suspend(TaskBase& task);
  // Raises TimeoutError if the deadline cancelled the inner; otherwise returns and the
  // caller takes the inner's result (which may rethrow its exception).
  void await_resume();

  bool cancel_wait(const std::string& msg) override;
  void on_expire() override;

 private:
  void expire();

  FutureBase* inner_;
  std::optional<Duration> timeout_;
  TaskBase* task_ = nullptr;
  bool waiting_ = false;
  bool expired_ = false;  // the deadline cancelled the inner
  bool outer_cancelled_ = false;
  bool resumed_ = false;
};

template <class C>
Coro<typename C::Value> wait_for_child(C child, std::optional<Duration> timeout) {
  WaitForAwaiter awaiter(child.base(), timeout);
  co_await awaiter;
  if constexpr (std::is_void_v<typename C::Value>) {
    child.take();
  } else {
    co_return child.take();
  }
}

template <class T>
Coro<T> wait_for_coro(Coro<T> coro, std::optional<Duration> timeout) {
  auto child = ensure_future(std::move(coro));
  WaitForAwaiter awaiter(child.base(), timeout);
  co_await awaiter;
  if constexpr (std::is_void_v<T>) {
    child.take();
  } else {
    co_return child.take();
  }
}

}  // namespace internal

template <class A>
auto wait_for(A&& awaitable, std::optional<Duration> timeout) {
  using D = std::remove_cvref_t<A>;
  if constexpr (internal::IsTask<D>::value || internal::IsFuture<D>::value) {
    return internal::wait_for_child(internal::ensure_future(std::forward<A>(awaitable)), timeout);
  } else if constexpr (internal::IsCoro<D>::value) {
    // Lazy, as asyncio's coroutine wait_for: the Task starts when this is awaited.
    return internal::wait_for_coro(D(std::forward<A>(awaitable)), timeout);
  } else {
    return internal::wait_for_coro(internal::await_in_task<D>(D(std::forward<A>(awaitable))),
                                   timeout);
  }
}

}  // namespace weft

#endif  // WEFT_LOOP_WAIT_FOR_H_
