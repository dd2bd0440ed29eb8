// TaskBase: the untyped machinery of a Task: a coroutine stepped by the loop, a result slot
// (FutureBase), cancellation and the await protocol that weft's own awaitables speak.
// Internal: users see Task<T> (task.h).
//
// How a task runs. The loop's ready queue holds the task itself (it is a Runnable). One
// step resumes the innermost suspended coroutine of the task (resume_point_), which runs
// until it next suspends; nested Coros are entered and left by symmetric transfer without
// returning to the loop. When the root coroutine has finished, the step completes the task.
//
// The await protocol. Every co_await inside a Coro goes through its promise's
// await_transform, which (a) records the innermost coroutine as the task's resume point and
// (b) at resumption, throws CancelledError instead of resuming normally if a cancellation is
// pending (asyncio's _must_cancel). Awaitables that know about tasks (Future, Task, sleep,
// the sync primitives) implement `await_suspend(TaskBase&)`; to be woken they call
// wake_from_wait(), and they register a WaitCanceller so that cancel() can interrupt the
// wait at once. Any other awaitable (a user's type with await_suspend(coroutine_handle<>))
// receives a handle to a small per-task "waker" coroutine instead of the real one: resuming
// it from any thread wakes the task on its own loop, so a foreign awaitable can never run a
// task on the wrong thread.
//
// Invariant: a task is woken exactly once per suspension. Whoever detaches the task from the
// thing it waits on (completion, timer, cancel_wait) is the one who wakes it.
//
// Spawned tasks migrate between steps (Tokio's task state machine, reduced to what weft
// needs). A spawned task is always in exactly one scheduling state, guarded by its spin lock:
//
//   kQueued   in some queue of its Runtime (a loop's StealableQueue, the injection queue, a
//             loop's ready queue); whichever loop takes it runs the next step
//   kRunning  a loop is running a step (or a cancel() is being delivered on its loop, which
//             must not race with a step either)
//   kIdle     suspended; loop() is the loop of the last step, where its wait is registered
//
// wake() from any thread: kIdle -> kQueued and the task is pushed where idle loops can take
// it (WorkSource::push_woken); kRunning -> `notified_`, and the loop ending the step pushes it
// (so a task never runs on two threads at once); kQueued -> nothing (already on its way). A
// wake from inside the task's own step (a yield) sets kSelfNotified without the lock: only
// the stepping thread reads it, at the step's end. When such a yield requeues the task on its
// own loop's ready queue (every sibling busy, so nobody could take it from a stealable queue),
// the task stays kRunning between the two steps and neither takes the lock (kStepKept).
// A step starts by setting loop() to the loop that took the task: a task's loop-bound state
// (timers, fd watches, the wait it registered) is registered during a step on that step's
// loop, and only touched there. cancel() acts only where that is safe: on a queued task it
// leaves the CancelledError for the next step; on an idle task it runs on the loop of its last
// step, holding kRunning meanwhile; otherwise it is posted to the task's current loop, and
// re-posted if the task has moved on by the time it arrives.
//
// A spawned task stays in the task list of the loop that ran its first step (its "home": the
// list is what shutdown and close() walk). It leaves the list on its home loop's thread: a task
// that completes elsewhere posts itself there as a Runnable one last time.
#ifndef WEFT_LOOP_TASK_BASE_H_
#define WEFT_LOOP_TASK_BASE_H_

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "loop/future_base.h"
#include "loop/runnable.h"
#include "loop/task_name.h"

namespace weft {

class EventLoop;

namespace internal {

class CoroPromiseBase;

// Where a coroutine function is defined, captured when its frame is created.
struct CoroSite {
  const char* function = "";
  const char* file = "";
  uint32_t line = 0;

  // "file:line in function": the `source` of the reports about the coroutine.
  std::string to_string() const;
};

// Implemented by an awaitable a task is suspended on, so that Task::cancel() can interrupt
// the wait.
class WaitCanceller {
 public:
  // Called on the task's loop thread while the task is suspended on this awaitable. Returns
  // true if the awaitable takes charge of delivering the cancellation (it will wake the task,
  // which then sees CancelledError); false if it cannot, in which case the cancellation is
  // delivered at the next suspension point.
  virtual bool cancel_wait(const std::string& msg) = 0;
  // What the task waits on, for the task dump (introspect.h): "<Task pending name='x' ...>",
  // "sleep (due in 0.500 s)". Called on the task's loop thread. The default is the
  // awaiter's type name.
  virtual std::string describe_wait() const;

 protected:
  ~WaitCanceller() = default;
};

// Task ids are unique, handed out to each thread in blocks: one shared atomic increment per
// kBlock tasks rather than per task (it is contended once several loops create tasks).
class TaskIds {
 public:
  static uint64_t take() {
    if (next == end) [[unlikely]] return refill();
    return next++;
  }

 private:
  static constexpr uint64_t kBlock = 1024;
  static uint64_t refill();
  static inline constinit thread_local uint64_t next = 0;
  static inline constinit thread_local uint64_t end = 0;
};

class TaskBase : public FutureBase, public Runnable {
 public:
  // `root` is the task's top coroutine; the task owns its frame from now on. Defined in
  // coro.h, which has CoroPromiseBase: inline, as a call it cost every spawn ~15
  // instructions (W4).
  inline TaskBase(EventLoop* loop, std::coroutine_handle<> root, CoroPromiseBase* root_promise,
                  std::string_view name);
  // Inline, and destroy_frames only if a frame is left (a task that never completed): a
  // finished task's frames went in complete(), and the call cost 30 instructions a task
  // (W5).
  ~TaskBase() override {
    if (root_ || waker_) [[unlikely]] destroy_frames();
  }

  // Runnable: one step.
  void run() override;

  // A spawned task (weft::spawn) may be taken by any loop of its Runtime until its first
  // step; from then on it stays on the loop that started it. Set before it is queued.
  void set_spawned() {
    spawned_ = true;
    set_shared();
  }
  bool spawned() const { return spawned_; }
  // Whether every later step runs on the task's current loop, as its current one does: a
  // create_task, or a spawned task pinned to its loop. The task's own step.
  bool stays_on_its_loop() const { return !spawned_ || pinned_; }
  // A spawned task that creates something bound to its loop (a Future, a Task, a callback,
  // a timeout, a watched file descriptor, a combinator's done-callbacks) stays on that loop
  // from then on, like a create_task. Owner thread, during the task's step.
  void pin_to_loop() {
    if (spawned_ && !pinned_) pin_slow();
  }
  // A closing loop drops the task unrun. A spawned task that never started is owned by the
  // queue that held it: it is destroyed (and reported) here. A finished spawned task posted to
  // its home loop to leave the task list leaves it here. Other tasks are the loop's, which
  // abandons them separately.
  void discard() override;

  // asyncio Task.cancel(msg). Any thread: from another thread than the task's loop the
  // request is posted to that loop (and the return value is whether the task was pending).
  // A posted request that arrives after the task's last step finds it done and is dropped:
  // the task then ends normally although cancel() returned true.
  bool cancel(std::string msg) override;
  std::string describe() const override;
  // "pending", "cancelled", "finished", "finished exception".
  const char* state_name() const;
  // Debug mode: where create_task / spawn was called (asyncio's source_traceback, as
  // file:line). Printed by describe() and so by every report about the task. Set before the
  // task is visible to another thread.
  void set_creation_site(const char* file, uint32_t line) {
    cold().created_file = file;
    cold().created_line = line;
  }
  // " created at file:line", or "" if none was recorded.
  std::string created_at() const;
  // Where the task's coroutine function is defined.
  CoroSite site() const { return CoroSite{site_function_, site_file_, site_line_}; }

  std::string name() const;
  // The current name as an immutable object (nullptr: "Task-<id>"), alive as long as the task
  // (task_name.h). Owning loop only.
  const TaskName* name_object() const { return cold_ ? cold_->name : nullptr; }
  // Owning loop only. The old name stays readable by the watchdog until the task is
  // destroyed (task_name.h).
  void set_name(std::string name);
  uint64_t id() const { return id_; }

  // asyncio 3.11 Task.cancelling() / uncancel().
  int cancelling() const { return static_cast<int>(num_cancels_requested_); }
  int uncancel();

  // --- The await protocol (for awaitables; see the file comment). ---
  void set_resume_point(std::coroutine_handle<> h) { resume_point_ = h; }
  void set_waiting_on(WaitCanceller* w) { waiting_on_ = w; }
  // Schedules the next step: on the task's loop, or for a spawned task wherever a loop of its
  // Runtime can take it (see the file comment). Any thread; also from the task's own step
  // (sleep(0): run again after what is ready now).
  void wake();
  // wake() from the task's own step (sleep(0)): inline, and for a spawned task only the
  // flag that end_step_spawned reads (no lock, no queue: the step's end queues it). Owner:
  // the task's running step only.
  void yield_now() {
    if (spawned_) [[likely]] {
      step_flags_ |= kSelfNotified;
    } else {
      wake();
    }
  }
  // The wait is over: wake(). Any thread. The WaitCanceller is forgotten at once on the
  // task's own thread, else when the next step starts (it is the owner's to touch); a
  // cancel() in between reaches a canceller whose wait is over, which then declines.
  void wake_from_wait();
  // Asks for CancelledError(msg) to be thrown at the task's next resumption.
  void request_cancel_delivery(const std::string& msg);
  // Called on resumption at every suspension point: throws the pending CancelledError.
  void throw_if_must_cancel() {
    if (must_cancel_) throw_cancelled();
  }
  // A handle to give foreign awaitables instead of the coroutine's own.
  std::coroutine_handle<> foreign_waker();
  // The foreign awaitable declined to suspend (or threw): it will not resume the waker.
  void disarm_foreign_waker();

  // The fork-join fast path of `co_await task` (FutureAwaiter). `awaiter` is the task whose
  // step runs on this thread; `awaited` a spawned task that is not done. While `awaited` has
  // not started, runs the unstarted tasks the loop's WorkSource hands out (take_for_await:
  // `awaited` itself when it is in this loop's queue, else the newest of that queue), each
  // as its first step nested in this one, within the loop's bounds (enter_inline_runs).
  // This is the work-first order of Cilk and oneTBB: without it, each awaited child waits
  // behind every older task of the queue, the tree is run breadth-first, and all of it is
  // alive at once. Returns whether `awaited` is done, so that the awaiter need not suspend.
  static bool run_awaited_inline(TaskBase& awaiter, TaskBase& awaited);
  // The same for an awaiter that holds no reference of its own to `awaited` (it borrows
  // its handle's), when `awaited` is the loop's first choice (WorkSource::take_awaited):
  // runs `awaited`'s first step here, and that step hands the awaiter the loop's reference
  // instead of dropping it when it finishes the task, or takes one for the awaiter before
  // anyone else can run the task if it does not (kHandLoopRef). Returns false if it did not
  // run `awaited` (the awaiter then takes a reference and goes the usual way); true if it
  // did, and the awaiter then owns one reference to `awaited`. Fork-join's awaited child
  // thus costs one reference-count RMW instead of three (W5).
  static bool run_awaited_handing_ref(TaskBase& awaiter, TaskBase& awaited);
  // Drops the loop's reference to this finishing task (after EventLoop::unlink_task),
  // unless the running step hands it to an awaiter (run_awaited_handing_ref). May delete
  // this.
  void drop_loop_reference() {
    if (step_flags_ & kHandLoopRef) [[unlikely]] {
      step_flags_ &= ~kHandLoopRef;
      return;
    }
    unref();
  }
  // The other way to settle kHandLoopRef: a reference of the awaiter's own, for a step that
  // keeps the loop's (the task is not finished, or finished away from home).
  void ref_for_awaiter_if_owed() {
    if (step_flags_ & kHandLoopRef) [[unlikely]] {
      step_flags_ &= ~kHandLoopRef;
      ref();
    }
  }

  // --- Introspection (introspect.h). Owning loop only. ---
  // The root coroutine's promise while the task has frames (not done), else nullptr. The
  // await chain is root -> child() -> ... (coro.h).
  const CoroPromiseBase* chain_root() const { return root_ ? root_promise_ : nullptr; }
  const WaitCanceller* waiting_on() const { return waiting_on_; }
  // Suspended on a foreign awaitable (one that received the task's waker).
  bool waiting_on_foreign() const;
  bool started() const { return started_.load(std::memory_order_relaxed); }
  // Whether this thread may read the task's chain, waiting_on() and name: the task runs only
  // on the calling thread's loop (a create_task, or a spawned task pinned to this loop), or
  // it is this thread's current task. A spawned task that may still migrate can be running
  // on another loop at any moment, while it sits in its home loop's list. Any thread.
  bool readable_here() const;

  // --- Loop bookkeeping. ---
  // The closing loop drops a task that is still pending: destroy its coroutine frames
  // (running their destructors) and report "Task was destroyed but it is pending".
  void abandon();
  // The links of the loop's list of pending tasks; both point at the task itself while it is
  // in no list. Only the thread of the loop whose list it is (the task's home) reads or writes
  // them: unlinking a neighbour writes them. A create_task joins its loop's list at once. A
  // spawned task joins the list of the loop that runs its first step at the end of that
  // step, and only if it did not finish there: most spawned tasks finish in their first step
  // (fire-and-forget work, the leaves of a fork-join tree), and for them the list was two
  // updates for nothing (W4: 17 of ~590 instructions a hop). Until then it is marked
  // kUnlisted and is the task running on its loop's thread; what walks the list sees it as
  // such (EventLoop::pending_tasks_snapshot), and a task that runs other tasks' first steps
  // nested in its own joins first (run_awaited_*).
  TaskBase* prev_in_loop = this;
  TaskBase* next_in_loop = this;
  // Home loop's thread only.
  bool in_task_list() const { return prev_in_loop != this; }
  // A spawned task in its first step, not yet in its loop's list. Its own loop's thread,
  // during its step (the flag is the step's, like every step flag).
  bool unlisted() const { return step_flags_ & kUnlisted; }

 protected:
  // The root coroutine returned normally: move its value into the typed result slot.
  virtual void take_result_from_root() = 0;
  void report_never_retrieved() override;
  CoroPromiseBase* root_promise() const { return root_promise_; }

 private:
  [[noreturn]] void throw_cancelled();
  // The first step: returns false if the task was cancelled before it (it is then done).
  bool start();
  // Spawned tasks: the scheduling protocol of the file comment.
  enum Sched : uint8_t { kQueued, kRunning, kIdle };
  void begin_step_spawned(EventLoop* here);
  void end_step_spawned();
  void wake_spawned();
  bool cancel_spawned(std::string msg);
  void leave_task_list();
  void pin_slow();
  // After a transition to kQueued: the loop's own queue if pinned, else where any loop of the
  // Runtime can take it.
  void push_queued(bool pinned);
  bool cancel_here(std::string msg);
  void deliver_cancel_to_wait();
  // Spawned tasks: whether only the calling thread, the one running the task, can reach it.
  // True when the loop's reference is the only one (no handle exists to cancel, await or add
  // a callback through) and the task has run only on the loop it started on (so the one
  // other path to it, that loop's task list, is this thread's: the list is touched on its
  // loop's thread only). A waker that found the task through a waiter list holds no
  // reference, but it is done with the task once the task is queued, before it can run.
  // Then starting and completing the task skip its lock: two locked instructions fewer per
  // fire-and-forget spawn (W4, W6).
  // The count is read first: while a handle exists, its holder may be writing cold_ (a
  // cancel request), and only a count of 1 makes cold_ safe to read here.
  bool only_this_thread_reaches() const {
    return sole_reference() && !(cold_ && cold_->home);
  }
  void complete();
  void destroy_frames();

  std::coroutine_handle<> root_;
  CoroPromiseBase* root_promise_;
  std::coroutine_handle<> resume_point_;
  std::coroutine_handle<> waker_;
  WaitCanceller* waiting_on_ = nullptr;
  // What most tasks never use, out of line to keep TaskState small (W9: 100,000 idle tasks).
  struct Cold {
    Cold() = default;
    Cold(const Cold&) = delete;
    Cold& operator=(const Cold&) = delete;
    ~Cold() { free_task_names(name); }
    TaskName* name = nullptr;  // nullptr: "Task-<id>"; immutable, see task_name.h
    std::string cancel_msg;  // the message of the pending or delivered cancellation
    EventLoop* home = nullptr;  // a spawned task that migrated: the loop whose list holds it
    const char* created_file = nullptr;  // debug mode: where create_task/spawn was called
    uint32_t created_line = 0;
  };
  Cold& cold();
  // After steps run nested in this task's (run_awaited_*): the watchdog's view is this
  // task's step again.
  void republish_step(EventLoop* loop);
  // The constructor's named case, out of line so that the common one needs no frame.
  [[gnu::noinline]] void set_name_at_creation(std::string_view name);
  const std::string& cancel_msg() const;
  std::unique_ptr<Cold, DeleteOutOfLine<Cold>> cold_;
  // The CoroSite, unpacked so that its line shares a word with num_cancels_requested_: a
  // TaskState<void> of 168 bytes instead of 176, one FrameAllocator size class less (W9).
  const char* site_function_;
  const char* site_file_;
  uint64_t id_;
  uint32_t site_line_;
  uint32_t num_cancels_requested_ = 0;
  bool must_cancel_ = false;
  // Atomic only for run_awaited_inline's hint, read from the awaiting task's thread; every
  // other access is ordered by the lock or by the queue that handed the task over.
  std::atomic<bool> started_{false};
  bool spawned_ = false;
  // Spawned tasks only, guarded by lock_ (see the file comment).
  uint8_t sched_ = kQueued;
  bool notified_ = false;      // woken while kRunning: queue again when the step ends
  // The stepping thread's alone (the next step's thread gets them with the task, through
  // the queue that hands it over), so they can share a byte; one bool more would cost a
  // FrameAllocator size class (TaskState<void> 168 -> 176 bytes, W9 393 -> 409 per task).
  //   kSelfNotified: woken by its own step.
  //   kStepKept: requeued by a yield without leaving kRunning (end_step_spawned).
  //   kHandLoopRef: this step, run by run_awaited_handing_ref, owes its awaiter a reference.
  //   Set only while the task is out of every queue and not yet started; cleared by the
  //   step: drop_loop_reference hands over the loop's, or run() (and complete() for a task
  //   that finished away from home) takes one before the task can run anywhere else.
  //   kUnlisted: a spawned task's first step, until the task joins its loop's list (see
  //   prev_in_loop). Set by start(), cleared by the step that links it.
  enum StepFlag : uint8_t { kSelfNotified = 1, kStepKept = 2, kHandLoopRef = 4, kUnlisted = 8 };
  // Links the task into `loop`'s list, which it joins late (see prev_in_loop).
  void join_task_list(EventLoop* loop);
  uint8_t step_flags_ = 0;
  bool release_pending_ = false;  // finished away from home, posted there to leave the list
  bool pinned_ = false;  // written under lock_ by the task's own step (see pin_to_loop)
};

// The task whose step is running on this thread, or nullptr.
TaskBase* current_task_or_null() noexcept;
// Keeps the task running on this thread (if a spawned one) on its loop from now on: called by
// every operation that creates something bound to the calling loop.
void pin_current_task() noexcept;

}  // namespace internal
}  // namespace weft

#endif  // WEFT_LOOP_TASK_BASE_H_
