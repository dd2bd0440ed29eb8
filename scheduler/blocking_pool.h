// BlockingPool: threads for blocking calls, shared by every loop (the executor behind
// to_thread and run_in_executor's default; Tokio's blocking pool).
//
//   std::string text = co_await weft::to_thread(read_file, path);      // the default pool
//   weft::BlockingPool pool({.max_threads = 8});                        // or a private one
//   int rows = co_await weft::run_in_executor(pool, query, db, sql);
//
// Threads start on demand, up to `max_threads`; a call that finds them all busy waits in the
// queue. A thread that has had nothing to do for `keep_alive` retires. Calls run in FIFO
// order of submission.
//
// How work is handed over. One queue (an intrusive FIFO under a mutex) and one condition
// variable. The pool counts the threads that will look at the queue soon without being told
// ("searching": starting, between two calls, spinning, or already woken); a submit wakes a
// sleeping thread, or starts one, only if the queued calls outnumber them. So a burst of
// short calls wakes a thread or two, not one per call, and a thread that spins briefly
// (`spin`; one spinner at a time) picks up the next call without a futex wake.
//
// Growth: busy or blocked? More threads than cores do not make short calls go faster (they
// only fight over the cores), but every call that blocks needs a thread of its own. A
// submit starts or wakes threads itself only while fewer threads are awake (searching or
// running a call) than the machine has hardware threads. Beyond that a monitor thread
// decides, as Go's sysmon does for system calls: every tick (20 us, backing off to 1 ms
// while nothing changes) it counts the threads stuck in a call since before the last tick;
// while the threads that are not stuck are fewer than the hardware threads and calls are
// waiting, it wakes a sleeping thread or starts a new one, one after the other. A burst of
// 2,000 calls that each sleep grows the pool to hundreds of threads as fast as the system
// creates them (about 20-40 us each, off the loop's thread), while 100,000 trivial calls
// keep a couple of threads busy.
//
// Shutdown. shutdown(wait) stops accepting calls (submit raises RuntimeError), lets the
// threads finish the queue, and with wait=true joins every thread. The destructor does
// shutdown(true). A call never stops half-way: shutting down waits for running calls.
//
// Which pool a loop uses by default (current_blocking_pool(): to_thread, run_in_executor
// without an executor). As asyncio's default executor belongs to its loop and asyncio.run
// shuts it down, a weft pool belongs to what runs the loop:
// - a Runtime owns one pool, shared by all its loops (Runtime::blocking_pool(); options in
//   RuntimeOptions::blocking_pool), shut down with the Runtime;
// - a single-loop weft::run creates one on the first call and shuts it down at its end;
// - any other thread (a loop run by hand, a plain thread) uses the process-wide pool,
//   default_blocking_pool(), created on first use and never destroyed; it is shut down (and
//   its threads joined) at process exit by an atexit handler.
// Shutting an owned pool down waits for the calls still running (a call cannot be stopped
// half-way), while the loops keep running, so that such a call may still hand work to a loop;
// a call that never returns keeps the shutdown waiting, as in asyncio and Tokio. A task
// cancelled while awaiting a call drops that call's result (see executor_call.h).
//
// Thread-safety: every method may be called from any thread. shutdown(true) from one of the
// pool's own threads raises RuntimeError (it would wait for itself).
#ifndef WEFT_SCHEDULER_BLOCKING_POOL_H_
#define WEFT_SCHEDULER_BLOCKING_POOL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "loop/clock.h"
#include "scheduler/executor.h"
#include "scheduler/executor_job_queue.h"

namespace weft {

class BlockingPool final : public Executor {
 public:
  struct Options {
    // The most threads alive at once (Tokio's default). Further calls wait in the queue.
    size_t max_threads = 512;
    // A thread with nothing to do for this long retires.
    Duration keep_alive = std::chrono::seconds(10);
    // How long a thread that finds the queue empty polls it before sleeping; at most one
    // thread spins at a time. Zero: never spin.
    Duration spin = std::chrono::microseconds(50);
    // Stack size of the pool's threads; 0: the system's default.
    size_t stack_size = 0;
  };

  // A snapshot of the counters.
  struct Stats {
    size_t threads = 0;    // alive (including those starting; not counting the monitor)
    size_t idle = 0;       // alive and not running a call
    size_t queued = 0;     // calls waiting for a thread
    uint64_t tasks_run = 0;  // calls finished (run, or skipped because nobody wanted them)
  };

  BlockingPool() : BlockingPool(Options{}) {}
  // Raises RuntimeError if max_threads is 0.
  explicit BlockingPool(Options options);
  // shutdown(true).
  ~BlockingPool() override;
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Executor: queues the job, waking or starting a thread if needed. Raises RuntimeError
  // after shutdown.
  void submit(ExecutorJob* job) override;

  // Stops accepting calls; threads finish the queue, then exit. With `wait`, returns once
  // every thread has been joined. Idempotent.
  void shutdown(bool wait = true);

  // Whether shutdown() has been called: submit raises from then on.
  bool is_shut_down() const { return shutdown_hint_.load(std::memory_order_acquire); }

  Stats stats() const;
  const Options& options() const { return options_; }

 private:
  struct Worker;
  static void* thread_main(void* worker);
  void work(Worker* self);
  void monitor(Worker* self);
  // Starts a worker (counted in threads_ and searching_ from now on). Called with `lock`
  // held; releases it while the thread is created and takes it again.
  void spawn_worker(std::unique_lock<std::mutex>& lock);
  // Starts the monitor if it is not running, or tells a waiting one about a backlog.
  void call_monitor(std::unique_lock<std::mutex>& lock);
  // Creates the thread for `w`: 0, or the error. Called without the lock.
  int create_thread(Worker* w);
  // The thread for `w` could not be created: undoes its counts; with no thread left at all,
  // fails the queued calls (after unlocking).
  void on_spawn_failure(std::unique_lock<std::mutex>& lock, Worker* w, int error);
  void spin() const;
  ExecutorJob* pop_locked();
  // Wakes a sleeping thread for the queue (precondition: idle_ > 0).
  void wake_one_locked();
  // A thread leaves the pool: it joins the threads that left before it.
  void leave(std::unique_lock<std::mutex>& lock, Worker* self);
  void join(std::vector<Worker*>& workers);

  const Options options_;
  // Threads that are not stuck in a call, beyond which only blocked calls add threads.
  const size_t cpu_target_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;     // sleeping threads wait for a wake token here
  std::condition_variable monitor_cv_;  // the monitor waits for a backlog (or a tick) here
  std::condition_variable exit_cv_;     // shutdown(true) waits for the threads to leave here
  // The queue, guarded by mu_.
  internal::ExecutorJobQueue queue_;
  size_t queued_ = 0;
  // Counts, guarded by mu_. Sleeping threads = idle_ + tokens_.
  size_t threads_ = 0;    // alive or starting
  size_t searching_ = 0;  // will look at the queue without a wake
  size_t idle_ = 0;       // asleep and not yet woken
  size_t tokens_ = 0;     // wakes issued, not yet taken by a sleeping thread
  size_t busy_ = 0;       // running a call
  size_t spawning_ = 0;   // threads being created (not yet registered for joining)
  size_t starting_ = 0;   // workers created that have not run yet (counted in searching_)
  uint64_t tasks_run_ = 0;
  uint64_t tick_ = 1;     // the monitor's clock: a call that began before the last tick is stuck
  size_t fresh_busy_ = 0;  // calls running that began at the current tick (not stuck)
  bool monitor_running_ = false;
  bool monitor_waiting_ = false;  // the monitor sleeps until told of a backlog
  bool spinner_active_ = false;
  bool shutdown_ = false;
  std::vector<Worker*> exited_;  // threads that left, not yet joined
  // Lock-free copies for the spinning thread.
  std::atomic<size_t> queued_hint_{0};
  std::atomic<bool> shutdown_hint_{false};
};

// The process-wide pool: default Options. Any thread.
BlockingPool& default_blocking_pool();

// The pool behind to_thread and run_in_executor(fn) on the calling thread: its Runtime's, or
// its weft::run's, else default_blocking_pool() (see the file comment). Any thread.
BlockingPool& current_blocking_pool();

namespace internal {
// The pool a Runtime's loops, or a weft::run's loop, use by default: installed on each such
// thread (install_on_this_thread) for the thread's life. Either handed a pool (a Runtime's,
// shared by its loops) or creating its own on first use (weft::run's: the creating thread is
// its only user).
class BlockingPoolScope {
 public:
  explicit BlockingPoolScope(BlockingPool* shared = nullptr) : pool_(shared) {}
  // The calling thread's scope until the next install (or the thread's end); nullptr: none.
  static void install_on_this_thread(BlockingPoolScope* scope);
  static BlockingPoolScope* on_this_thread();
  BlockingPool& pool();
  // The pool if one exists, else nullptr.
  BlockingPool* existing() const { return pool_; }

 private:
  BlockingPool* pool_;
  std::unique_ptr<BlockingPool> owned_;
};
}  // namespace internal

}  // namespace weft

#endif  // WEFT_SCHEDULER_BLOCKING_POOL_H_
