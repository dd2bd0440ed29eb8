// FutureAwaiter: how a task awaits a Future or another Task (internal).
//
// If the future is done, no suspension. Otherwise the task registers as a waiter and is
// woken when the future completes. Cancelling the awaiting task cancels the awaited future
// (asyncio: Task.cancel() cancels its _fut_waiter), which is how cancellation travels down
// a chain of awaited tasks; shield() exists to stop it.
//
// Across loops. A shared future (a spawned task) is registered on directly, under its lock.
// A plain future of another loop is registered on from its own thread: the registration is
// posted with call_soon_threadsafe. Cancelling a task in such a cross-loop wait posts the
// cancellation of the awaited future to its loop *and* marks the task to raise
// CancelledError when it resumes, so the request is never lost even if the future completes
// first (asyncio lets an awaited task that swallows the cancellation win; across threads we
// cannot know in time, and losing a cancellation is the worse error).
//
// References. Awaiting a named handle (`co_await t`, an lvalue) borrows the handle's
// reference for as long as nothing else can run on this thread: the handle outlives the
// co_await expression, so a future that is already done costs no reference count at all
// (skynet, W10: nine awaits in ten; each count is an atomic read-modify-write). The awaiter
// takes a reference of its own in await_suspend, before anything else runs (a nested
// fork-join step, or other tasks while it is suspended) that could drop the handle, e.g.
// `co_await member` with the member reassigned meanwhile. An rvalue handle may be a
// temporary that dies before the awaiter does (`return make_future().operator co_await();`
// in a user's awaitable), so awaiting one takes the reference at once. A task that never
// leaves its loop, awaiting a plain future of that loop, pins the future instead of taking
// a reference (FutureBase, "Awaiter pins"): no locked instruction on the loop's thread.
#ifndef WEFT_LOOP_FUTURE_AWAITER_H_
#define WEFT_LOOP_FUTURE_AWAITER_H_

#include <string>
#include <type_traits>
#include <utility>

#include "loop/errors.h"
#include "loop/future_base.h"
#include "loop/task_base.h"

namespace weft {
class EventLoop;
}

namespace weft::internal {

[[noreturn]] void throw_self_await(TaskBase& task);
// Whether the calling thread runs `loop`.
bool on_loop_thread(const EventLoop* loop);
// Registers `task` as a waiter of `future` from the future's own loop thread.
void register_waiter_remotely(FutureBase* future, TaskBase* task);
// Cancels `future` from its own loop thread.
void cancel_remotely(FutureBase* future, const std::string& msg);
// `future` for the task dump: its description on its own loop; from another loop only what
// cannot change under our feet (a task's id and coroutine), and which loop it is on.
std::string describe_awaited(const FutureBase* future);

// `State` is FutureState<T> or TaskState<T>; it has FutureBase as a base and a
// ResultSlot<T> reachable as slot(). `kMove`: the awaited handle was an rvalue, so the
// value is moved out rather than copied.
template <class State, class T, bool kMove>
class FutureAwaiter final : public WaitCanceller {
 public:
  // Awaiting an lvalue borrows the handle's reference until await_suspend (see the file
  // comment).
  explicit FutureAwaiter(State* state) : state_(state) {
    if constexpr (kMove) {
      state_->ref();
      owns_ref_ = true;
    }
  }
  FutureAwaiter(FutureAwaiter&& other) noexcept
      : state_(std::exchange(other.state_, nullptr)),
        task_(std::exchange(other.task_, nullptr)),
        remote_(other.remote_),
        owns_ref_(std::exchange(other.owns_ref_, false)),
        pinned_(std::exchange(other.pinned_, false)) {}
  FutureAwaiter(const FutureAwaiter&) = delete;
  // Inline: the pinned path after a resumption is a load and a store, less than a call.
  [[gnu::always_inline]] ~FutureAwaiter() {
    if (task_) [[unlikely]] {
      // The awaiting frame is being destroyed while suspended (its task was abandoned).
      if (!remote_ && !state_->done()) state_->remove_waiter(task_);
    }
    // On the future's loop (the awaiting task never leaves it), or the thread closing it.
    if (pinned_) {
      state_->unpin_awaiter();  // may delete the future
    } else if (owns_ref_) {
      state_->unref();
    }
  }

  bool await_ready() const noexcept { return state_->done(); }
  bool await_suspend(TaskBase& task) {
    if (static_cast<FutureBase*>(state_) == static_cast<FutureBase*>(&task)) {
      throw_self_await(task);
    }
    if constexpr (std::is_base_of_v<TaskBase, State>) {
      // Fork-join, the awaited child next in line: run it here, and get the loop's
      // reference from it rather than a reference of our own (TaskBase's comment).
      if (!owns_ref_ && state_->spawned() && !state_->started() &&
          TaskBase::run_awaited_handing_ref(task, *state_)) {
        owns_ref_ = true;
        if (state_->done()) return false;
      }
    }
    // From here on other code may run on this thread before await_resume: keep the future
    // alive (the pin's ordering argument needs it stored before anything else runs).
    if (!owns_ref_) {
      if (!state_->shared() && task.stays_on_its_loop() && task.loop() == state_->loop() &&
          state_->try_pin_awaiter()) {
        pinned_ = true;
      } else {
        state_->ref();
        owns_ref_ = true;
      }
    }
    if constexpr (std::is_base_of_v<TaskBase, State>) {
      // Fork-join: an awaited spawned task that has not started runs here and now.
      if (state_->spawned() && !state_->started() &&
          TaskBase::run_awaited_inline(task, *state_)) {
        return false;
      }
    }
    if (state_->shared() || on_loop_thread(state_->loop())) {
      if (!state_->add_waiter(&task)) return false;  // completed meanwhile: resume at once
    } else {
      remote_ = true;
      register_waiter_remotely(state_, &task);
    }
    task_ = &task;
    task.set_waiting_on(this);
    return true;
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

  std::string describe_wait() const override { return describe_awaited(state_); }

  bool cancel_wait(const std::string& msg) override {
    if (!remote_) return state_->cancel(msg);
    cancel_remotely(state_, msg);
    return false;  // and raise CancelledError at resumption whatever the future does
  }

 private:
  State* state_;
  TaskBase* task_ = nullptr;
  bool remote_ = false;
  bool owns_ref_ = false;  // at once for an rvalue, else in await_suspend
  bool pinned_ = false;    // instead of owns_ref_ (see the file comment)
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_FUTURE_AWAITER_H_
