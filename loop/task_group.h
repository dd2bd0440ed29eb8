// weft::TaskGroup: structured concurrency (asyncio.TaskGroup).
//
//   co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Coro<void> {
//     weft::Task<User> u = tg.create_task(fetch_user(id));
//     tg.create_task(warm_cache());
//     co_await something_else();
//   });   // here every child has finished
//
// task_group(body) runs body(tg) and then waits for every task created through tg. The
// body may return a value; task_group returns it once the children are done.
//
// Failure (asyncio 3.12): the first child that fails with an exception other than
// CancelledError cancels every other child and the body (the body sees CancelledError at
// its current await). The group waits for all of them, then raises one ExceptionGroup
// (exception_group.h) holding every child's error in the order they failed, followed by the
// body's own error if it raised one. Children that were cancelled contribute nothing.
//
// Cancellation: cancelling the task that runs the group cancels the body; the group then
// cancels the children, waits for them, and raises CancelledError - unless a child failed,
// in which case the ExceptionGroup wins (as asyncio) but the cancellation is not lost: it
// is delivered again at the task's next suspension point. A cancellation that arrives
// while the group waits for its children (after the body) also cancels the children.
//
// The group cancels its parent task through the cancel counter and withdraws that request
// (uncancel()) when it exits, so an enclosing timeout() or the task's own cancellation is
// never confused with it.
//
// Ownership: TaskGroup is a reference-counted handle (pass it by value or reference, also
// to the children, which may create siblings). create_task() on a group that has finished,
// or is aborting after a failure or cancellation, raises RuntimeError (the Coro is
// discarded without running). Owning loop only.
#ifndef WEFT_LOOP_TASK_GROUP_H_
#define WEFT_LOOP_TASK_GROUP_H_

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "loop/coro.h"
#include "loop/ensure_future.h"
#include "loop/event_loop.h"
#include "loop/future_base.h"
#include "loop/task.h"
#include "loop/task_base.h"

namespace weft {
namespace internal {

class TaskGroupState final : public WaitCanceller {
 public:
  // Enters a group in the running task (RuntimeError outside a task).
  TaskGroupState();
  TaskGroupState(const TaskGroupState&) = delete;
  TaskGroupState& operator=(const TaskGroupState&) = delete;

  void ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  EventLoop* loop() const { return loop_; }
  // Raises RuntimeError if the group may not create tasks now.
  void check_can_create() const;
  // Takes a new child in.
  void adopt(TaskBase* child);
  size_t num_children() const { return tasks_.size(); }

  // The exit protocol, run by task_group_impl after the body: begin_exit(), then wait
  // until exit_ready() (ExitAwaiter), then finish_exit(), which raises the group's outcome.
  void begin_exit(const std::exception_ptr& body_error);
  bool exit_ready() const { return tasks_.empty(); }
  void wait_for_children(TaskBase& parent);
  void stop_waiting() { waiting_ = false; }
  void finish_exit(const std::exception_ptr& body_error);
  // The coroutine frame running the group went away (a closing loop abandoned it).
  void detach();

  bool cancel_wait(const std::string& msg) override;

 private:
  ~TaskGroupState() = default;
  void on_task_done(TaskBase& child, uint64_t seq);
  void abort();

  std::atomic<uint32_t> refs_{1};
  EventLoop* loop_;
  TaskBase* parent_;
  // Pending children by creation order (abort() cancels them in that order).
  absl::btree_map<uint64_t, TaskBase*> tasks_;
  uint64_t next_seq_ = 0;
  std::vector<std::exception_ptr> errors_;
  std::exception_ptr propagate_cancel_;
  // The message of a cancellation the group absorbed (raising ExceptionGroup instead),
  // to deliver again after the group.
  std::optional<std::string> absorbed_cancel_;
  bool exiting_ = false;
  bool aborting_ = false;
  bool parent_cancel_requested_ = false;
  bool waiting_ = false;
  bool finished_ = false;
  bool detached_ = false;
};

// Waits (as the parent task) until the group has no children left.
class TaskGroupExitAwaiter {
 public:
  explicit TaskGroupExitAwaiter(TaskGroupState* s) : s_(s) {}
  TaskGroupExitAwaiter(const TaskGroupExitAwaiter&) = delete;
  TaskGroupExitAwaiter& operator=(const TaskGroupExitAwaiter&) = delete;
  ~TaskGroupExitAwaiter() { s_->stop_waiting(); }
  bool await_ready() const { return s_->exit_ready(); }
  void await_suspend(TaskBase& parent) { s_->wait_for_children(parent); }
  void await_resume() {}

 private:
  TaskGroupState* s_;
};

template <class R, class F>
Coro<R> task_group_impl(F body);

}  // namespace internal

class TaskGroup {
 public:
  TaskGroup(const TaskGroup& o) : s_(o.s_) { s_->ref(); }
  TaskGroup& operator=(const TaskGroup& o) {
    TaskGroup copy(o);
    std::swap(s_, copy.s_);
    return *this;
  }
  ~TaskGroup() { s_->unref(); }

  // Schedules `coro` as a child of the group (on the group's loop) and returns its Task.
  // Raises RuntimeError if the group has finished or is aborting.
  template <class T>
  Task<T> create_task(Coro<T> coro, std::string_view name = {},
                      const char* file = __builtin_FILE(),
                      unsigned line = __builtin_LINE()) {
    try {
      s_->check_can_create();
    } catch (...) {
      // Close the coroutine without running it, and without "never awaited" noise: the
      // exception says what happened.
      if (coro) coro.release("discarded by a closed TaskGroup").destroy();
      throw;
    }
    Task<T> t = s_->loop()->create_task(std::move(coro), name, file, line);
    s_->adopt(t.base());
    return t;
  }

  // Children not yet done.
  size_t size() const { return s_->num_children(); }

 private:
  template <class R, class F>
  friend Coro<R> internal::task_group_impl(F body);
  explicit TaskGroup(internal::TaskGroupState* adopted) : s_(adopted) {}
  internal::TaskGroupState* state() const { return s_; }

  internal::TaskGroupState* s_;
};

namespace internal {

// Detaches the group from a frame that is destroyed before the group finished.
class TaskGroupFrameGuard {
 public:
  explicit TaskGroupFrameGuard(TaskGroupState* s) : s_(s) {}
  TaskGroupFrameGuard(const TaskGroupFrameGuard&) = delete;
  TaskGroupFrameGuard& operator=(const TaskGroupFrameGuard&) = delete;
  ~TaskGroupFrameGuard() { s_->detach(); }

 private:
  TaskGroupState* s_;
};

template <class F>
using TaskGroupBodyResult = AwaitResult<std::invoke_result_t<F&, TaskGroup&>>;

template <class R, class F>
Coro<R> task_group_impl(F body) {
  TaskGroup tg(new TaskGroupState());
  TaskGroupFrameGuard guard(tg.state());
  std::exception_ptr error;
  std::optional<ResultSlot<R>> result;
  try {
    if constexpr (std::is_void_v<R>) {
      co_await std::invoke(body, tg);
    } else {
      ResultSlot<R> slot;
      slot.set(co_await std::invoke(body, tg));
      result.emplace(std::move(slot));
    }
  } catch (...) {
    error = std::current_exception();
  }
  tg.state()->begin_exit(error);
  {
    TaskGroupExitAwaiter children_done(tg.state());
    co_await children_done;
  }
  tg.state()->finish_exit(error);
  if constexpr (!std::is_void_v<R>) {
    if constexpr (std::is_reference_v<R>) {
      co_return result->get();
    } else {
      co_return std::move(result->get());
    }
  }
}

}  // namespace internal

// Runs body(tg) as a task group; see the file comment. `body` is a callable taking
// TaskGroup& and returning a Coro; it is kept alive until the group has finished.
template <class F>
auto task_group(F body) {
  return internal::task_group_impl<internal::TaskGroupBodyResult<F>>(std::move(body));
}

}  // namespace weft

#endif  // WEFT_LOOP_TASK_GROUP_H_
