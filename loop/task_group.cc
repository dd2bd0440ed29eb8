#include "loop/task_group.h"

#include "loop/errors.h"
#include "loop/exception_group.h"
#include "loop/report.h"

namespace weft::internal {
namespace {

std::string cancel_message(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError& c) {
    return c.message();
  } catch (...) {
    return "";
  }
}

// What a child's done-callback holds: 8 bytes, stored inline by the callback.
class StateRef {
 public:
  explicit StateRef(TaskGroupState* s) : s_(s) { s_->ref(); }
  StateRef(StateRef&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  StateRef(const StateRef&) = delete;
  ~StateRef() {
    if (s_) s_->unref();
  }
  TaskGroupState* operator->() const { return s_; }

 private:
  TaskGroupState* s_;
};

}  // namespace

TaskGroupState::TaskGroupState() : loop_(&EventLoop::current()), parent_(current_task_or_null()) {
  if (!parent_) {
    throw RuntimeError(
        "task_group() must run inside a Task: the group cancels the task that runs its body "
        "when a child fails. Await it from a coroutine run by weft::run, create_task or "
        "run_until_complete");
  }
}

void TaskGroupState::check_can_create() const {
  if (finished_ || detached_ || (exiting_ && tasks_.empty())) {
    throw RuntimeError(
        "TaskGroup::create_task(): this TaskGroup has finished; its body and children are "
        "done. Create the task inside the group's body (or in one of its children), or use "
        "weft::create_task");
  }
  if (aborting_) {
    throw RuntimeError(
        "TaskGroup::create_task(): this TaskGroup is shutting down (a child failed or the "
        "group was cancelled) and accepts no new tasks");
  }
}

void TaskGroupState::adopt(TaskBase* child) {
  uint64_t seq = next_seq_++;
  tasks_.emplace(seq, child);
  child->add_done_callback([self = StateRef(this), seq](FutureBase& f) {
    self->on_task_done(static_cast<TaskBase&>(f), seq);
  });
}

void TaskGroupState::on_task_done(TaskBase& child, uint64_t seq) {
  tasks_.erase(seq);
  if (waiting_ && tasks_.empty()) {
    waiting_ = false;
    parent_->wake_from_wait();
  }
  if (child.cancelled() || !child.has_exception()) return;
  if (detached_) {
    report_child_exception(child, "a TaskGroup child failed after the group was abandoned");
    return;
  }
  errors_.push_back(child.exception());  // marks it retrieved
  if (!aborting_ && !parent_cancel_requested_) {
    abort();
    // Interrupt the body where it is. Once the body has finished there is nothing to
    // interrupt: asyncio 3.12 cancels the parent anyway and never withdraws that request.
    if (!exiting_) {
      parent_cancel_requested_ = true;
      parent_->cancel("");
    }
  }
}

void TaskGroupState::abort() {
  aborting_ = true;
  // Cancelling may not complete a task synchronously, but copy anyway: a Future-like child
  // could, and its callback (scheduled, not run) would then edit the set.
  std::vector<TaskBase*> children;
  children.reserve(tasks_.size());
  for (const auto& [seq, t] : tasks_) children.push_back(t);
  for (TaskBase* t : children) {
    if (!t->done()) t->cancel("");
  }
}

void TaskGroupState::begin_exit(const std::exception_ptr& body_error) {
  exiting_ = true;
  if (body_error && is_cancelled_error(body_error)) propagate_cancel_ = body_error;
  if (parent_cancel_requested_) {
    // The group's own cancel of the parent: withdraw it. CancelledError propagates only if
    // someone else cancelled the task too.
    if (parent_->uncancel() == 0) propagate_cancel_ = nullptr;
  }
  if (body_error && !aborting_) abort();
}

void TaskGroupState::wait_for_children(TaskBase& parent) {
  waiting_ = true;
  parent.set_waiting_on(this);
}

bool TaskGroupState::cancel_wait(const std::string& msg) {
  // The parent is cancelled while it waits for the children: cancel them and keep waiting
  // (asyncio catches the CancelledError and loops). Unlike asyncio, a cancellation that
  // arrives while the group is already aborting is remembered, not dropped.
  if (!aborting_) {
    propagate_cancel_ = std::make_exception_ptr(CancelledError(msg));
    abort();
  } else if (!propagate_cancel_) {
    absorbed_cancel_ = msg;
  }
  return true;
}

void TaskGroupState::finish_exit(const std::exception_ptr& body_error) {
  finished_ = true;
  if (propagate_cancel_ && errors_.empty()) std::rethrow_exception(propagate_cancel_);
  if (body_error && !is_cancelled_error(body_error)) errors_.push_back(body_error);
  if (errors_.empty()) return;
  if (propagate_cancel_) absorbed_cancel_ = cancel_message(propagate_cancel_);
  if (absorbed_cancel_) {
    // The errors take priority (as asyncio), but the task's cancellation must not vanish:
    // it is delivered at the task's next suspension point.
    parent_->request_cancel_delivery(*absorbed_cancel_);
  }
  std::vector<std::exception_ptr> errors = std::move(errors_);
  errors_.clear();
  throw ExceptionGroup("unhandled errors in a TaskGroup", std::move(errors));
}

void TaskGroupState::detach() {
  if (finished_) return;
  detached_ = true;
  waiting_ = false;
}

}  // namespace weft::internal
