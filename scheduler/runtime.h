// Runtime: N event loops on N threads that share migratable work (asyncio.Runner for many
// loops; Tokio's multi-thread runtime).
//
//   weft::Runtime rt({.threads = 2});
//   int v = rt.block_on(main_coro());        // from a plain thread (e.g. main())
//   // or, equivalently for one-shot programs:
//   int v = weft::run(main_coro(), {.threads = 2});
//
// Inside the runtime, weft::spawn(coro) creates a *migratable* task: whenever it is queued
// (spawned, or woken) it sits in a StealableQueue, where an idle sibling may steal it, and its
// next step runs on whichever loop takes it. A spawned task that creates something bound to
// its loop (a Future, a create_task child, a callback, a timeout scope, an fd watch, a
// gather/wait) stays on that loop from then on (docs/ARCHITECTURE.md, "Why a task stops
// migrating"). weft::create_task(coro) creates a *pinned* task, which runs only on the loop
// that created it. Both return Task<T>; awaiting a task or a future
// that lives on another loop needs nothing from the user (the wake crosses by the
// thread-safe path).
//
// Scheduling (scheduler/runtime.cc explains the invariants):
// - A loop takes its own spawned work a slice at a time and, every kInjectionCheckInterval
//   slices, a batch from the injection queue, so neither starves.
// - Awaiting a spawned task that has not started runs it at once, nested in the awaiter's
//   step (fork-join runs depth-first, as in oneTBB); see TaskBase::run_awaited_inline.
// - A loop with nothing to run searches: it steals half of a sibling's queue, or takes a
//   batch from the injection queue. At most half the loops search at once; a loop that
//   cannot search parks even if the injection queue has work (the searchers take it, and
//   the last one to stop wakes a parked loop if some is left).
// - A loop that finds nothing spins briefly (spin_before_park) and then parks in epoll.
//   Pushing new work (from a loop or from outside) wakes one parked loop, and only when no
//   loop is searching.
//
// Blocking calls. The Runtime owns one BlockingPool (blocking_pool()), which to_thread and
// run_in_executor(fn) use on every loop of the Runtime: its threads start on demand and never
// outlive the Runtime.
//
// Shutdown (the destructor, or shutdown()): every loop cancels its pending tasks and runs
// until each has finished its cleanup; spawned tasks that had not started, and tasks their
// cleanup spawns, are cancelled without running; the async generators still suspended
// mid-iteration are closed on their loops (asyncio's shutdown_asyncgens); then the blocking
// pool shuts down, waiting for the calls still running (the loops keep running meanwhile, so
// such a call may still hand work to them); then the loops stop, their threads are joined and
// the loops closed.
//
// Thread-safety: spawn(), block_on(), stats() and shutdown() may be called from any thread;
// block_on() and shutdown() must not be called from a loop of this Runtime (they would wait
// for themselves) and raise RuntimeError if they are.
#ifndef WEFT_SCHEDULER_RUNTIME_H_
#define WEFT_SCHEDULER_RUNTIME_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "loop/coro.h"
#include "loop/event_loop.h"
#include "loop/introspect.h"
#include "loop/run.h"
#include "loop/task.h"
#include "scheduler/blocking_pool.h"
#include "scheduler/injection_queue.h"

namespace weft {

struct RuntimeOptions {
  // Number of loops (= threads). 0: the number of cores.
  size_t threads = 0;
  // How long an idle loop spins looking for work before it parks (see
  // EventLoop::set_spin_before_park). 0 disables spinning.
  Duration spin_before_park = std::chrono::microseconds(50);
  // The I/O coalescing nap of every loop (EventLoop::set_io_coalescing); 0 turns it off.
  Duration io_coalescing = internal::IoCoalescing::kDefaultNap;
  // Debug mode for every loop; unset: WEFT_DEBUG from the environment.
  std::optional<bool> debug;
  // The stuck-loop watchdog's threshold for every loop (loop/watchdog.h); 0: off; unset:
  // the default (1 s, or WEFT_STUCK_THRESHOLD_MS).
  std::optional<Duration> stuck_threshold;
  // The Runtime's blocking pool (to_thread and run_in_executor(fn) on its loops): at most
  // 512 threads, retiring after 10 s idle, by default (Tokio's max_blocking_threads and
  // thread_keep_alive).
  BlockingPool::Options blocking_pool;
};

class Runtime {
 public:
  // Per-loop counters, readable at any time.
  struct LoopStats {
    uint64_t tasks_run = 0;        // ready items run (task steps and callbacks)
    uint64_t inline_runs = 0;      // spawned tasks started inline by a task awaiting them
    uint64_t steals = 0;           // steal operations that got work from a sibling
    uint64_t stolen_tasks = 0;     // tasks this loop took from siblings
    uint64_t stolen_from = 0;      // tasks siblings took from this loop
    uint64_t parks = 0;            // times the loop blocked in epoll
    uint64_t remote_wakes = 0;     // items received from other threads
    uint64_t wakes_sent = 0;       // wake-ups this loop wrote to parked siblings
    uint64_t injection_pulls = 0;  // tasks taken from the injection queue
    size_t queue_depth = 0;        // spawned tasks waiting in the loop's stealable queue
    size_t ready = 0;              // items in the loop's ready queue
    HistogramSnapshot poll_time;   // EventLoop::Stats::poll_time
    HistogramSnapshot sched_delay;  // EventLoop::Stats::sched_delay (sampled)
  };

  explicit Runtime(RuntimeOptions options = {});
  // shutdown().
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  size_t num_loops() const { return workers_.size(); }
  EventLoop& loop(size_t i);

  // The Runtime whose loop runs on this thread, or nullptr.
  static Runtime* current() noexcept;

  // The pool behind to_thread and run_in_executor(fn) on this Runtime's loops (see the file
  // comment). Any thread; shut down (submit raises RuntimeError) once shutdown() has run.
  BlockingPool& blocking_pool() { return blocking_pool_; }

  // Runs `coro` as a pinned task on loop 0 and blocks the calling thread until it is done;
  // returns its result or rethrows its exception. Not from a loop thread of this Runtime.
  template <class T>
  T block_on(Coro<T> coro);

  // A migratable task (see the file comment). Any thread; from outside the Runtime it goes
  // through the injection queue.
  // `file`/`line`: where it was called, recorded when the calling loop is in debug mode.
  template <class T>
  Task<T> spawn(Coro<T> coro, std::string_view name = {},
                const char* file = __builtin_FILE(), unsigned line = __builtin_LINE());

  // The pending tasks of every loop (loop 0's first), each list taken on its loop's own
  // thread (all_tasks_threadsafe, loop/introspect.h). Any thread; from a loop of this Runtime
  // its own loop is read directly and the others are waited for. Raises TimeoutError if a
  // loop does not answer within `timeout` (it is stuck, or it waits for the caller).
  std::vector<TaskRef> all_tasks(Duration timeout = std::chrono::seconds(1));
  // The task dump of every loop, each made on its own thread (dump_tasks_threadsafe); a loop
  // that does not answer within `timeout` is reported as such. Any thread.
  std::string dump_tasks(Duration timeout = std::chrono::seconds(1));

  std::vector<LoopStats> stats() const;
  // The counters as text, one line per loop.
  std::string stats_text() const;

  // See the file comment. Idempotent.
  void shutdown();

  // --- Internal. ---
  // spawn() with the coroutine moved from a reference: weft::spawn forwards here without a
  // second move. `on_own_thread`: the caller is a loop thread of this Runtime. Inlined into
  // both spawns: as a call of its own it saved six registers and passed seven arguments
  // again on every spawn (W4).
  template <class T>
  [[gnu::always_inline]] Task<T> spawn_from(Coro<T>& coro, std::string_view name,
                                            const char* file, unsigned line, bool on_own_thread);
  // Queues a spawned, not yet started task. Any thread.
  void push_spawned(internal::TaskBase* task);
  bool shutting_down() const { return shutting_down_.load(std::memory_order_acquire); }

 private:
  class Worker;
  friend class Worker;

  void notify_one();
  void notify_if_idle();
  // Wakes a sibling if every sibling is parked without bound; returns whether they all were.
  bool notify_if_all_parked(Worker* self);
  // Whether every sibling of `self` is parked without bound (seq_cst loads of their states).
  bool all_siblings_parked(Worker* self) const;
  // A sibling of the calling loop (any loop, from outside) that is parked, or nullptr.
  Worker* parked_sibling() const;
  uint32_t search_limit() const;
  bool try_start_searching();
  void stop_searching();
  // Raises RuntimeError if the caller runs on one of this Runtime's loops: `what` would wait
  // for itself. `fix`: what to do instead, for the message.
  void check_not_on_loop(const char* what, const char* fix) const;
  // spawn() once shutdown() has begun: from one of this Runtime's loops (cleanup code, as the
  // tasks are being cancelled) the task is queued and its first step cancels it
  // (TaskBase::start), as Tokio does; from anywhere else raises RuntimeError.
  [[gnu::cold, gnu::noinline]] void check_may_spawn_while_shutting_down(
      bool on_own_thread) const;
  // Blocks until `done` is set by a callback on some loop.
  struct Latch {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    void set() {
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      cv.notify_all();
    }
    void wait() {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [this] { return done; });
    }
  };

  // Declared first, destroyed last: loop threads use it until they are joined.
  BlockingPool blocking_pool_;
  internal::BlockingPoolScope pool_scope_{&blocking_pool_};
  // Each group on its own cache line, so that the words every park or search writes do not
  // evict the ones every push and spawn only read.
  // Read by every push and spawn; written at start-up and at shutdown only.
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> shutting_down_{false};
  // How many loops search (see runtime.cc, "The parking protocol"). Read by every push,
  // written only by a loop that saw work to steal.
  alignas(64) std::atomic<uint32_t> num_searching_{0};
  alignas(64) internal::InjectionQueue injection_;
  alignas(64) bool shut_down_ = false;
  std::mutex shutdown_mu_;
};

template <class T>
T Runtime::block_on(Coro<T> coro) {
  check_not_on_loop("block_on",
                    "from inside the Runtime, await the coroutine (or spawn it) instead");
  if (shutting_down()) {
    throw RuntimeError("block_on: this Runtime is shut down; create a new Runtime");
  }
  struct State {
    Latch latch;
    Task<T> task;
  };
  auto state = std::make_shared<State>();
  EventLoop& main_loop = loop(0);
  main_loop.call_soon_threadsafe([state, &main_loop, c = std::move(coro)]() mutable {
    state->task = main_loop.create_task(std::move(c), "main");
    state->task.add_done_callback([state](Task<T>&) { state->latch.set(); });
  });
  state->latch.wait();
  if constexpr (std::is_void_v<T>) {
    state->task.result();
  } else if constexpr (std::is_reference_v<T>) {
    return state->task.result();
  } else {
    return std::move(state->task.result());
  }
}

template <class T>
Task<T> Runtime::spawn(Coro<T> coro, std::string_view name, const char* file, unsigned line) {
  return spawn_from(coro, name, file, line, current() == this);
}

template <class T>
Task<T> Runtime::spawn_from(Coro<T>& coro, std::string_view name, const char* file,
                            unsigned line, bool on_own_thread) {
  if (shutting_down()) [[unlikely]] check_may_spawn_while_shutting_down(on_own_thread);
  EventLoop* here = EventLoop::current_or_null();
  EventLoop* home = here && on_own_thread ? here : &loop(0);
  auto handle = coro.release("spawned");
  auto* state = new internal::TaskState<T>(home, handle, name);  // refs: 2
  // Only the calling thread's own loop's flag may be read here.
  if (here && here->get_debug()) [[unlikely]] state->set_creation_site(file, line);
  state->set_spawned();
  push_spawned(state);
  return Task<T>(state);
}

namespace internal {
[[noreturn, gnu::cold]] void throw_spawn_without_loop();
}  // namespace internal

// Spawns a migratable task on the current Runtime; on a plain loop (weft::run with one
// thread) it is the same as create_task. Raises RuntimeError where no loop runs.
template <class T>
Task<T> spawn(Coro<T> coro, std::string_view name = {},
              const char* file = __builtin_FILE(), unsigned line = __builtin_LINE()) {
  if (Runtime* rt = Runtime::current()) return rt->spawn_from(coro, name, file, line, true);
  EventLoop* loop = EventLoop::current_or_null();
  if (loop == nullptr) [[unlikely]] internal::throw_spawn_without_loop();
  return loop->create_task(std::move(coro), name, file, line);
}

}  // namespace weft

#endif  // WEFT_SCHEDULER_RUNTIME_H_
