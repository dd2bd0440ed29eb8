#include "loop/task_base.h"

#include <atomic>
#include <mutex>
#include <typeinfo>
#include <utility>

#include "absl/strings/str_format.h"
#include "loop/coro.h"
#include "loop/errors.h"
#include "loop/event_loop.h"
#include "loop/type_name.h"
#include "loop/work_source.h"

namespace weft::internal {
namespace {

std::atomic<uint64_t> g_next_task_id{1};

// The per-task coroutine handed to foreign awaitables in place of the task's own: each
// resumption wakes the task on its loop (from any thread), then suspends again.
struct WakerCoroutine {
  // kArmed: handed to a foreign awaitable, which will resume it once. kOrphaned: the task
  // went away while armed; the late resumption frees the frame and touches nothing else.
  enum State { kIdle, kArmed, kOrphaned };
  struct promise_type {
    std::atomic<int> state{kIdle};
    WakerCoroutine get_return_object() {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  using Handle = std::coroutine_handle<promise_type>;
  static Handle of(std::coroutine_handle<> h) { return Handle::from_address(h.address()); }
  Handle handle;
};

// Wakes the task only once the waker is fully suspended, from inside await_suspend. The
// moment the task is queued the loop may run it, give this same handle to the next foreign
// awaitable (whose resumer may resume it at once, on another thread) or destroy it (task
// end). Waking first and suspending after (`task->wake(); co_await suspend_always{}`) left
// the resuming thread writing the frame's suspend state while that could already happen
// (a data race found by TSan, and a use-after-free when the task ended meanwhile).
struct WakeTaskOnSuspend {
  TaskBase* task;
  bool await_ready() const noexcept { return false; }
  void await_suspend(WakerCoroutine::Handle h) const noexcept {
    TaskBase* t = task;  // copied out first: the frame holding *this may go once t is queued
    int expected = WakerCoroutine::kArmed;
    if (h.promise().state.compare_exchange_strong(expected, WakerCoroutine::kIdle,
                                                  std::memory_order_acq_rel)) {
      t->wake();
    } else if (expected == WakerCoroutine::kOrphaned) {
      h.destroy();  // the task is gone (its loop closed): drop the late delivery
    }
    // kIdle: resumed although not armed (resumed twice): ignored.
  }
  void await_resume() const noexcept {}
};

WakerCoroutine make_waker(TaskBase* task) {
  for (;;) co_await WakeTaskOnSuspend{task};
}

}  // namespace

uint64_t TaskIds::refill() {
  next = g_next_task_id.fetch_add(kBlock, std::memory_order_relaxed);
  end = next + kBlock;
  return next++;
}

void TaskBase::set_name_at_creation(std::string_view name) {
  cold().name = new TaskName(id_, std::string(name), nullptr);
}

std::string CoroSite::to_string() const {
  return absl::StrFormat("%s:%d in %s", file, line, function);
}

void TaskBase::destroy_frames() {
  if (root_) std::exchange(root_, {}).destroy();
  if (waker_) {
    auto h = WakerCoroutine::of(std::exchange(waker_, {}));
    int expected = WakerCoroutine::kArmed;
    // Armed: a foreign awaitable still holds the handle; its late resumption frees it.
    if (!h.promise().state.compare_exchange_strong(expected, WakerCoroutine::kOrphaned,
                                                   std::memory_order_acq_rel)) {
      h.destroy();
    }
  }
  resume_point_ = {};
}

std::string TaskBase::name() const {
  return cold_ && cold_->name ? cold_->name->text : absl::StrFormat("Task-%d", id_);
}

void TaskBase::set_name(std::string name) {
  if (!cold_ && name.empty()) return;
  Cold& c = cold();
  c.name = new TaskName(id_, name.empty() ? absl::StrFormat("Task-%d", id_) : std::move(name),
                        c.name);
  // Renamed from inside its own step: the watchdog sees the new name at once. The step
  // clears the slot when it returns (run()).
  EventLoop* loop = this->loop();
  if (t_running_loop == loop && loop->current_task() == this) loop->publish_step_name(c.name);
}

TaskBase::Cold& TaskBase::cold() {
  if (!cold_) cold_.reset(new Cold());
  return *cold_;
}

const std::string& TaskBase::cancel_msg() const {
  static const std::string* const kEmpty = new std::string();
  return cold_ ? cold_->cancel_msg : *kEmpty;
}

std::string TaskBase::created_at() const {
  if (!cold_ || !cold_->created_file) return "";
  return absl::StrFormat(" created at %s:%d", cold_->created_file, cold_->created_line);
}

std::string TaskBase::describe() const {
  const char* state = state_name();
  return absl::StrFormat("<Task %s name='%s' coro=%s() at %s:%d%s>", state, name(),
                         site_function_, site_file_, site_line_, created_at());
}

const char* TaskBase::state_name() const {
  switch (state()) {
    case State::kPending:
      return "pending";
    case State::kCancelled:
      return "cancelled";
    case State::kFinished:
      return exception_ ? "finished exception" : "finished";
  }
  return "?";
}

void TaskBase::run() {
  if (!root_) {
    if (release_pending_) leave_task_list();  // posted home after finishing elsewhere
    return;
  }
  if (!started_.load(std::memory_order_relaxed)) {
    if (!start()) return;
  } else if (spawned_) {
    // A step kept by the previous one (a yield requeued here, still kRunning) needs no
    // transition: only this loop can be running it.
    if (step_flags_ & kStepKept) {
      step_flags_ &= ~kStepKept;
    } else {
      begin_step_spawned(t_running_loop);
    }
  }
  waiting_on_ = nullptr;
  EventLoop* loop = this->loop();
  TaskBase* outer = loop->current_task();
  loop->set_current_task(this);
  loop->publish_task_step(id_, site_function_);
  // A named task's name is readable by the watchdog while its step runs (task_name.h); the
  // slot is cleared before the task can be freed (complete, abandon) or run on another loop
  // (end_step_spawned).
  if (cold_) [[unlikely]] loop->publish_step_name(cold_->name);
  resume_point_.resume();
  loop->set_current_task(outer);
  if (root_.done()) {
    complete();
    return;  // `this` may be gone
  }
  if (unlisted()) [[unlikely]] join_task_list(loop);  // a spawned task's first step
  if (must_cancel_ && waiting_on_) deliver_cancel_to_wait();
  if (spawned_) {
    // Not finished: the awaiter's reference, taken while only this thread can reach the
    // task (a wake meanwhile only marks it notified).
    ref_for_awaiter_if_owed();
    end_step_spawned();  // from here on another loop may run the task
  }
}

bool TaskBase::run_awaited_inline(TaskBase& awaiter, TaskBase& awaited) {
  EventLoop* loop = t_running_loop;
  WorkSource* source = loop ? loop->work_source() : nullptr;
  if (source == nullptr || loop->current_task() != &awaiter || !loop->enter_inline_runs()) {
    return false;
  }
  // The tasks run here may look at the loop's pending tasks: the awaiter is one of them.
  if (awaiter.unlisted()) awaiter.join_task_list(loop);
  // Started is a hint here (another loop may be starting it): at worst this runs a few more
  // of this loop's own tasks before the awaiter suspends, which the loop would run anyway.
  bool ran = false;
  while (!awaited.started() && loop->spend_inline_run()) {
    TaskBase* task = source->take_for_await(&awaited);
    if (task == nullptr) break;
    task->run();  // its first step; it saves and restores the current task
    ran = true;
  }
  loop->leave_inline_runs();
  if (!ran) return false;  // `awaited` is elsewhere: await it as usual
  awaiter.republish_step(loop);
  return awaited.done();
}

void TaskBase::republish_step(EventLoop* loop) {
  // The watchdog's view of the step is this task's again, after steps run nested in it.
  loop->publish_task_step(id_, site_function_);
  if (cold_) [[unlikely]] loop->publish_step_name(cold_->name);
}

bool TaskBase::run_awaited_handing_ref(TaskBase& awaiter, TaskBase& awaited) {
  EventLoop* loop = t_running_loop;
  WorkSource* source = loop ? loop->work_source() : nullptr;
  if (source == nullptr || loop->current_task() != &awaiter || !loop->enter_inline_runs()) {
    return false;
  }
  if (!loop->spend_inline_run() || !source->take_awaited(&awaited)) {
    loop->leave_inline_runs();
    return false;
  }
  if (awaiter.unlisted()) awaiter.join_task_list(loop);  // as in run_awaited_inline
  // Taken out of the queue, not started: nobody else can run it, so the flag is this
  // thread's to set.
  awaited.step_flags_ |= kHandLoopRef;
  awaited.run();  // its first step; it saves and restores the current task
  loop->leave_inline_runs();
  awaiter.republish_step(loop);
  return true;
}

void TaskBase::begin_step_spawned(EventLoop* here) {
  std::lock_guard<SpinLock> guard(lock_);
  sched_ = kRunning;
  EventLoop* last = loop();
  if (last != here) {
    if (!cold().home) cold().home = last;  // the first move: the list stays at home
    set_loop(here);
  }
}

void TaskBase::end_step_spawned() {
  loop()->forget_step_name(id_);  // from here on another loop may run (and free) the task
  // Read before the task can be queued: from then on another loop may run it.
  bool woke_itself = step_flags_ & kSelfNotified;
  step_flags_ &= ~kSelfNotified;
  EventLoop* here = loop();
  if (woke_itself && waiting_on_ == nullptr &&
      (pinned_ || here->work_source()->requeues_here())) {
    // A yield (sleep(0)) that goes to this loop's own ready queue, where no other loop can
    // take it: the task stays kRunning, as if its step went on, and the next step starts
    // without the lock (run: kStepKept). Two lock round trips fewer per yield (W2). What
    // others see is what they see during a step: a wake from elsewhere sets notified_ (none
    // is due: a yielding task waits on nothing), a cancel from another thread is posted to
    // this loop and, arriving here while the task is kRunning, is delivered as inside its
    // step (at the next resumption). pinned_ is written only by the task's own steps.
    step_flags_ |= kStepKept;
    here->schedule(this);
    return;
  }
  bool pinned;
  {
    std::lock_guard<SpinLock> guard(lock_);
    if (!notified_ && !woke_itself) {
      sched_ = kIdle;
      return;
    }
    notified_ = false;
    sched_ = kQueued;
    pinned = pinned_;
  }
  // On the loop that ran the step (or held it for a cancel).
  EventLoop* loop = this->loop();
  if (pinned) {
    loop->schedule(this);
  } else {
    loop->work_source()->push_requeued(this);
  }
}

void TaskBase::wake_spawned() {
  if (current_task_or_null() == this) {
    // Woken by its own step (sleep(0), a yield): only this thread touches the task until the
    // step ends, and the step's end queues it. No lock: a yield takes two instead of three.
    step_flags_ |= kSelfNotified;
    return;
  }
  bool pinned;
  {
    std::lock_guard<SpinLock> guard(lock_);
    if (sched_ == kRunning) {
      notified_ = true;  // the loop running the step queues it when the step ends
      return;
    }
    if (sched_ == kQueued) return;
    sched_ = kQueued;
    pinned = pinned_;
  }
  push_queued(pinned);
}

void TaskBase::push_queued(bool pinned) {
  // A queued task's loop() does not change until a loop takes it, which only happens after
  // this push.
  EventLoop* loop = this->loop();
  if (!pinned) {
    loop->work_source()->push_woken(this);
  } else if (t_running_loop == loop) {
    loop->schedule(this);
  } else {
    loop->schedule_threadsafe(this);
  }
}

void TaskBase::join_task_list(EventLoop* loop) {
  step_flags_ &= ~kUnlisted;
  loop->link_task(this);
}

void TaskBase::pin_slow() {
  std::lock_guard<SpinLock> guard(lock_);
  pinned_ = true;
}

void TaskBase::leave_task_list() {
  release_pending_ = false;
  EventLoop* home = cold_ && cold_->home ? cold_->home : loop();
  home->unlink_task(this);
  drop_loop_reference();  // may delete this
}

void TaskBase::deliver_cancel_to_wait() {
  // asyncio's Task.__step: a cancel() that arrived while the task was running (it cancelled
  // itself, or a callback it ran did) goes to what the task now waits on, at once, instead
  // of waiting for that wait to end on its own.
  WaitCanceller* w = waiting_on_;
  must_cancel_ = false;
  if (!w->cancel_wait(cancel_msg())) must_cancel_ = true;
}

bool TaskBase::start() {
  EventLoop* here = t_running_loop;
  bool cancel_now;
  {
    // Pairs with cancel(): a request made before the start is seen here; one made after
    // sees started_ and goes through the loop that runs the task. Nobody can make one when
    // only this thread reaches the task (a handle dropped before this step: its request,
    // if any, is visible through sole_reference's acquire).
    MaybeSpinGuard guard(lock_, shared() && !only_this_thread_reaches());
    if (spawned_) {
      set_loop(here);
      sched_ = kRunning;
    }
    started_.store(true, std::memory_order_relaxed);
    cancel_now = must_cancel_;
  }
  if (spawned_) {
    step_flags_ |= kUnlisted;  // joins the list if its first step does not finish it
    const WorkSource* source = here->work_source();
    if (source && source->shutting_down() && !cancel_now) {
      cancel_now = true;
      ++num_cancels_requested_;
      request_cancel_delivery("the Runtime is shutting down");
    }
  }
  if (!cancel_now) return true;
  // Cancelled before its first step: the coroutine never runs (asyncio throws
  // CancelledError into it before its first line, with the same visible effect).
  must_cancel_ = false;
  destroy_frames();
  mark_retrieved();
  finish_cancelled(std::make_exception_ptr(CancelledError(cancel_msg())));
  if (!unlisted()) here->unlink_task(this);  // a create_task; a spawned task never joined
  drop_loop_reference();  // may delete this
  return false;
}

void TaskBase::complete() {
  // Nobody else can register a waiter or a callback now, nor read the state under the lock.
  if (spawned_ && shared() && only_this_thread_reaches()) unshare();
  // The flag first: copying the (null) exception_ptr and destroying the copy cost W4 ~6
  // instructions a task.
  if (root_promise_->has_exception()) [[unlikely]] {
    std::exception_ptr e = root_promise_->exception();
    bool is_cancel = is_cancelled_error(e);
    destroy_frames();
    must_cancel_ = false;
    if (is_cancel) {
      mark_retrieved();
      finish_cancelled(std::move(e));
    } else {
      finish_exception(std::move(e));
    }
  } else if (must_cancel_) {
    // Cancelled after its last suspension point: the task ends cancelled even though the
    // coroutine returned (asyncio does the same).
    must_cancel_ = false;
    destroy_frames();
    mark_retrieved();
    finish_cancelled(std::make_exception_ptr(CancelledError(cancel_msg())));
  } else {
    take_result_from_root();
    destroy_frames();
    finish();
  }
  EventLoop* home = loop();
  if (cold_) [[unlikely]] {
    home->forget_step_name(id_);  // the slot of the loop that ran the last step
    if (cold_->home) home = cold_->home;
  }
  if (home == loop()) {
    if (!unlisted()) home->unlink_task(this);  // not if it finished in its first step
    drop_loop_reference();  // may delete this
  } else {
    // A migrated task: its home's task list is that loop's alone to touch. The loop's
    // reference goes with it there, so an awaiter owed one gets one of its own.
    ref_for_awaiter_if_owed();
    release_pending_ = true;
    home->schedule_threadsafe(this);
  }
}

bool TaskBase::cancel(std::string msg) {
  if (done()) return false;
  if (spawned_) return cancel_spawned(std::move(msg));
  EventLoop* loop = this->loop();
  EventLoop* here = t_running_loop;
  if (here != loop && (here != nullptr || loop->is_running())) {
    // Another thread: the task's state belongs to its loop. Post the request there.
    ref();
    try {
      loop->call_soon_threadsafe([this, msg = std::move(msg)]() mutable {
        cancel_here(std::move(msg));
        unref();
      });
    } catch (const RuntimeError&) {
      unref();  // the loop is closed: nothing will run the task again
      return false;
    }
    return true;
  }
  return cancel_here(std::move(msg));
}

bool TaskBase::cancel_spawned(std::string msg) {
  EventLoop* here = t_running_loop;
  EventLoop* target;
  bool hold = false;
  {
    std::lock_guard<SpinLock> guard(lock_);
    if (done()) return false;
    if (!started() || sched_ == kQueued) {
      // In a queue, possibly about to be taken by any loop: record the request for the next
      // step, which takes this lock before it runs.
      ++num_cancels_requested_;
      request_cancel_delivery(msg);
      return true;
    }
    target = loop();
    if (target == here && sched_ == kIdle) {
      // Suspended, with its wait registered on this loop: deliver here, as a step would, so
      // that a wake meanwhile cannot start a step on another loop.
      sched_ = kRunning;
      hold = true;
    }
  }
  if (target == here) {
    // Idle here (held above), or kRunning on this thread: inside the task's own step.
    bool pending = cancel_here(std::move(msg));
    if (hold) end_step_spawned();
    return pending;
  }
  // Running on another loop, or idle there: its loop decides when it gets there (and passes
  // the request on if the task has moved again).
  ref();
  try {
    target->call_soon_threadsafe([this, msg = std::move(msg)]() mutable {
      cancel_spawned(std::move(msg));
      unref();
    });
  } catch (const RuntimeError&) {
    unref();  // the loop is closed: nothing will run the task again
    return false;
  }
  return true;
}

bool TaskBase::cancel_here(std::string msg) {
  mark_retrieved();
  if (done()) return false;
  ++num_cancels_requested_;
  // The awaited future/task/timer may take charge (a Task awaited in turn is cancelled, and
  // may even refuse); otherwise deliver at the next resumption.
  if (waiting_on_ && waiting_on_->cancel_wait(msg)) return true;
  request_cancel_delivery(msg);
  return true;
}

void TaskBase::request_cancel_delivery(const std::string& msg) {
  must_cancel_ = true;
  cold().cancel_msg = msg;
}

void TaskBase::throw_cancelled() {
  must_cancel_ = false;
  throw CancelledError(cancel_msg());
}

int TaskBase::uncancel() {
  if (num_cancels_requested_ > 0) --num_cancels_requested_;
  // asyncio 3.13: withdrawing the last request also withdraws an undelivered one.
  if (num_cancels_requested_ == 0) must_cancel_ = false;
  return static_cast<int>(num_cancels_requested_);
}

void TaskBase::wake_from_wait() {
  if (spawned_) {
    wake_spawned();  // its next step forgets the WaitCanceller
    return;
  }
  EventLoop* loop = this->loop();
  if (t_running_loop == loop) {
    waiting_on_ = nullptr;
    loop->schedule(this);
  } else {
    loop->schedule_threadsafe(this);
  }
}

void TaskBase::wake() {
  if (spawned_) {
    wake_spawned();
    return;
  }
  EventLoop* loop = this->loop();
  if (t_running_loop == loop) {
    loop->schedule(this);
  } else {
    loop->schedule_threadsafe(this);
  }
}

std::coroutine_handle<> TaskBase::foreign_waker() {
  if (!waker_) waker_ = make_waker(this).handle;
  WakerCoroutine::of(waker_).promise().state.store(WakerCoroutine::kArmed,
                                                   std::memory_order_release);
  return waker_;
}

bool TaskBase::readable_here() const {
  if (current_task_or_null() == this) return true;
  EventLoop* here = t_running_loop;
  if (!spawned_) return loop() == here;
  std::lock_guard<SpinLock> guard(lock_);
  return pinned_ && loop() == here;
}

bool TaskBase::waiting_on_foreign() const {
  return waker_ && WakerCoroutine::of(waker_).promise().state.load(std::memory_order_acquire) ==
                       WakerCoroutine::kArmed;
}

std::string WaitCanceller::describe_wait() const { return readable_type_name(typeid(*this)); }

void TaskBase::disarm_foreign_waker() {
  if (waker_) {
    WakerCoroutine::of(waker_).promise().state.store(WakerCoroutine::kIdle,
                                                     std::memory_order_release);
  }
}

void TaskBase::discard() {
  if (release_pending_) {
    leave_task_list();
    return;
  }
  if (!spawned_ || started()) return;
  started_.store(true, std::memory_order_relaxed);
  abandon();
  unref();  // the queue's reference
}

void TaskBase::abandon() {
  if (done()) return;
  ExceptionContext ctx;
  ctx.message = "Task was destroyed but it is pending!";
  ctx.task = name();
  ctx.future = describe();
  ctx.source = site().to_string();
  // Destroying the frames runs the destructors of everything the coroutines hold, including
  // the awaiters, which unregister from timers and futures.
  destroy_frames();
  // A pinned task's last step ran on this loop, which is closing (on its own thread); a
  // spawned one's slot was cleared when its step ended.
  if (!spawned_) loop()->forget_step_name(id_);
  loop()->call_exception_handler(ctx);
}

void TaskBase::report_never_retrieved() {
  ExceptionContext ctx;
  ctx.message = "Task exception was never retrieved";
  ctx.exception = exception_;
  ctx.task = name();
  ctx.future = describe();
  ctx.source = site().to_string();
  if (loop_is_alive(loop())) {
    loop()->call_exception_handler(ctx);
  } else {
    print_exception_context(ctx);
  }
}

TaskBase* current_task_or_null() noexcept {
  EventLoop* loop = t_running_loop;
  return loop ? loop->current_task() : nullptr;
}

void pin_current_task() noexcept {
  if (EventLoop* loop = t_running_loop) {
    if (TaskBase* task = loop->current_task()) task->pin_to_loop();
  }
}

}  // namespace weft::internal
