#include "loop/sleep.h"

#include "absl/strings/str_format.h"
#include "loop/event_loop.h"

namespace weft::internal {

void SleepAwaiter::release() {
  // The frame is going away while the timer is armed (its task was abandoned).
  if (scheduled()) task_->loop()->timer_queue().remove(this);
  if (task_) delete cancel_msg_;
}

void SleepAwaiter::arm(Duration delay) {
  EventLoop* loop = task_->loop();
  loop->timer_queue().push(this, loop->time() + delay);
  task_->set_waiting_on(this);
}

std::string SleepAwaiter::describe_wait() const {
  if (!scheduled()) return "sleep (due: waking up)";
  auto left = std::chrono::duration<double>(deadline() - task_->loop()->time());
  return absl::StrFormat("sleep (due in %.3f s)", left.count());
}

void SleepAwaiter::on_due() { task_->wake_from_wait(); }

bool SleepAwaiter::cancel_wait(const std::string& msg) {
  // Not scheduled: the timer fired and already woke the task.
  if (!task_->loop()->timer_queue().remove(this)) return false;
  // The sleep raises CancelledError itself, even if uncancel() withdraws the task's pending
  // request meanwhile (asyncio 3.12/3.13 do the same).
  cancel_msg_ = new std::string(msg);
  task_->wake_from_wait();
  return true;
}

}  // namespace weft::internal
