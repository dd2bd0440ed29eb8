#include "loop/as_completed.h"

#include "loop/errors.h"
#include "loop/event_loop.h"

namespace weft::internal {

AsCompletedState::AsCompletedState(std::vector<FutureBase*> fs, std::optional<Duration> timeout)
    : unreturned_(fs.size()) {
  for (uint32_t i = 0; i < fs.size(); ++i) {
    // Already done: first in line, in input order (asyncio's callbacks, scheduled at once,
    // run in that order).
    if (fs[i]->done()) {
      finished_.push_back(i);
    } else {
      watch_.watch(fs[i]);
      watched_.push_back(fs[i]);
      watched_index_to_input_.push_back(i);
    }
  }
  if (timeout && unreturned_ > 0) {
    EventLoop& loop = EventLoop::current();
    arm(&loop, loop.time() + *timeout);
  }
}

void AsCompletedState::wait(TaskBase& task, WaitCanceller* canceller) {
  if (waiter_) {
    throw RuntimeError(
        "as_completed: next() is already being awaited by another task; one task at a time "
        "may consume an as_completed sequence");
  }
  waiter_ = &task;
  task.set_waiting_on(canceller);
}

void AsCompletedState::cancel_wait(const std::string& msg) {
  TaskBase* t = waiter_;
  waiter_ = nullptr;
  t->request_cancel_delivery(msg);
  t->wake_from_wait();
}

void AsCompletedState::on_done(FutureBase&, uint32_t index) {
  finished_.push_back(watched_index_to_input_[index]);
  if (TaskBase* t = waiter_) {
    waiter_ = nullptr;
    t->wake_from_wait();
  }
}

void AsCompletedState::on_expire() {
  timed_out_ = true;
  // Those that finished before the deadline but whose done-callback has not run yet still
  // count as finished in time.
  for (uint32_t w = 0; w < watched_.size(); ++w) {
    if (!watch_.reported(w) && watched_[w]->done()) finished_.push_back(watched_index_to_input_[w]);
  }
  watch_.stop();
  if (TaskBase* t = waiter_) {
    waiter_ = nullptr;
    t->wake_from_wait();
  }
}

int64_t AsCompletedState::take() {
  if (!finished_.empty()) {
    uint32_t i = finished_.front();
    finished_.pop_front();
    --unreturned_;
    return i;
  }
  if (unreturned_ == 0) return -1;
  // Only reachable past the timeout: ready() is false otherwise and the task waits.
  --unreturned_;
  throw TimeoutError("as_completed(): the timeout elapsed before this task finished");
}

}  // namespace weft::internal
