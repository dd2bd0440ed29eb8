// weft::shield: await something without letting a cancellation of the awaiting task reach
// it (asyncio.shield).
//
//   Task<Receipt> payment = weft::create_task(charge(card));
//   Receipt r = co_await weft::shield(payment);     // cancel us: the charge goes on
//   co_await weft::wait_for(weft::shield(save(doc)), 1s);   // time out, keep saving
//
// Takes a Coro<T> (scheduled as a Task at once, as asyncio.ensure_future does), a Task<T>,
// a Future<T>, or any other awaitable (wrapped in a Task). If the awaiting task is
// cancelled, the await raises CancelledError at once and the inner goes on running; its
// eventual exception is then marked retrieved, so it is not reported as "never retrieved"
// (as asyncio; keep the Task handle and await it if you need that error). If the inner is
// cancelled by someone else, the await raises CancelledError as usual.
//
// The result is moved out of a task shield created or of a handle passed as an rvalue;
// copied from a Task passed as an lvalue. Owning loop only.
#ifndef WEFT_LOOP_SHIELD_H_
#define WEFT_LOOP_SHIELD_H_

#include <string>
#include <type_traits>
#include <utility>

#include "loop/coro.h"
#include "loop/ensure_future.h"
#include "loop/future_awaiter.h"
#include "loop/future_base.h"
#include "loop/task_base.h"

namespace weft {
namespace internal {

// Waits for `inner` as a plain waiter; a cancel of the awaiting task detaches it instead of
// travelling on. Awaited as an lvalue.
class ShieldAwaiter final : public WaitCanceller {
 public:
  explicit ShieldAwaiter(FutureBase* inner) : inner_(inner) {}
  ShieldAwaiter(const ShieldAwaiter&) = delete;
  ShieldAwaiter& operator=(const ShieldAwaiter&) = delete;
  ~ShieldAwaiter() {
    if (waiting_ && !inner_->done()) inner_->remove_waiter(task_);
  }

  bool await_ready() const { return inner_->done(); }
  void await_suspend(TaskBase& task) {
    if (inner_ == static_cast<FutureBase*>(&task)) throw_self_await(task);
    task_ = &task;
    inner_->add_waiter(&task);
    waiting_ = true;
    task.set_waiting_on(this);
  }
  void await_resume() { waiting_ = false; }

  bool cancel_wait(const std::string& msg) override {
    inner_->remove_waiter(task_);
    waiting_ = false;
    inner_->mark_retrieved();
    task_->request_cancel_delivery(msg);
    task_->wake_from_wait();
    return true;
  }

 private:
  FutureBase* inner_;
  TaskBase* task_ = nullptr;
  bool waiting_ = false;
};

template <class C>
Coro<typename C::Value> shield_child(C child) {
  ShieldAwaiter awaiter(child.base());
  co_await awaiter;
  if constexpr (std::is_void_v<typename C::Value>) {
    child.take();
  } else {
    co_return child.take();
  }
}

}  // namespace internal

template <class A>
auto shield(A&& awaitable) {
  return internal::shield_child(internal::ensure_future(std::forward<A>(awaitable)));
}

}  // namespace weft

#endif  // WEFT_LOOP_SHIELD_H_
