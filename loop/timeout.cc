#include "loop/timeout.h"

#include "loop/errors.h"
#include "loop/event_loop.h"

namespace weft {

namespace internal {

TaskBase* task_for_timeout() {
  TaskBase* task = current_task_or_null();
  if (!task) {
    throw RuntimeError(
        "timeout()/timeout_at() must run inside a Task: the deadline cancels the task that "
        "runs the block. Await it from a coroutine run by weft::run, create_task or "
        "run_until_complete");
  }
  return task;
}

TimePoint loop_time() { return EventLoop::current().time(); }

}  // namespace internal

Timeout::Timeout(internal::TaskBase* task, std::optional<TimePoint> when)
    : task_(task), when_(when), cancelling_(task->cancelling()) {
  arm_deadline();
}

void Timeout::arm_deadline() {
  if (when_) {
    EventLoop* loop = task_->loop();
    if (*when_ <= loop->time()) {
      // Already past: expire from the ready queue, after what is there now but before the
      // block's first suspension resumes (asyncio schedules _on_timeout with call_soon).
      fire_soon(loop);
    } else {
      arm(loop, *when_);
    }
  } else {
    disarm();
  }
}

void Timeout::reschedule(std::optional<TimePoint> when) {
  switch (state_) {
    case State::kEntered:
      break;
    case State::kExpiring:
    case State::kExpired:
      throw RuntimeError(
          "Timeout::reschedule(): this timeout has already expired and cancelled its task; a "
          "deadline cannot be moved once it has passed. Use a new timeout() scope");
    case State::kExited:
      throw RuntimeError(
          "Timeout::reschedule(): this timeout's block has already finished; reschedule only "
          "from inside the block");
  }
  when_ = when;
  arm_deadline();
}

void Timeout::on_expire() {
  state_ = State::kExpiring;
  task_->cancel("");
}

void Timeout::exit(std::exception_ptr error) {
  disarm();
  if (state_ == State::kExpiring) {
    state_ = State::kExpired;
    // Only if no other cancellation is pending was the CancelledError ours to convert.
    if (task_->uncancel() <= cancelling_ && error && internal::is_cancelled_error(error)) {
      throw TimeoutError("timeout(): the deadline passed; the block was cancelled");
    }
  } else if (state_ == State::kEntered) {
    state_ = State::kExited;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace weft
