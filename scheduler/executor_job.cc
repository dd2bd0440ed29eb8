#include "scheduler/executor_job.h"

#include <sched.h>

#include <utility>

#include "loop/event_loop.h"
#include "loop/task_base.h"

namespace weft {

void ExecutorJob::run() noexcept {
  if (!skip_.load(std::memory_order_acquire)) invoke();
  complete();
}

void ExecutorJob::fail(std::exception_ptr error) noexcept {
  error_ = std::move(error);
  complete();
}

void ExecutorJob::complete() noexcept {
  Phase was = phase_.exchange(kDone, std::memory_order_acq_rel);
  if (was == kWaiting) {
    // The executor's reference passes to the node; the node's run() or discard() drops it.
    loop_->schedule_threadsafe(&node_);
    // The awaiting side still holds its reference until it has seen this.
    released_.store(true, std::memory_order_release);
    return;
  }
  released_.store(true, std::memory_order_release);
  unref();  // kPending: the result waits for its awaiter; kAbandoned: nobody wants it
}

bool ExecutorJob::try_register(internal::TaskBase& task) {
  loop_ = task.loop();
  waiter_.store(&task, std::memory_order_relaxed);
  Phase expected = kPending;
  return phase_.compare_exchange_strong(expected, kWaiting, std::memory_order_acq_rel,
                                        std::memory_order_acquire);
}

bool ExecutorJob::try_abandon_waiting() {
  Phase expected = kWaiting;
  if (!phase_.compare_exchange_strong(expected, kAbandoned, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
    return false;
  }
  skip_.store(true, std::memory_order_release);
  waiter_.store(nullptr, std::memory_order_relaxed);
  return true;
}

void ExecutorJob::release_awaiting_side(bool registered) {
  Phase expected = registered ? kWaiting : kPending;
  if (phase_.compare_exchange_strong(expected, kAbandoned, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
    // Gone before the result: a registered awaiter going away means its task's frame is
    // being destroyed, so the call is not wanted at all; a dropped handle only detaches
    // (the call still runs, like a dropped Tokio JoinHandle or asyncio executor future).
    if (registered) skip_.store(true, std::memory_order_release);
  } else if (registered && expected == kDone) {
    // The executor thread may still be pushing the wake to our loop: let it finish before
    // the loop may go away, and make sure the wake (if not run yet) finds no task.
    for (int spins = 0; !released_.load(std::memory_order_acquire); ++spins) {
      if (spins > 64) sched_yield();
    }
    waiter_.store(nullptr, std::memory_order_release);
  }
  unref();
}

void ExecutorJob::WakeNode::run() {
  ExecutorJob* job = job_;
  if (internal::TaskBase* task = job->waiter_.exchange(nullptr, std::memory_order_acq_rel)) {
    task->wake_from_wait();
  }
  job->unref();
}

void ExecutorJob::WakeNode::discard() { job_->unref(); }

}  // namespace weft
