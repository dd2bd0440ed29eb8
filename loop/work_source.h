// WorkSource: how a loop gets work that is not its own (migratable tasks), without knowing
// anything about stealing. The scheduler (scheduler/runtime.h) plugs one into each loop of a
// Runtime; a plain EventLoop has none.
//
// All methods are called on the loop's own thread, except push_woken.
#ifndef WEFT_LOOP_WORK_SOURCE_H_
#define WEFT_LOOP_WORK_SOURCE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "loop/runnable.h"

namespace weft::internal {

class TaskBase;

class WorkSource {
 public:
  // Moves up to `max` items of this loop's own migratable work to `ready`. Returns how many.
  virtual size_t take_local(RunQueue& ready, size_t max) = 0;
  // The loop has nothing to run: look elsewhere (steal from siblings, the injection
  // queue). Returns how many items were moved to `ready`.
  virtual size_t find_work(RunQueue& ready) = 0;
  // Whether there is work the loop could take (checked after the loop has announced that it
  // parks, the other half of the parking handshake).
  virtual bool has_work() = 0;
  // Called around a blocking poll, so the scheduler knows which loops sleep. on_park returns
  // the longest the loop may block, in nanoseconds (-1: no limit): a bound lets the loop come
  // back for work that no push announces (scheduler/runtime.cc, the LIFO rescue).
  virtual int64_t on_park() = 0;
  virtual void on_unpark() = 0;
  // ANY thread: a spawned task of this Runtime was woken (TaskBase::wake). Queue it where a
  // loop of the Runtime will take it: the calling loop's own queue when called on one of the
  // Runtime's loops, else the injection queue (waking a parked loop).
  virtual void push_woken(TaskBase* task) = 0;
  // Owner thread: a spawned task this loop just ran queues itself again (it yielded, or was
  // woken during its step). Where nobody could take it anyway (every sibling busy), the
  // loop's own ready queue is much cheaper than a stealable queue.
  virtual void push_requeued(TaskBase* task) = 0;
  // Owner thread: whether push_requeued would keep the task on this loop's ready queue now
  // (every sibling busy). TaskBase uses it to requeue a yielding task without leaving its
  // step state (TaskBase::end_step_spawned).
  virtual bool requeues_here() const = 0;
  // Owner thread, from a task awaiting `awaited` (a spawned task that was not done): a task
  // of this loop's own migratable work that nobody has started, taken out of its queue for
  // the caller to run at once, nested in its step. `awaited` itself if it is at hand, else
  // the newest such task (fork-join: a child spawned after it, which it would otherwise
  // wait behind); nullptr if there is none.
  virtual TaskBase* take_for_await(TaskBase* awaited) = 0;
  // Owner thread: takes `awaited` out of this loop's own migratable work if it is what the
  // loop would hand out first (take_for_await's first choice: the LIFO slot or the back of
  // the queue), for the caller to run at once; false, and nothing taken, otherwise.
  virtual bool take_awaited(TaskBase* awaited) = 0;
  // Owner thread, at the end of a batch: the task a step of the batch spawned to run next
  // (the LIFO slot), for the loop to run at once, in the same batch; nullptr if there is
  // none, or once the LIFO streak is used up (the rest of the loop's work must get a turn).
  virtual TaskBase* take_next_spawned() = 0;
  // Owner thread: whether this loop has migratable work of its own waiting (its LIFO slot or
  // its queue). While it has, the loop ends its batch so take_local hands that work out.
  virtual bool has_local_work() const = 0;
  // True once the Runtime shuts down: tasks that have not started yet are cancelled at
  // their first step instead of running. Any thread. Not virtual: every task's first step
  // asks (a virtual call was 9 instructions of W4's ~710 per hop).
  bool shutting_down() const { return shutting_down_->load(std::memory_order_acquire); }

 protected:
  // `shutting_down`: the Runtime's flag, which outlives this source.
  explicit WorkSource(const std::atomic<bool>* shutting_down) : shutting_down_(shutting_down) {}
  ~WorkSource() = default;

 private:
  const std::atomic<bool>* shutting_down_;
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_WORK_SOURCE_H_
