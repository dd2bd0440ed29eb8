#include "sync/internal/waiter_list.h"

#include <cassert>
#include <utility>

#include "loop/errors.h"
#include "loop/event_loop.h"

namespace weft::internal {

Waiter::Waiter(Waiter&& other) noexcept {
  // An awaiter is moved only on its way to being awaited (e.g. into a wait_for).
  assert(other.list_ == nullptr && other.state_ == State::kIdle);
  (void)other;
}

void Waiter::enqueue(WaiterList& list, TaskBase& task) {
  task_ = &task;
  list_ = &list;
  state_ = State::kWaiting;
  list.push_back(this);
  task.set_waiting_on(this);
}

bool Waiter::withdraw_slow() noexcept {
  WaiterList* list = std::exchange(list_, nullptr);
  WaitGuard guard(list->lock());
  switch (state_) {
    case State::kWaiting:
      // The frame is destroyed while the task still waits (its loop was closed by hand):
      // nobody is left to wake, just leave the list.
      list->unlink(this);
      state_ = State::kIdle;
      return false;
    case State::kGranted:
      // Granted, never claimed: the task was cancelled between the grant and its resumption.
      state_ = State::kClaimed;
      return true;
    default:
      return false;
  }
}

bool Waiter::cancel_wait(const std::string& msg) {
  WaiterList* list = list_;
  if (list == nullptr) return false;
  {
    WaitGuard guard(list->lock());
    // Granted already: the granter wakes the task; TaskBase raises at the resumption and
    // the awaiter's destructor hands the grant back.
    if (state_ != State::kWaiting) return false;
    list->unlink(this);
    state_ = State::kCancelled;
  }
  cancel_msg_ = std::make_unique<std::string>(msg);
  task_->wake_from_wait();
  return true;
}

void Waiter::throw_cancelled() { throw CancelledError(cancel_msg_ ? *cancel_msg_ : ""); }

void Wakeups::add(Waiter& w) {
  TaskBase* task = w.task();
  uintptr_t entry = reinterpret_cast<uintptr_t>(task);
  if (t_running_loop != task->loop()) {
    // Another thread owns the task: between the release of the lock and the wake, its loop
    // may be closed by hand and the task freed. Keep it alive until the wake is posted.
    task->ref();
    entry |= 1;
  }
  tasks_.push_back(entry);
}

void Wakeups::wake_all() {
  for (uintptr_t entry : tasks_) {
    TaskBase* task = reinterpret_cast<TaskBase*>(entry & ~uintptr_t{1});
    task->wake_from_wait();
    if (entry & 1) task->unref();
  }
  tasks_.clear();
}

}  // namespace weft::internal
