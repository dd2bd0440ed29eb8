#include "loop/gather.h"

#include "loop/report.h"

namespace weft::internal {

bool GatherAwaiter::await_ready() {
  size_t pending = 0;
  for (size_t i = 0; i < n_; ++i) {
    FutureBase* c = children_[i];
    if (!c->done()) {
      ++pending;
    } else if (!first_failure_ && fails_gather(*c)) {
      first_failure_ = c;
    }
  }
  return pending == 0 || first_failure_ != nullptr;
}

bool GatherAwaiter::await_suspend(TaskBase& task) {
  task_ = &task;
  // Counted again, not carried over from await_ready: a spawned child can finish on another
  // loop in between, and a child counted as pending but never watched would leave the gather
  // waiting forever. Every child watched here is reported exactly once (a child that
  // finishes while being watched is reported through an at-once callback).
  pending_ = 0;
  for (size_t i = 0; i < n_; ++i) {
    FutureBase* c = children_[i];
    if (!c->done()) {
      watch_.watch(c);
      ++pending_;
    } else if (!first_failure_ && fails_gather(*c)) {
      first_failure_ = c;
    }
  }
  if (pending_ == 0 || first_failure_ != nullptr) {
    watch_.stop();
    return false;  // finished in the meantime: resume at once
  }
  task.set_waiting_on(this);
  return true;
}

void GatherAwaiter::on_done(FutureBase& f, uint32_t) {
  --pending_;
  if (finished_) return;
  if (!cancel_requested_ && fails_gather(f)) {
    first_failure_ = &f;
    finish();
  } else if (pending_ == 0) {
    finish();
  }
}

void GatherAwaiter::finish() {
  finished_ = true;
  watch_.stop();
  task_->wake_from_wait();
}

GatherAwaiter::~GatherAwaiter() {
  // Not resumed normally: CancelledError is what the awaiting task sees, so a child's own
  // error must not vanish with it.
  if (!cancel_requested_ || resumed_) return;
  for (size_t i = 0; i < n_; ++i) {
    if (children_[i]->has_exception()) {
      report_child_exception(*children_[i],
                             "gather() was cancelled, and this child failed meanwhile (its "
                             "exception cannot propagate: CancelledError does)");
    }
  }
}

bool GatherAwaiter::cancel_wait(const std::string& msg) {
  bool any = false;
  for (size_t i = 0; i < n_; ++i) {
    if (!children_[i]->done() && children_[i]->cancel(msg)) any = true;
  }
  // Nothing left to cancel (every child is done, the wake-up is on its way): the core
  // delivers the cancellation when the task resumes.
  if (!any) return false;
  cancel_requested_ = true;
  task_->request_cancel_delivery(msg);
  return true;
}

void GatherAwaiter::await_resume() {
  resumed_ = true;
  watch_.stop();
  if (first_failure_) first_failure_->check_result();
}

}  // namespace weft::internal
