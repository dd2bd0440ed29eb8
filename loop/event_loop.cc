#include "loop/event_loop.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_format.h"
#include "loop/errors.h"
#include "loop/spin_lock.h"
#include "loop/task_base.h"
#include "loop/watchdog.h"

namespace weft {
namespace internal {

constinit thread_local EventLoop* t_running_loop = nullptr;

namespace {

// Live loops, each with a serial number, so that a future that outlives its loop can tell
// before reporting through it, and a cross-thread completion can tell before posting to it
// (the serial tells a new loop at a recycled address from the one the completion was for).
// std::mutex rather than absl::Mutex: Debian's Abseil is not built for TSan, which would
// then not see this lock. Touched when a loop is created or destroyed, on rare reporting
// paths and by schedule_threadsafe_if_alive.
std::mutex g_loops_mu;
uint64_t g_next_loop_serial = 1;  // guarded by g_loops_mu
std::unordered_map<const EventLoop*, uint64_t>& live_loops() {
  static auto* loops = new std::unordered_map<const EventLoop*, uint64_t>();
  return *loops;
}

}  // namespace

std::string thread_name(std::thread::id id) {
  std::ostringstream os;
  os << id;
  return os.str();
}

bool loop_is_alive(const EventLoop* loop) {
  std::lock_guard<std::mutex> lock(g_loops_mu);
  return live_loops().count(loop) != 0;
}

void for_each_live_loop(absl::FunctionRef<void(EventLoop*, uint64_t)> visit) {
  std::lock_guard<std::mutex> lock(g_loops_mu);
  for (auto& [loop, serial] : live_loops()) visit(const_cast<EventLoop*>(loop), serial);
}

uint64_t loop_serial(const EventLoop* loop) {
  std::lock_guard<std::mutex> lock(g_loops_mu);
  auto it = live_loops().find(loop);
  return it == live_loops().end() ? 0 : it->second;
}

void schedule_threadsafe_if_alive(EventLoop* loop, uint64_t serial, Runnable* r) {
  {
    // Holding the registry lock keeps ~EventLoop from getting past its unregistration, so the
    // loop cannot go away while the item is pushed; the destructor then drains its inbox.
    std::lock_guard<std::mutex> lock(g_loops_mu);
    auto it = live_loops().find(loop);
    if (it != live_loops().end() && it->second == serial && loop->push_from_other_thread(r)) {
      return;
    }
  }
  r->discard();  // outside the lock: it may run destructors that take it
}

bool debug_from_environment() {
  static const bool enabled = [] {
    const char* v = std::getenv("WEFT_DEBUG");
    bool on = v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
    // Coros created outside any loop capture their creation stack too (creation_site.h),
    // from the first time the environment is read (the first EventLoop, at the latest).
    if (on) count_debug_loop(1);
    return on;
  }();
  return enabled;
}

}  // namespace internal

using internal::Runnable;
using internal::TaskBase;

EventLoop::EventLoop()
    : debug_(internal::debug_from_environment()),
      checked_batch_(debug_),
      stuck_threshold_(internal::default_stuck_threshold().count()) {
  if (std::optional<uint64_t> seed = internal::shuffle_seed_from_environment()) {
    enable_shuffle(*seed);
  }
  if (debug_) internal::count_debug_loop(1);
  std::lock_guard<std::mutex> lock(internal::g_loops_mu);
  internal::live_loops().emplace(this, internal::g_next_loop_serial++);
}

EventLoop::~EventLoop() {
  if (running_.load(std::memory_order_relaxed)) {
    ExceptionContext ctx;
    ctx.message =
        "EventLoop destroyed while running: a loop must be stopped and its run call must return "
        "before the loop is destroyed";
    print_exception_context(ctx);
    std::abort();
  }
  close();  // shuts the inbox: nothing can be sent to the loop from here on
  if (debug_) internal::count_debug_loop(-1);
  std::lock_guard<std::mutex> lock(internal::g_loops_mu);
  internal::live_loops().erase(this);
}

EventLoop* internal::running_loop_through_call() noexcept { return internal::t_running_loop; }

EventLoop& EventLoop::current() {
  EventLoop* loop = internal::t_running_loop;
  if (!loop) {
    throw RuntimeError(
        "no running event loop: EventLoop::current() was called on a thread where no loop is "
        "running. Call it from a coroutine or callback running on a loop, or start one with "
        "weft::run(main()) or loop.run_until_complete(...)");
  }
  return *loop;
}

void EventLoop::throw_closed(const char* what) const {
  throw RuntimeError(absl::StrFormat(
      "%s: Event loop is closed. A closed loop cannot run or schedule anything; create a new "
      "EventLoop (or use weft::run)",
      what));
}

void EventLoop::check_thread_slow(const char* what) const {
  // Runs on a thread that may not be the loop's: acquire pairs with enter_run's release, so
  // a thread that sees the loop running also sees which thread runs it.
  if (!running_.load(std::memory_order_acquire)) return;
  std::thread::id me = std::this_thread::get_id();
  std::thread::id owner = thread_id_.load(std::memory_order_relaxed);
  if (me == owner) return;
  throw RuntimeError(absl::StrFormat(
      "%s() was called from thread %s, but this loop runs on thread %s: loop-bound methods "
      "are not thread-safe. From another thread use loop.call_soon_threadsafe(fn), or "
      "run_coroutine_threadsafe(coro, loop) for a coroutine",
      what, internal::thread_name(me), internal::thread_name(owner)));
}

void EventLoop::check_can_run(const char* what) const {
  check_open(what);
  if (running_.load(std::memory_order_relaxed)) {
    throw RuntimeError(absl::StrFormat(
        "%s: this event loop is already running. Runs cannot be nested: from inside the loop, "
        "await the coroutine (or schedule it with create_task) instead",
        what));
  }
  if (internal::t_running_loop != nullptr) {
    throw RuntimeError(absl::StrFormat(
        "%s: cannot run this event loop while another loop is running on this thread (one loop "
        "per thread). Await the work on the running loop, or run this loop on its own thread",
        what));
  }
}

void EventLoop::enter_run(const char* what) {
  check_can_run(what);
  thread_id_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  running_.store(true, std::memory_order_release);  // publishes thread_id_ (check_thread_slow)
  internal::t_running_loop = this;
  internal::ensure_watchdog_running();
}

void EventLoop::leave_run() {
  stopping_ = false;
  until_done_ = nullptr;
  internal::t_running_loop = nullptr;
  running_.store(false, std::memory_order_relaxed);
  thread_id_.store({}, std::memory_order_relaxed);
}

void EventLoop::run_forever() {
  enter_run("run_forever");
  try {
    for (;;) {
      run_once();
      if (stopping_) break;
    }
  } catch (...) {
    leave_run();
    throw;
  }
  leave_run();
}

void EventLoop::run_until_done(TaskBase& task) {
  enter_run("run_until_complete");
  until_done_ = &task;  // cleared by leave_run
  try {
    while (!task.done()) {
      run_once();
      if (stopping_ && !task.done()) {
        leave_run();
        throw RuntimeError(
            "run_until_complete: the event loop was stopped before the task completed; call "
            "stop() only from code that runs after the awaited work is done, or use "
            "run_forever()");
      }
    }
  } catch (const RuntimeError&) {
    if (running_.load(std::memory_order_relaxed)) leave_run();
    throw;
  } catch (...) {
    leave_run();
    throw;
  }
  leave_run();
}

void EventLoop::stop() { stopping_ = true; }

// Items the batch made ready run in the same batch when the step boundary between them and
// the batch would be visible only as its cost: no timer is pending (due timers join the ready
// queue at the boundary, ahead of what the batch queued), nothing came from another thread
// (it queues behind them at the boundary anyway, but should not wait long), the loop's own
// migratable work is not waiting (take_local runs at the boundary), the loop is not stopping
// (stop() lets the current batch finish, no more), run_until_complete's task is not done (it
// returns after the batch that completed the task, before the callbacks that batch queued),
// and the I/O poll is not due. The order of the ready queue is unchanged. A loop whose tasks
// wake each other one at a time (W3l) then runs a boundary per kMaxBatch items instead of one
// per item: about 115 instructions fewer per item.
void EventLoop::run_batch_extension() {
  size_t ran = 0;
  const bool watches = poller_.has_watches();
  while (!ready_.empty() && ran < kMaxBatch && !stopping_ &&
         !(until_done_ && until_done_->done()) && timers_.empty() &&
         inbox_.empty() && !(watches && items_since_io_poll_ >= kIoPollInterval) &&
         !(source_ && source_->has_local_work())) {
    ready_.pop_front()->run();
    ++ran;
    ++items_since_io_poll_;
  }
  if (ran > 0) count_items_run(ran);
}

void EventLoop::run_once() {
  // The clock is read at most once before the park decision, and once after a park (that
  // reading also serves the timers).
  TimePoint now{};
  bool have_now = false;
  bool parked = false;  // `now` was read as the park ended
  auto now_once = [&] {
    if (!have_now) {
      now = Clock::now();
      have_now = true;
    }
    return now;
  };

  // Migratable work of this loop (spawned tasks not started yet) joins the ready queue a
  // slice at a time, so the rest stays stealable by idle siblings.
  if (source_) {
    source_->take_local(ready_, kMaxBatch);
    if (ready_.empty() && inbox_.empty() &&
        (timers_.empty() || timers_.next_deadline() > now_once())) {
      source_->find_work(ready_);
    }
  }

  // Wait for I/O only when nothing is ready; otherwise look (without waiting) after every
  // kIoPollInterval items so that busy loops still see their sockets.
  int64_t timeout_ns;
  if (!ready_.empty() || stopping_) {
    timeout_ns = 0;
  } else if (timers_.empty()) {
    timeout_ns = -1;
  } else {
    auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(timers_.next_deadline() -
                                                                     now_once());
    timeout_ns = std::max<int64_t>(0, wait.count());
  }

  bool spun = false;
  if (timeout_ns != 0 && did_work_ && spin_.budget() > Duration::zero()) {
    spun = true;
    have_now = false;  // the spin takes time
    if (spin_for_work(spin_.budget())) {
      spin_.on_work_found();
      timeout_ns = 0;
    }
  }

  if (timeout_ns != 0) {
    // Parking protocol, the consumer side. A producer pushes to the inbox (or a run queue),
    // then reads `parked_` (or the scheduler's idle state); we set `parked_` (and the
    // scheduler's count, on_park), then look for work. Both sides are sequentially
    // consistent, so at least one sees the other: either we find the item and do not block,
    // or the producer sees us parked and writes the eventfd.
    parked_.store(true, std::memory_order_seq_cst);
    int64_t park_limit_ns = source_ ? source_->on_park() : -1;
    if (!inbox_.empty() || (source_ && source_->has_work())) {
      // Work came just after we looked. Not polled: a wake written meanwhile stays in the
      // eventfd (with wake_pending_ set) and ends the next park at once.
      if (spun) spin_.on_work_found();
    } else {
      if (park_limit_ns >= 0 && (timeout_ns < 0 || park_limit_ns < timeout_ns)) {
        timeout_ns = park_limit_ns;
      }
      bump(parks_);
      TimePoint parked_at = now_once();
      int64_t nap_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           coalescing_.nap_before_wait(parked_at, poller_.last_io_events()))
                           .count();
      if (timeout_ns >= 0 && timeout_ns <= nap_ns) nap_ns = 0;  // a timer is due first
      if (nap_ns > 0) bump(io_naps_);
      bool woke = poller_.poll(timeout_ns, ready_, nap_ns);
      now = Clock::now();
      have_now = parked = true;
      coalescing_.on_poll(now, poller_.last_io_events());
      Duration parked_for = now - parked_at;
      poll_time_.record(parked_for);
      spin_.on_park_ended(/*woken_by_thread=*/woke, parked_for);
      if (woke) wake_pending_.store(false, std::memory_order_seq_cst);
      items_since_io_poll_ = 0;
    }
    parked_.store(false, std::memory_order_relaxed);
    if (source_) source_->on_unpark();
  } else if (items_since_io_poll_ >= kIoPollInterval && poller_.has_watches()) {
    if (poller_.poll(0, ready_)) wake_pending_.store(false, std::memory_order_seq_cst);
    items_since_io_poll_ = 0;
    // The clock is read only for a loop that coalesces.
    if (coalescing_.enabled()) coalescing_.on_poll(Clock::now(), poller_.last_io_events());
  }

  if (size_t remote = inbox_.take_all(ready_)) bump(remote_items_, remote);

  if (!timers_.empty()) {
    // A reading taken before a batch that is about to run would make a timer that falls due
    // meanwhile wait one more batch: only the one taken after a park is reused.
    TimePoint due_by = parked ? now : Clock::now();
    while (internal::TimerBase* t = timers_.pop_due(due_by)) t->on_due();
  }

  // Run the items that were ready when the batch started, at most kMaxBatch of them.
  size_t n = std::min(ready_.size(), kMaxBatch);
  const size_t batch_size = n;
  did_work_ = n > 0;
  inline_runs_left_ = kInlineRunsPerBatch;
  items_since_io_poll_ += static_cast<uint32_t>(n);
  if (n > 0) count_items_run(n);
  // The watchdog sees progress through step_seq_, one plain store per batch; each item says
  // what it is (TaskBase::run, CallbackNode::run).
  bump(step_seq_);
  if (checked_batch_) [[unlikely]] {
    run_batch_checked(n);  // event_loop_debug.cc
  } else {
    while (n-- > 0) ready_.pop_front()->run();
    // A task a step has just spawned to run next (a chain of spawns, W4) runs now, not one
    // loop iteration (inbox, poll check, timers, take_local) later. Bounded by the LIFO
    // streak, so the poll, the timers and the other queued work still come round.
    if (source_) {
      uint32_t spawned = 0;
      while (internal::TaskBase* t = source_->take_next_spawned()) {
        ++spawned;
        t->run();
      }
      if (spawned > 0) {
        bump(items_run_, spawned);
        items_since_io_poll_ += spawned;
        did_work_ = true;
      }
    }
    // Only after a small batch: the extension's checks (about 13 instructions an item) pay
    // off where a step boundary (about 115) is shared by few items.
    if (batch_size <= kSmallBatch) run_batch_extension();
  }
  ready_size_.store(ready_.size(), std::memory_order_relaxed);
  timers_size_.store(timers_.size(), std::memory_order_relaxed);
}

bool EventLoop::spin_for_work(Duration budget) {
  // Checked with plain loads: a hint only; the parking handshake that follows is the
  // authoritative check.
  TimePoint deadline = Clock::now() + budget;
  uint32_t i = 0;
  for (;;) {
    if (!inbox_.empty() || (source_ && source_->has_work())) return true;
    if ((++i & 63) == 0 && Clock::now() >= deadline) return false;
    internal::cpu_relax();
  }
}

bool EventLoop::notify() {
  // The plain load first: a producer that keeps pushing while the loop is still waking up
  // (a wake pending) then writes nothing. It cannot see a stale `true`: the loop clears the
  // flag before it sets `parked_` again, and we read `parked_` (seq_cst) first.
  if (parked_.load(std::memory_order_seq_cst) &&
      !wake_pending_.load(std::memory_order_relaxed) &&
      !wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    poller_.wake();
    return true;
  }
  return false;
}

void EventLoop::set_stuck_threshold(Duration d) {
  stuck_threshold_.store(std::max(Duration::zero(), d).count(), std::memory_order_relaxed);
  internal::wake_watchdog();
}

void EventLoop::maybe_sample_delay() {
  if (delay_probe_.armed) return;
  delay_probe_.armed = true;
  delay_probe_.queued_at = Clock::now();
  ready_.push_back(&delay_probe_);  // behind this batch: it runs in the next one
}

void EventLoop::DelayProbe::run() {
  armed = false;
  loop_->sched_delay_.record(Clock::now() - queued_at);
}

std::string EventLoop::stats_text() const {
  Stats s = stats();
  return absl::StrFormat(
      "items_run=%d inline_runs=%d parks=%d io_naps=%d remote_items=%d ready=%d timers=%d "
      "poll_time: %s; sched_delay (sampled): %s",
      s.items_run, s.inline_runs, s.parks, s.io_naps, s.remote_items, s.ready, s.timers,
      s.poll_time.summary(), s.sched_delay.summary());
}

EventLoop::Stats EventLoop::stats() const {
  Stats s;
  s.items_run = items_run_.load(std::memory_order_relaxed);
  s.inline_runs = inline_runs_.load(std::memory_order_relaxed);
  s.parks = parks_.load(std::memory_order_relaxed);
  s.io_naps = io_naps_.load(std::memory_order_relaxed);
  s.remote_items = remote_items_.load(std::memory_order_relaxed);
  s.ready = ready_size_.load(std::memory_order_relaxed);
  s.timers = timers_size_.load(std::memory_order_relaxed);
  s.poll_time = poll_time_.snapshot();
  s.sched_delay = sched_delay_.snapshot();
  return s;
}

void EventLoop::close() {
  if (running_.load(std::memory_order_relaxed)) {
    throw RuntimeError(
        "close(): cannot close a running event loop. Call stop() and close the loop after "
        "run_forever()/run_until_complete() has returned");
  }
  if (closed_.load(std::memory_order_acquire)) return;
  // Destroying a pending task's frames runs user destructors, which may schedule more work:
  // repeat until nothing is left.
  for (int round = 0; round < 100; ++round) {
    inbox_.take_all(ready_);
    while (!ready_.empty()) ready_.pop_front()->discard();
    std::vector<TaskBase*> tasks = pending_tasks_snapshot();
    for (TaskBase* t : tasks) {
      t->abandon();
      if (!t->done() && t->in_task_list()) release_task(t);
      t->unref();
    }
    if (tasks.empty() && ready_.empty() && inbox_.empty()) break;
  }
  // Other threads may be inside schedule_threadsafe: shut the inbox, wait until they are out
  // (a push and an eventfd write at most), then discard what they sent.
  inbox_closed_.store(true, std::memory_order_seq_cst);
  while (producers_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  inbox_.take_all(ready_);
  while (!ready_.empty()) ready_.pop_front()->discard();
  while (internal::TimerBase* t = timers_.pop_any()) t->on_dropped();
  asyncgens_.detach_all();  // their owners destroy them later, without this loop
  poller_.close();
  closed_.store(true, std::memory_order_release);
}

void EventLoop::schedule_threadsafe(Runnable* r) {
  if (!push_from_other_thread(r)) r->discard();  // a closed loop drops it, not an error
}

bool EventLoop::push_from_other_thread(Runnable* r) {
  // seq_cst on both sides of the gate (see close()): either close() sees this producer
  // counted and waits for it, or this producer sees the inbox shut.
  producers_.fetch_add(1, std::memory_order_seq_cst);
  bool open = !inbox_closed_.load(std::memory_order_seq_cst);
  if (open) {
    inbox_.push(r);
    notify();  // parking protocol, the producer side (see run_once)
  }
  producers_.fetch_sub(1, std::memory_order_release);  // the last touch of the loop
  return open;
}

Handle EventLoop::call_soon(absl::AnyInvocable<void()> fn, const char* file, unsigned line) {
  check_open("call_soon");
  // Debug mode's checks and creation site are out of line: `file` and `line` are dead on the
  // fast path, so passing them costs two register moves at the call site and nothing here.
  if (debug_) [[unlikely]] return call_soon_debug(std::move(fn), file, line);
  internal::pin_current_task();
  auto* node = new internal::CallbackNode(this, std::move(fn), /*refs=*/2);
  ready_.push_back(node);
  return Handle(node);
}

Handle EventLoop::call_soon_debug(absl::AnyInvocable<void()>&& fn, const char* file,
                                  unsigned line) {
  check_thread_slow("call_soon");
  internal::pin_current_task();
  auto* node = new internal::Sited<internal::CallbackNode>(internal::CallSite{file, line}, this,
                                                            std::move(fn), /*refs=*/2);
  ready_.push_back(node);
  return Handle(node);
}

Handle EventLoop::call_soon_threadsafe(absl::AnyInvocable<void()> fn) {
  check_open("call_soon_threadsafe");
  auto* node = new internal::CallbackNode(this, std::move(fn), /*refs=*/2);
  schedule_threadsafe(node);
  return Handle(node);
}

TimerHandle EventLoop::call_later(Duration delay, absl::AnyInvocable<void()> fn,
                                  const char* file, unsigned line) {
  check_open("call_later");
  // As call_soon: the site is used only on the out-of-line debug path.
  if (debug_) [[unlikely]] {
    return add_timer_debug("call_later", time() + delay, std::move(fn), file, line);
  }
  internal::pin_current_task();
  return add_timer(time() + delay, std::move(fn));
}

TimerHandle EventLoop::call_at(TimePoint when, absl::AnyInvocable<void()> fn, const char* file,
                               unsigned line) {
  check_open("call_at");
  if (debug_) [[unlikely]] return add_timer_debug("call_at", when, std::move(fn), file, line);
  internal::pin_current_task();
  return add_timer(when, std::move(fn));
}

TimerHandle EventLoop::add_timer_debug(const char* what, TimePoint when,
                                       absl::AnyInvocable<void()>&& fn, const char* file,
                                       unsigned line) {
  check_thread_slow(what);
  internal::pin_current_task();
  auto* node = new internal::Sited<internal::TimerCallbackNode>(internal::CallSite{file, line},
                                                                 this, std::move(fn), /*refs=*/2);
  timers_.push(node, when);
  return TimerHandle(node);
}

TimerHandle EventLoop::add_timer(TimePoint when, absl::AnyInvocable<void()>&& fn) {
  auto* node = new internal::TimerCallbackNode(this, std::move(fn), /*refs=*/2);
  timers_.push(node, when);
  return TimerHandle(node);
}

void EventLoop::set_io(int fd, absl::AnyInvocable<void()> fn, bool reader) {
  check_open(reader ? "add_reader" : "add_writer");
  check_thread(reader ? "add_reader" : "add_writer");
  internal::pin_current_task();
  auto* node = new internal::CallbackNode(this, std::move(fn), /*refs=*/1);
  if (reader) {
    poller_.set_reader(fd, node);
  } else {
    poller_.set_writer(fd, node);
  }
}

void EventLoop::add_reader(int fd, absl::AnyInvocable<void()> fn) { set_io(fd, std::move(fn), true); }
void EventLoop::add_writer(int fd, absl::AnyInvocable<void()> fn) {
  set_io(fd, std::move(fn), false);
}
bool EventLoop::remove_reader(int fd) {
  check_thread("remove_reader");
  return !is_closed() && poller_.clear_reader(fd);
}
bool EventLoop::remove_writer(int fd) {
  check_thread("remove_writer");
  return !is_closed() && poller_.clear_writer(fd);
}

void EventLoop::set_exception_handler(ExceptionHandler handler) { handler_ = std::move(handler); }

void EventLoop::default_exception_handler(const ExceptionContext& context) {
  print_exception_context(context);
}

void EventLoop::call_exception_handler(const ExceptionContext& context) {
  if (!handler_) {
    default_exception_handler(context);
    return;
  }
  try {
    handler_(*this, context);
  } catch (...) {
    ExceptionContext failure;
    failure.message = "Unhandled error in exception handler";
    failure.exception = std::current_exception();
    default_exception_handler(failure);
    default_exception_handler(context);
  }
}

void EventLoop::adopt_task(TaskBase* task) {
  link_task(task);
  schedule(task);
}

void EventLoop::link_task(TaskBase* task) {
  task->prev_in_loop = tasks_tail_;
  task->next_in_loop = nullptr;
  if (tasks_tail_) {
    tasks_tail_->next_in_loop = task;
  } else {
    tasks_head_ = task;
  }
  tasks_tail_ = task;
  ++num_tasks_;
}

void EventLoop::release_task(TaskBase* task) {
  unlink_task(task);
  task->unref();
}

void EventLoop::unlink_task(TaskBase* task) {
  if (task->prev_in_loop) {
    task->prev_in_loop->next_in_loop = task->next_in_loop;
  } else {
    tasks_head_ = task->next_in_loop;
  }
  if (task->next_in_loop) {
    task->next_in_loop->prev_in_loop = task->prev_in_loop;
  } else {
    tasks_tail_ = task->prev_in_loop;
  }
  // Marks "not in the list" (a task is never its own neighbour otherwise).
  task->prev_in_loop = task->next_in_loop = task;
  --num_tasks_;
}

TaskBase* EventLoop::pending_unlisted_task() const {
  // A spawned task in its first step joins the list only at the step's end (task_base.h).
  TaskBase* t = current_task_;
  return t && t->unlisted() && !t->done() ? t : nullptr;
}

size_t EventLoop::num_pending_tasks() const {
  return num_tasks_ + (pending_unlisted_task() ? 1 : 0);
}

std::vector<TaskBase*> EventLoop::pending_tasks_snapshot() const {
  std::vector<TaskBase*> out;
  out.reserve(num_tasks_ + 1);
  for (TaskBase* t = tasks_head_; t; t = t->next_in_loop) {
    t->ref();
    out.push_back(t);
  }
  if (TaskBase* t = pending_unlisted_task()) {
    t->ref();
    out.push_back(t);
  }
  return out;
}

}  // namespace weft
