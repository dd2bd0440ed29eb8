// EventLoop: one event loop per OS thread (asyncio's event loop).
//
//   weft::EventLoop loop;
//   loop.call_soon([] { std::puts("hello"); });
//   int v = loop.run_until_complete(compute());   // runs the loop until compute() is done
//   loop.close();
//
// Most programs use weft::run(main_coro()) (run.h) instead, which creates, runs, cleans up
// and closes a loop.
//
// One step of the loop (run_once): poll I/O (with a timeout up to the next timer, or none
// when something is ready), take what other threads sent, move due timers to the ready
// queue, then run a bounded batch of ready items in FIFO order. Items scheduled while the
// batch runs wait for the next step, as in asyncio, except when nothing could come between
// them and the batch (no timer pending, nothing from another thread, not stopping: see
// run_batch_extension); then the batch goes on with them, in the same order. When the ready
// queue is busy, I/O is still polled (without waiting) after every kIoPollInterval items, so
// a loop full of yielding tasks cannot starve its sockets.
//
// Thread-safety: "owning loop only" means the thread running the loop (or, before it first
// runs, any one thread at a time). call_soon_threadsafe is the one method any thread may
// call. In debug mode (set_debug(true) or WEFT_DEBUG=1 in the environment), loop-bound
// methods called from another thread while the loop runs raise RuntimeError naming the
// method, both threads, and what to use instead.
//
// Misuse: running a loop that is running or closed, running a second loop on a thread that
// already runs one, and scheduling on a closed loop raise RuntimeError with what to do
// instead. A callback that throws goes to the exception handler and the loop goes on.
#ifndef WEFT_LOOP_EVENT_LOOP_H_
#define WEFT_LOOP_EVENT_LOOP_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "loop/asyncgen_registry.h"
#include "loop/adaptive_spin.h"
#include "loop/clock.h"
#include "loop/exception_context.h"
#include "loop/handle.h"
#include "loop/histogram.h"
#include "loop/inbox.h"
#include "loop/io_coalescing.h"
#include "loop/poller.h"
#include "loop/runnable.h"
#include "loop/task_name.h"
#include "loop/timer_queue.h"
#include "loop/work_source.h"

namespace weft {

template <class T>
class Coro;
template <class T>
class Task;
template <class T>
class Future;

namespace internal {
class TaskBase;
void schedule_threadsafe_if_alive(EventLoop* loop, uint64_t serial, Runnable* r);
// EventLoop::run_in_executor's body: an unqualified call from outside the class, so that
// argument-dependent lookup finds weft::run_in_executor (scheduler/executor_call.h) where
// it is instantiated (inside the class, the member's own name would hide it).
template <class Executor, class... Args>
auto submit_to_executor(Executor& executor, Args&&... args) {
  return run_in_executor(executor, std::forward<Args>(args)...);
}
}  // namespace internal

class EventLoop {
 public:
  using ExceptionHandler = absl::AnyInvocable<void(EventLoop&, const ExceptionContext&)>;

  // After this many ready items have run, poll I/O even if more are ready.
  static constexpr uint32_t kIoPollInterval = 256;
  // The most ready items one step runs.
  static constexpr size_t kMaxBatch = 256;

  EventLoop();
  // Closes the loop if it is not closed. Must not be called while the loop runs.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // The loop running on this thread. Raises RuntimeError if none is.
  static EventLoop& current();
  // The loop running on this thread, or nullptr.
  static EventLoop* current_or_null() noexcept;

  // --- Running and stopping. Owning thread. ---
  // Wraps `coro` in a Task, runs the loop until it is done, and returns its result or
  // rethrows its exception (CancelledError if it was cancelled).
  template <class T>
  T run_until_complete(Coro<T> coro);
  template <class T>
  T run_until_complete(Task<T> task);
  // Runs until stop() is called.
  void run_forever();
  // Makes run_forever (or run_until_complete) return after the current step. From another
  // thread: loop.call_soon_threadsafe([&] { loop.stop(); }).
  void stop();
  // Drops everything still scheduled (pending tasks are destroyed and reported), releases
  // the poller. Idempotent. Raises RuntimeError if the loop is running.
  void close();
  bool is_running() const { return running_.load(std::memory_order_relaxed); }
  bool is_closed() const { return closed_.load(std::memory_order_acquire); }
  // The thread running the loop (a default id when it is not running). Any thread.
  std::thread::id thread_id() const { return thread_id_.load(std::memory_order_relaxed); }

  // --- Scheduling callbacks. Owning loop only, except call_soon_threadsafe. ---
  // `file` and `line` are the caller's (leave them defaulted): in debug mode the Handle
  // remembers them, and every report about it says where it was scheduled ("<Handle created
  // at file:line>"); otherwise they are ignored.
  Handle call_soon(absl::AnyInvocable<void()> fn, const char* file = __builtin_FILE(),
                   unsigned line = __builtin_LINE());
  // Any thread. Wakes the loop if it is parked; a burst of calls costs one wake-up.
  Handle call_soon_threadsafe(absl::AnyInvocable<void()> fn);
  TimerHandle call_later(Duration delay, absl::AnyInvocable<void()> fn,
                         const char* file = __builtin_FILE(), unsigned line = __builtin_LINE());
  TimerHandle call_at(TimePoint when, absl::AnyInvocable<void()> fn,
                      const char* file = __builtin_FILE(), unsigned line = __builtin_LINE());
  // The loop's clock (monotonic).
  TimePoint time() const { return Clock::now(); }

  // --- File descriptors (level-triggered readiness). Owning loop only. ---
  // fn runs whenever fd is readable (writable), until removed. Replaces a previous one.
  void add_reader(int fd, absl::AnyInvocable<void()> fn);
  void add_writer(int fd, absl::AnyInvocable<void()> fn);
  // Returns whether a callback was registered.
  bool remove_reader(int fd);
  bool remove_writer(int fd);

  // --- Unix signals (loop/signals.h). Main thread only. ---
  // Runs fn on this loop whenever signal `sig` arrives; replaces a previous handler.
  void add_signal_handler(int sig, absl::AnyInvocable<void()> fn);
  // Returns whether a handler was registered.
  bool remove_signal_handler(int sig);

  // --- Futures and tasks. Owning loop only. ---
  // In debug mode the Future remembers where it was created (`file`, `line`: leave them
  // defaulted) and its reports say so ("<Future pending created at file:line>").
  template <class T = void>
  Future<T> create_future(const char* file = __builtin_FILE(), unsigned line = __builtin_LINE());
  // In debug mode the task remembers where it was created (leave `file`, `line` defaulted),
  // and describe() and every report about it end with " created at file:line". `name` is
  // copied only when not empty (an unnamed task is "Task-<id>" and costs no string).
  template <class T>
  Task<T> create_task(Coro<T> coro, std::string_view name = {},
                      const char* file = __builtin_FILE(), unsigned line = __builtin_LINE());

  // --- Blocking calls (scheduler/executor_call.h). ---
  // asyncio's loop.run_in_executor(executor, fn, *args): weft::run_in_executor(executor, fn,
  // args...), spelled as asyncio spells it; `executor` is a weft::Executor (BlockingPool,
  // CpuExecutor, ...), and scheduler/executor_call.h must be included where it is called
  // (loop/ does not depend on scheduler/: the call is found through `executor`'s type). For
  // the default executor (asyncio's None) use weft::to_thread or weft::run_in_executor(fn).
  // Any thread; await the result in a Coro running in a Task.
  template <class Executor, class F, class... Args>
  auto run_in_executor(Executor& executor, F&& fn, Args&&... args) {
    return internal::submit_to_executor(executor, std::forward<F>(fn),
                                        std::forward<Args>(args)...);
  }

  // --- Errors nobody else can receive. ---
  // nullptr restores the default handler. Owning loop only.
  void set_exception_handler(ExceptionHandler handler);
  // Prints the context to stderr.
  void default_exception_handler(const ExceptionContext& context);
  // Calls the handler (or the default one). If the handler throws, the default handler
  // reports both. Any thread that owns the loop.
  void call_exception_handler(const ExceptionContext& context);

  // --- Debug mode. ---
  void set_debug(bool enabled);
  bool get_debug() const { return debug_; }
  // In debug mode, a callback or task step that runs longer than this is reported through
  // the exception handler: "Executing <Task pending name='x' ...> took 0.150 seconds", with
  // where the task's coroutine is defined. Default 100 ms. Owning loop only.
  void set_slow_callback_duration(Duration d) { slow_callback_duration_ = d; }
  Duration slow_callback_duration() const { return slow_callback_duration_; }

  // --- Shuffle mode (a test aid; debug mode not needed). ---
  // Each batch runs its task steps in an order drawn from a generator seeded with `seed`
  // (callbacks keep their FIFO order, which asyncio promises; the order in which woken
  // tasks run is not promised). Code that works only in the default order has a bug that
  // other timings would show. The same seed replays the same order on a single loop.
  // WEFT_SHUFFLE=<seed> in the environment enables it for every loop (WEFT_SHUFFLE=1: a
  // random seed, printed to stderr once). Owning loop only.
  void enable_shuffle(uint64_t seed);
  void disable_shuffle() {
    shuffle_ = false;
    checked_batch_ = debug_;
  }
  bool shuffle_enabled() const { return shuffle_; }

  // --- The stuck-loop watchdog (watchdog.h). ---
  // A task step or callback that keeps the loop from returning to its poll for longer than
  // this is reported from the watchdog thread while it still runs. Zero turns it off for
  // this loop. Default: 1 s (WEFT_STUCK_THRESHOLD_MS in the environment overrides it; 0 is
  // off). Any thread.
  void set_stuck_threshold(Duration d);
  Duration stuck_threshold() const {
    return Duration(stuck_threshold_.load(std::memory_order_relaxed));
  }
  // What the watchdog reads, any thread: the number of the batch of ready items running (or
  // last run: it moves each time the loop comes back from its poll with work), and, when the
  // item running is a task step, the task's id and its coroutine's name (a string with
  // static storage, so safe to read after the task is gone); nullptr for a callback.
  uint64_t step_seq() const { return step_seq_.load(std::memory_order_relaxed); }
  const char* step_coroutine() const { return step_coroutine_.load(std::memory_order_acquire); }
  uint64_t step_task_id() const { return step_task_id_.load(std::memory_order_relaxed); }
  // Called by a task step as it starts (two plain stores).
  void publish_task_step(uint64_t task_id, const char* coroutine) {
    step_task_id_.store(task_id, std::memory_order_relaxed);
    step_coroutine_.store(coroutine, std::memory_order_release);
  }
  // Called by a callback as it starts (one plain store).
  void publish_callback_step() { step_coroutine_.store(nullptr, std::memory_order_relaxed); }
  // The name of the task whose step is running, if it was given one and its id is
  // `task_id`; "" otherwise (an unnamed task is "Task-<id>"). Any thread, one reader at a
  // time (task_name.h); the loop must be alive.
  std::string step_task_name(uint64_t task_id) const {
    return internal::read_published_name(step_name_, task_id);
  }
  // A named task's step publishes its name (task_name.h); an unnamed task's step leaves the
  // slot as it is (the reader checks the task id). Owning thread.
  void publish_step_name(const internal::TaskName* name) {
    step_name_.store(name, std::memory_order_release);
  }
  // Clears the slot if it holds a name of task `task_id`: before the task can be freed (it
  // completes, it is abandoned) or run elsewhere (a spawned task's step ends), so that the
  // slot only ever holds names of live tasks. Owning thread.
  void forget_step_name(uint64_t task_id) {
    const internal::TaskName* n = step_name_.load(std::memory_order_relaxed);
    if (n != nullptr && n->task_id == task_id) step_name_.store(nullptr, std::memory_order_relaxed);
  }

  // --- Counters, readable from any thread at any time (relaxed). ---
  struct Stats {
    uint64_t items_run = 0;     // callbacks and task steps run
    uint64_t inline_runs = 0;   // spawned tasks started by a task awaiting them (their first
                                // step, nested in the awaiter's; not in items_run)
    uint64_t parks = 0;         // times the loop blocked in epoll
    uint64_t io_naps = 0;       // parks that began with an I/O coalescing nap
    uint64_t remote_items = 0;  // items received from other threads (the inbox)
    size_t ready = 0;           // ready items waiting
    size_t timers = 0;          // armed timers
    // How long each park lasted (the loop blocked in epoll until I/O, a timer or a wake-up).
    HistogramSnapshot poll_time;
    // Scheduling delay, sampled: once every kDelaySampleInterval items run, a probe item is
    // queued behind the current batch; the time until it runs is what a task woken at
    // that moment waits for its turn (the rest of the batch, the poll, the timers).
    HistogramSnapshot sched_delay;
  };
  static constexpr uint32_t kDelaySampleInterval = 256;  // a power of two
  Stats stats() const;
  // The counters and histograms as one line of text.
  std::string stats_text() const;

  // --- Introspection. ---
  // Tasks created on this loop that are not done yet. Owning loop only.
  size_t num_pending_tasks() const;
  // Ready items waiting to run.
  size_t num_ready() const { return ready_.size(); }

  // --- Internal: for weft's own awaitables and the scheduler. ---
  // Owning thread: queue a Runnable at the back of the ready queue.
  void schedule(internal::Runnable* r) { ready_.push_back(r); }
  // Any thread: hand a Runnable to the loop. On a closed (or closing) loop it is discarded.
  // The loop must not be destroyed before the call has returned; close() waits for calls
  // already under way, so a caller that has handed over the item may still be returning.
  void schedule_threadsafe(internal::Runnable* r);
  internal::TimerQueue& timer_queue() { return timers_; }
  // The epoll poller (FdWatch registers its descriptors here). Owning thread.
  internal::Poller& poller() { return poller_; }
  // Async generators started on this loop and not finished (for weft::run's shutdown).
  internal::AsyncGenRegistry& asyncgens() { return asyncgens_; }
  internal::TaskBase* current_task() const { return current_task_; }
  void set_current_task(internal::TaskBase* t) { current_task_ = t; }
  // A task created on this loop: the loop takes a reference and schedules its first step.
  void adopt_task(internal::TaskBase* task);
  // A spawned task whose first step on this loop did not finish it, or one about to run
  // others nested in its first step (task_base.h): adds it to the loop's pending tasks; the
  // reference it came with becomes the loop's.
  void link_task(internal::TaskBase* task);
  // The scheduler's hook (see work_source.h); set before the loop first runs.
  void set_work_source(internal::WorkSource* source) { source_ = source; }
  internal::WorkSource* work_source() const { return source_; }
  // Awaiting a spawned task that has not started runs it at once, nested in the awaiting
  // task's step (TaskBase::run_awaited_inline). These bound that: how deep such runs nest
  // (each level is a few C++ stack frames) and how many one batch may do (the loop must
  // still come back to its poll, its timers and its other tasks). Owning thread.
  static constexpr uint32_t kMaxInlineDepth = 48;
  static constexpr uint32_t kInlineRunsPerBatch = 4096;
  bool enter_inline_runs() {
    if (inline_depth_ >= kMaxInlineDepth || inline_runs_left_ == 0) return false;
    ++inline_depth_;
    return true;
  }
  bool spend_inline_run() {
    if (inline_runs_left_ == 0) return false;
    --inline_runs_left_;
    inline_runs_.store(inline_runs_.load(std::memory_order_relaxed) + 1,
                       std::memory_order_relaxed);
    return true;
  }
  void leave_inline_runs() { --inline_depth_; }
  // Before parking, spin at most this long checking for work from other threads (0: never).
  // A wake-up from a parked state costs tens of microseconds on a VM; a short spin after a
  // burst of work avoids it for ping-pong traffic, at the cost of that much CPU. The spin is
  // adaptive (loop/adaptive_spin.h): it shrinks to nothing on a loop whose work arrives by
  // I/O or timers, or after long idle gaps, and grows back while work from other threads
  // keeps arriving sooner than this limit. Owning loop only (or before it runs).
  void set_spin_before_park(Duration d) { spin_.set_limit(d); }
  // I/O coalescing (loop/io_coalescing.h): when its sockets keep it busy, the loop may nap up
  // to `nap` before it blocks in epoll, so that peers writing to it do not pay for waking it
  // and their data comes in larger batches. The loop switches naps on only while a test,
  // repeated every 10 s while it stays busy, shows that it then handles at least 5% more
  // descriptor events; an idle loop never naps. A wake-up from another thread ends a nap at
  // once. 0 turns it off.
  // Owning loop only (or before it runs).
  void set_io_coalescing(Duration nap) { coalescing_.set_nap(nap); }
  Duration io_coalescing() const { return coalescing_.nap(); }
  // Any thread: make a parked loop return from its poll (coalesced). Returns whether this
  // call wrote the wake-up (false: the loop was not parked, or a wake was already pending).
  bool notify();
  // Whether the loop is blocked (or about to block) in its poll. Any thread.
  bool parked() const { return parked_.load(std::memory_order_seq_cst); }
  // The task is done: the loop forgets it and drops its reference.
  void release_task(internal::TaskBase* task);
  // release_task's first half, for a finishing task's own step, which drops the reference
  // itself (TaskBase::drop_loop_reference: it may hand it to an awaiter).
  void unlink_task(internal::TaskBase* task);
  // Pending tasks, oldest first (a snapshot with a reference each: callers unref).
  std::vector<internal::TaskBase*> pending_tasks_snapshot() const;
  // The running task if it is pending but not yet in the list (a spawned task's first step),
  // else nullptr.
  internal::TaskBase* pending_unlisted_task() const;
  // Raises RuntimeError("Event loop is closed; ...") naming `what`. Inline: every call_soon
  // and create_task checks it.
  void check_open(const char* what) const {
    if (closed_.load(std::memory_order_acquire)) [[unlikely]] throw_closed(what);
  }
  // Raises RuntimeError unless this thread could start running the loop now: the loop is
  // closed, already running, or another loop runs on this thread.
  void check_can_run(const char* what) const;
  // In debug mode, raises RuntimeError if called from a thread other than the loop's
  // while the loop is running.
  void check_thread(const char* what) const {
    if (debug_) check_thread_slow(what);
  }
  // Runs the loop until `task` is done.
  void run_until_done(internal::TaskBase& task);

 private:
  friend void internal::schedule_threadsafe_if_alive(EventLoop*, uint64_t, internal::Runnable*);
  // Any thread: pushes `r` to the inbox and wakes the loop; false (and `r` untouched) once
  // close() has shut the inbox.
  bool push_from_other_thread(internal::Runnable* r);
  void run_once();
  // A batch in debug or shuffle mode (event_loop_debug.cc).
  void run_batch_checked(size_t n);
  void run_batch_extension();
  // A batch of at most this many items may go on with what it made ready.
  static constexpr size_t kSmallBatch = 8;
  void shuffle_task_steps(size_t n);
  void run_timed(internal::Runnable* r);
  void enter_run(const char* what);
  void leave_run();
  void check_thread_slow(const char* what) const;
  [[noreturn]] void throw_closed(const char* what) const;
  void set_io(int fd, absl::AnyInvocable<void()> fn, bool reader);
  // call_at without the checks; takes the callback by reference so it is moved only once.
  TimerHandle add_timer(TimePoint when, absl::AnyInvocable<void()>&& fn);
  // Debug mode's call_soon / call_later / call_at: the thread check, and a node that keeps
  // its creation site (creation_site.h).
  Handle call_soon_debug(absl::AnyInvocable<void()>&& fn, const char* file, unsigned line);
  TimerHandle add_timer_debug(const char* what, TimePoint when, absl::AnyInvocable<void()>&& fn,
                              const char* file, unsigned line);
  bool spin_for_work(Duration budget);
  static void bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
    // Single writer: a load and a store, no read-modify-write.
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  // The scheduling-delay probe (see Stats::sched_delay).
  class DelayProbe final : public internal::Runnable {
   public:
    explicit DelayProbe(EventLoop* loop) : loop_(loop) {}
    void run() override;
    void discard() override { armed = false; }
    bool armed = false;
    TimePoint queued_at{};

   private:
    EventLoop* loop_;
  };
  void maybe_sample_delay();
  // Adds n to items_run_ (owning thread only: a plain load and store) and takes a
  // scheduling-delay sample every kDelaySampleInterval items. Inline: once per batch.
  void count_items_run(size_t n) {
    uint64_t before = items_run_.load(std::memory_order_relaxed);
    items_run_.store(before + n, std::memory_order_relaxed);
    if (((before + n) ^ before) >= kDelaySampleInterval) [[unlikely]] maybe_sample_delay();
  }

  internal::RunQueue ready_;
  internal::Inbox inbox_;
  internal::TimerQueue timers_;
  internal::AsyncGenRegistry asyncgens_;
  internal::Poller poller_;
  // The parking protocol (see run_once): `parked_` is set before the loop may block in
  // epoll and cleared after; a producer that sees it set writes the eventfd unless
  // `wake_pending_` says someone already did.
  std::atomic<bool> parked_{false};
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> closed_{false};
  // The inbox's gate (push_from_other_thread, close): a producer counts itself in
  // `producers_` before it reads `inbox_closed_`, and out after its last touch of the loop;
  // close() sets `inbox_closed_`, then waits for `producers_` to drain before it discards the
  // inbox and closes the eventfd. Without it, a thread that had pushed (and so let the loop
  // finish and close) could still be writing the eventfd, or reading `parked_`, of a closed
  // or destroyed loop.
  std::atomic<bool> inbox_closed_{false};
  std::atomic<uint32_t> producers_{0};
  std::atomic<bool> running_{false};
  bool stopping_ = false;
  // The task run_until_complete waits for (null otherwise): its batch ends when it is done.
  internal::TaskBase* until_done_ = nullptr;
  bool debug_;
  bool shuffle_ = false;
  bool checked_batch_;  // debug_ || shuffle_: one test per batch
  uint64_t shuffle_state_ = 0;
  Duration slow_callback_duration_ = std::chrono::milliseconds(100);
  // Atomic because check_thread_slow() reads it from other threads (that is its purpose):
  // written before `running_` is set (release), read after `running_` is seen (acquire).
  std::atomic<std::thread::id> thread_id_{};
  uint32_t items_since_io_poll_ = 0;
  internal::TaskBase* current_task_ = nullptr;
  internal::TaskBase* tasks_head_ = nullptr;
  internal::TaskBase* tasks_tail_ = nullptr;
  size_t num_tasks_ = 0;
  ExceptionHandler handler_;
  internal::WorkSource* source_ = nullptr;
  internal::AdaptiveSpin spin_;
  internal::IoCoalescing coalescing_;
  bool did_work_ = false;  // the last step ran something
  uint32_t inline_depth_ = 0;      // see enter_inline_runs()
  uint32_t inline_runs_left_ = 0;  // in this batch
  // The watchdog's view (see step_seq()): written by the loop with plain stores.
  std::atomic<uint64_t> step_seq_{0};
  std::atomic<const char*> step_coroutine_{nullptr};
  std::atomic<uint64_t> step_task_id_{0};
  std::atomic<const internal::TaskName*> step_name_{nullptr};
  std::atomic<Duration::rep> stuck_threshold_;
  LatencyHistogram poll_time_;
  LatencyHistogram sched_delay_;
  DelayProbe delay_probe_{this};
  std::atomic<uint64_t> items_run_{0};
  std::atomic<uint64_t> inline_runs_{0};  // written by the owning thread only
  std::atomic<uint64_t> parks_{0};
  std::atomic<uint64_t> io_naps_{0};
  std::atomic<uint64_t> remote_items_{0};
  std::atomic<size_t> ready_size_{0};
  std::atomic<size_t> timers_size_{0};
};

namespace internal {
// Whether WEFT_DEBUG=1 is set in the environment (read once).
bool debug_from_environment();
// The seed of WEFT_SHUFFLE (read once; "1" or "random": a random seed, printed once), or
// nullopt when it is unset or "0".
std::optional<uint64_t> shuffle_seed_from_environment();
// The loop running on this thread; the fast path of EventLoop::current_or_null().
extern constinit thread_local EventLoop* t_running_loop;
// The same, read through a call (see current_or_null()).
EventLoop* running_loop_through_call() noexcept;
// task_base.h; declared here for create_future.
void pin_current_task() noexcept;
// The same loop-liveness registry that lets a future outliving its loop report safely:
// returns whether `loop` is a live EventLoop.
bool loop_is_alive(const EventLoop* loop);
// A thread id as text (for messages).
std::string thread_name(std::thread::id id);
// Calls visit(loop, serial) for every live loop, under the registry's lock: no loop can be
// destroyed meanwhile. `visit` must be quick and must not call the functions of this
// registry (loop_is_alive, loop_serial, schedule_threadsafe_if_alive).
void for_each_live_loop(absl::FunctionRef<void(EventLoop*, uint64_t)> visit);
// The serial number the registry gave `loop` (unique for the process), or 0 if `loop` is not
// a live EventLoop. Any thread.
uint64_t loop_serial(const EventLoop* loop);
// Any thread. Hands `r` to `loop` as EventLoop::schedule_threadsafe does if `loop` is still the
// live loop whose serial is `serial`; otherwise (destroyed meanwhile) discards `r`. For
// completions that may arrive after the loop they are addressed to has been destroyed
// (ConcurrentFuture bridges). Takes a process-wide lock: not for hot paths.
void schedule_threadsafe_if_alive(EventLoop* loop, uint64_t serial, Runnable* r);
}  // namespace internal

inline EventLoop* EventLoop::current_or_null() noexcept {
#if defined(__clang__) && __clang_major__ < 16
  // clang before 16 may compute a thread_local's address once and keep it across a
  // coroutine's suspension points, and a spawned task can resume on another thread: inlined
  // into a coroutine, a plain read could return the loop of the thread the task left.
  return internal::running_loop_through_call();
#else
  return internal::t_running_loop;
#endif
}

}  // namespace weft

#include "loop/future.h"
#include "loop/task.h"

namespace weft {
template <class T>
Future<T> EventLoop::create_future(const char* file, unsigned line) {
  check_open("create_future");
  if (debug_) [[unlikely]] {
    check_thread_slow("create_future");
    internal::pin_current_task();
    return Future<T>(new internal::SitedFutureState<T>(this, internal::CallSite{file, line}));
  }
  internal::pin_current_task();
  return Future<T>(new internal::FutureState<T>(this));
}
}  // namespace weft

#endif  // WEFT_LOOP_EVENT_LOOP_H_
