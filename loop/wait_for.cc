#include "loop/wait_for.h"

#include "loop/errors.h"
#include "loop/event_loop.h"
#include "loop/report.h"

namespace weft::internal {

WaitForAwaiter::~WaitForAwaiter() {
  if (waiting_ && !inner_->done()) inner_->remove_waiter(task_);  // the frame was abandoned
  // Cancelled, and CancelledError propagates (not resumed normally): the inner's own error
  // has nowhere else to go.
  if (outer_cancelled_ && !resumed_ && inner_->has_exception()) {
    report_child_exception(*inner_,
                           "wait_for() was cancelled, and the awaited task failed meanwhile (its "
                           "exception cannot propagate: CancelledError does)");
  }
}

bool WaitForAwaiter::await_suspend(TaskBase& task) {
  if (inner_ == static_cast<FutureBase*>(&task)) throw_self_await(task);
  task_ = &task;
  if (timeout_ && *timeout_ <= Duration::zero()) {
    expire();
    if (inner_->done()) return false;  // a Future is cancelled on the spot
  }
  inner_->add_waiter(&task);
  waiting_ = true;
  if (timeout_ && !expired_) arm(task.loop(), task.loop()->time() + *timeout_);
  task.set_waiting_on(this);
  return true;
}

void WaitForAwaiter::expire() {
  // Only a cancellation that took effect counts: if the inner finished first, its outcome
  // stands.
  expired_ = inner_->cancel("");
}

void WaitForAwaiter::on_expire() { expire(); }

bool WaitForAwaiter::cancel_wait(const std::string& msg) {
  // Keep waiting for the inner to finish, then raise CancelledError whatever it did.
  outer_cancelled_ = true;
  disarm();
  inner_->cancel(msg);
  task_->request_cancel_delivery(msg);
  return true;
}

void WaitForAwaiter::await_resume() {
  resumed_ = true;
  waiting_ = false;
  disarm();
  if (expired_ && inner_->cancelled()) {
    inner_->mark_retrieved();
    throw TimeoutError("wait_for(): the timeout elapsed; the awaited task was cancelled");
  }
}

}  // namespace weft::internal
