// FutureAwaiter: how a task awaits a Future or another Task (internal).
//
// If the future is done, no suspension. Otherwise the task registers as a waiter and is
// woken when the future completes. Cancelling the awaiting task cancels the awaited future
// (asyncio: Task.cancel() cancels its _fut_waiter), which is how cancellation travels down
// a chain of awaited tasks; shield() exists to stop it.
#ifndef WEFT_LOOP_FUTURE_AWAITER_H_
#define WEFT_LOOP_FUTURE_AWAITER_H_

#include <string>
#include <type_traits>
#include <utility>

#include "loop/errors.h"
#include "loop/future_base.h"
#include "loop/task_base.h"

namespace weft::internal {

[[noreturn]] void throw_self_await(TaskBase& task);

// `State` is FutureState<T> or TaskState<T>; it has FutureBase as a base and a
// ResultSlot<T> reachable as slot(). `kMove`: the awaited handle was an rvalue, so the
// value is moved out rather than copied.
template <class State, class T, bool kMove>
class FutureAwaiter final : public WaitCanceller {
 public:
  explicit FutureAwaiter(State* state) : state_(state) { state_->ref(); }
  FutureAwaiter(FutureAwaiter&& other) noexcept
      : state_(std::exchange(other.state_, nullptr)), task_(std::exchange(other.task_, nullptr)) {}
  FutureAwaiter(const FutureAwaiter&) = delete;
  ~FutureAwaiter() {
    if (!state_) return;
    // The awaiting frame is being destroyed while suspended (its task was abandoned).
    if (task_ && !state_->done()) state_->remove_waiter(task_);
    state_->unref();
  }

  bool await_ready() const noexcept { return state_->done(); }
  void await_suspend(TaskBase& task) {
    if (static_cast<FutureBase*>(state_) == static_cast<FutureBase*>(&task)) {
      throw_self_await(task);
    }
    task_ = &task;
    state_->add_waiter(&task);
    task.set_waiting_on(this);
  }
  T await_resume() {
    task_ = nullptr;
    state_->check_result();
    if constexpr (std::is_void_v<T>) {
      return;
    } else if constexpr (std::is_reference_v<T>) {
      return state_->slot().get();
    } else if constexpr (kMove || !std::is_copy_constructible_v<T>) {
      return std::move(state_->slot().get());
    } else {
      return state_->slot().get();
    }
  }

  bool cancel_wait(const std::string& msg) override { return state_->cancel(msg); }

 private:
  State* state_;
  TaskBase* task_ = nullptr;
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_FUTURE_AWAITER_H_
