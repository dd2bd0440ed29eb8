// ExecutorJob: one call handed to an Executor (run_in_executor, to_thread, run_cpu), and the
// handshake between the thread that runs it and the task that awaits its result.
//
// An executor only sees the public part: it calls run() (or fail()) exactly once, on any
// thread, and may use `next_in_queue` to queue the job while it holds it. Everything else is
// the job's own business, described here because it is what makes cancellation and loop
// shutdown safe without a lock on the hot path.
//
// The handshake. A job is shared by the executor and by one awaiting side (the ExecutorCall
// handle, then the awaiter inside the awaiting task's frame), each holding a reference. A
// phase word says who must act:
//
//   kPending   the call has not finished and nobody waits yet
//   kWaiting   a task waits: the awaiter stored the task and its loop, then published them
//   kDone      the call finished; its value or exception is stored
//   kAbandoned nobody will ever want the result (handle dropped, or the awaiting task was
//              cancelled or destroyed); the executor skips the call if it has not started
//
// The executor thread stores the outcome and swaps the phase to kDone. If it was kWaiting, it
// pushes the job's wake node to the task's loop (EventLoop::schedule_threadsafe: one
// lock-free push, an eventfd write only if the loop is parked); the node, run on the loop,
// wakes the task. The wake node belongs to the job, not to the task, so that a task destroyed
// meanwhile is never touched.
//
// Cancellation (on the loop's thread): the awaiter swaps kWaiting -> kAbandoned. If that
// wins, the executor will neither post nor keep the result (its exception is not reported
// either), and the task is woken with CancelledError at once. If it loses, the result is
// already on its way: the task gets CancelledError when the wake arrives, as an asyncio Task
// does when cancelled with its wake-up already scheduled.
//
// Loop lifetime. The executor thread touches the loop only between its swap to kDone and the
// end of its push, and marks `released_` after. An awaiter destroyed while registered (its
// frame dropped by a closing loop) that lost the swap waits for `released_` (a few hundred
// nanoseconds of spinning at most, unless that thread is preempted) before the frame, and
// then the loop, may go away. Loop teardown destroys every pending task's frame before the
// loop itself, so no executor thread can post to a destroyed loop, with no process-wide lock.
#ifndef WEFT_SCHEDULER_EXECUTOR_JOB_H_
#define WEFT_SCHEDULER_EXECUTOR_JOB_H_

#include <atomic>
#include <cstdint>
#include <exception>

#include "loop/ref_count.h"
#include "loop/runnable.h"

namespace weft {

class EventLoop;

namespace internal {
class TaskBase;
}  // namespace internal

class ExecutorJob {
 public:
  ExecutorJob(const ExecutorJob&) = delete;
  ExecutorJob& operator=(const ExecutorJob&) = delete;

  // Runs the call on this thread (unless its result is no longer wanted and it has not
  // started: then it is skipped), delivers the outcome to the awaiting task, and releases
  // the executor's reference. The job must not be touched afterwards.
  void run() noexcept;
  // Delivers `error` instead of running the call (an executor that cannot run it), then
  // releases the executor's reference. The job must not be touched afterwards.
  void fail(std::exception_ptr error) noexcept;

  // Free for the executor's use (an intrusive queue link) while it holds the job.
  ExecutorJob* next_in_queue = nullptr;

  // --- The awaiting side (internal: ExecutorCall and its awaiter, on the loop's thread). ---
  enum Phase : uint8_t { kPending, kWaiting, kDone, kAbandoned };
  bool done() const { return phase_.load(std::memory_order_acquire) == kDone; }
  // Registers `task` as the waiter. False if the call finished meanwhile (do not suspend).
  bool try_register(internal::TaskBase& task);
  // The waiting task is cancelled: true if the job let go of it (the executor will not wake
  // it and drops the result), false if the wake is already on its way.
  bool try_abandon_waiting();
  // The awaiting side lets go of the job (handle or awaiter destroyed). `registered`: it had
  // registered a waiter that was not abandoned through try_abandon_waiting.
  void release_awaiting_side(bool registered);
  // The executor's error (fail() or the call's exception), after done().
  const std::exception_ptr& error() const { return error_; }

 protected:
  // Two references: the awaiting side and the executor.
  ExecutorJob() = default;
  virtual ~ExecutorJob() = default;
  // Runs the call and stores its value, or its exception in error_. Executor thread.
  virtual void invoke() noexcept = 0;

  std::exception_ptr error_;

 private:
  // Pushed to the task's loop when the call finishes while a task waits.
  class WakeNode final : public internal::Runnable {
   public:
    explicit WakeNode(ExecutorJob* job) : job_(job) {}
    void run() override;
    void discard() override;

   private:
    ExecutorJob* job_;
  };

  void complete() noexcept;
  void unref() {
    if (internal::drop_ref(refs_)) delete this;
  }

  std::atomic<uint32_t> refs_{2};
  std::atomic<Phase> phase_{kPending};
  // The awaiting side gave up before the call started: skip it.
  std::atomic<bool> skip_{false};
  // The executor thread no longer touches the loop (see the file comment).
  std::atomic<bool> released_{false};
  // The task to wake; cleared by whoever wakes it or by its departing awaiter.
  std::atomic<internal::TaskBase*> waiter_{nullptr};
  // Written before the release of kWaiting, read by the executor after its swap.
  EventLoop* loop_ = nullptr;
  WakeNode node_{this};
};

}  // namespace weft

#endif  // WEFT_SCHEDULER_EXECUTOR_JOB_H_
