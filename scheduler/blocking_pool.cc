#include "scheduler/blocking_pool.h"

#include <pthread.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <thread>
#include <utility>

#include "absl/strings/str_format.h"
#include "loop/errors.h"
#include "loop/event_loop.h"
#include "loop/future.h"
#include "loop/run.h"
#include "loop/task.h"

namespace weft {
namespace {

// The monitor's tick: how long a call must have been running to count as blocked, at the
// earliest. It backs off (doubling) to kMaxTick while it finds nothing to do.
constexpr Duration kMinTick = std::chrono::microseconds(20);
constexpr Duration kMaxTick = std::chrono::milliseconds(1);

// The pool whose thread this is, so that shutdown(true) can refuse to wait for itself.
thread_local const BlockingPool* t_current_pool = nullptr;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

size_t hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

}  // namespace

struct BlockingPool::Worker {
  BlockingPool* pool;
  bool is_monitor = false;
  pthread_t thread{};       // valid once registered
  // Guarded by the pool's mu_:
  bool registered = false;  // `thread` is set: the pool may join it
  bool exited = false;      // the thread has left the pool
  uint64_t call_tick = 0;   // the monitor tick at which its current call began
};

BlockingPool::BlockingPool(Options options)
    : options_(options), cpu_target_(hardware_threads()) {
  if (options_.max_threads == 0) {
    throw RuntimeError("BlockingPool: max_threads must be at least 1");
  }
}

BlockingPool::~BlockingPool() { shutdown(/*wait=*/true); }

void BlockingPool::submit(ExecutorJob* job) {
  std::unique_lock<std::mutex> lock(mu_);
  if (shutdown_) {
    throw RuntimeError(
        "BlockingPool::submit: the pool has been shut down and accepts no new calls; submit "
        "before shutdown(), or use another executor");
  }
  queue_.push_back(job);
  queued_hint_.store(++queued_, std::memory_order_relaxed);
  // Enough threads will look at the queue without being told.
  if (queued_ <= searching_) return;
  if (searching_ + busy_ < cpu_target_) {
    if (idle_ > 0) {
      wake_one_locked();
    } else if (threads_ < options_.max_threads) {
      spawn_worker(lock);
    }
    return;
  }
  // As many threads are awake as there are cores; whether they are blocked is for the
  // monitor to tell.
  if (threads_ < options_.max_threads || idle_ > 0) call_monitor(lock);
}

void BlockingPool::wake_one_locked() {
  --idle_;
  ++tokens_;
  ++searching_;
  // Under the lock: the pool cannot be destroyed before notify_one returns.
  work_cv_.notify_one();
}

int BlockingPool::create_thread(Worker* w) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (options_.stack_size != 0) pthread_attr_setstacksize(&attr, options_.stack_size);
  // Written here, read only by joiners once `registered` is set under the lock.
  int rc = pthread_create(&w->thread, &attr, &BlockingPool::thread_main, w);
  pthread_attr_destroy(&attr);
  return rc;
}

void BlockingPool::spawn_worker(std::unique_lock<std::mutex>& lock) {
  auto* w = new Worker{this};
  ++threads_;
  ++searching_;
  ++starting_;
  ++spawning_;
  lock.unlock();
  int error = create_thread(w);
  lock.lock();
  --spawning_;
  if (error != 0) {
    on_spawn_failure(lock, w, error);
    return;
  }
  w->registered = true;
  if (w->exited) exited_.push_back(w);  // it came and went already
  exit_cv_.notify_all();
}

void BlockingPool::on_spawn_failure(std::unique_lock<std::mutex>& lock, Worker* w, int error) {
  delete w;
  --threads_;
  --searching_;
  --starting_;
  // With no thread at all, nobody would ever run the queue: fail its calls.
  std::vector<ExecutorJob*> orphans;
  if (threads_ == 0) {
    while (ExecutorJob* job = pop_locked()) orphans.push_back(job);
  }
  exit_cv_.notify_all();
  lock.unlock();
  if (!orphans.empty()) {
    auto e = std::make_exception_ptr(RuntimeError(absl::StrFormat(
        "BlockingPool: could not start a thread (%s); the call was not run. Lower "
        "max_threads or the number of concurrent blocking calls",
        std::strerror(error))));
    for (ExecutorJob* job : orphans) job->fail(e);
  }
  lock.lock();
}

void BlockingPool::call_monitor(std::unique_lock<std::mutex>& lock) {
  if (monitor_running_) {
    if (monitor_waiting_) {
      monitor_waiting_ = false;
      monitor_cv_.notify_one();
    }
    return;
  }
  monitor_running_ = true;
  auto* m = new Worker{this};
  m->is_monitor = true;
  ++spawning_;
  lock.unlock();
  int error = create_thread(m);
  lock.lock();
  --spawning_;
  if (error != 0) {
    // Not fatal: the threads already running still serve the queue, and the next backlog
    // tries again.
    monitor_running_ = false;
    delete m;
    exit_cv_.notify_all();
    return;
  }
  m->registered = true;
  if (m->exited) exited_.push_back(m);
  exit_cv_.notify_all();
}

void* BlockingPool::thread_main(void* arg) {
  auto* self = static_cast<Worker*>(arg);
  BlockingPool* pool = self->pool;
  t_current_pool = pool;
  if (self->is_monitor) {
    pthread_setname_np(pthread_self(), "weft-blocking-m");
    // Ticks are tens of microseconds: do not let the kernel stretch them (default slack is
    // 50 us).
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    pool->monitor(self);
  } else {
    pthread_setname_np(pthread_self(), "weft-blocking");
    pool->work(self);
  }
  return nullptr;
}

ExecutorJob* BlockingPool::pop_locked() {
  ExecutorJob* job = queue_.pop_front();
  if (job == nullptr) return nullptr;
  queued_hint_.store(--queued_, std::memory_order_relaxed);
  return job;
}

void BlockingPool::spin() const {
  TimePoint deadline = Clock::now() + options_.spin;
  for (uint32_t i = 1;; ++i) {
    if (queued_hint_.load(std::memory_order_relaxed) != 0 ||
        shutdown_hint_.load(std::memory_order_relaxed)) {
      return;
    }
    cpu_relax();
    if ((i & 63) == 0 && Clock::now() >= deadline) return;
  }
}

void BlockingPool::work(Worker* self) {
  std::unique_lock<std::mutex> lock(mu_);
  --starting_;
  for (;;) {
    if (ExecutorJob* job = pop_locked()) {
      --searching_;
      ++busy_;
      ++fresh_busy_;
      self->call_tick = tick_;
      lock.unlock();
      job->run();
      lock.lock();
      if (self->call_tick == tick_) --fresh_busy_;
      --busy_;
      ++tasks_run_;
      ++searching_;
      continue;
    }
    if (shutdown_) break;
    if (options_.spin > Duration::zero() && !spinner_active_) {
      spinner_active_ = true;
      lock.unlock();
      spin();
      lock.lock();
      spinner_active_ = false;
      if (queued_ > 0 || shutdown_) continue;
    }
    // Sleep until woken with a token, shut down, or keep_alive passes.
    --searching_;
    ++idle_;
    TimePoint deadline = Clock::now() + options_.keep_alive;
    work_cv_.wait_until(lock, deadline, [this] { return tokens_ > 0 || shutdown_; });
    if (tokens_ > 0) {
      --tokens_;  // the waker moved us from idle_ to searching_
      continue;
    }
    --idle_;
    ++searching_;
    if (shutdown_ || queued_ > 0) continue;
    break;  // keep_alive passed with nothing to do: retire
  }
  --searching_;
  --threads_;
  leave(lock, self);
}

void BlockingPool::monitor(Worker* self) {
  std::unique_lock<std::mutex> lock(mu_);
  Duration tick = kMinTick;
  TimePoint next_tick = Clock::now() + tick;
  while (!shutdown_) {
    if (queued_ <= searching_) {
      // Nothing waits for a thread: sleep until a submit reports a backlog.
      monitor_waiting_ = true;
      bool told = monitor_cv_.wait_until(lock, Clock::now() + options_.keep_alive,
                                         [this] { return shutdown_ || !monitor_waiting_; });
      monitor_waiting_ = false;
      if (!told && queued_ <= searching_) break;  // keep_alive passed: retire
      tick = kMinTick;
      next_tick = Clock::now() + tick;
      continue;
    }
    TimePoint now = Clock::now();
    if (now >= next_tick) {
      ++tick_;
      fresh_busy_ = 0;  // every call running now began before this tick
      next_tick = now + tick;
    }
    size_t stuck = busy_ - fresh_busy_;
    // Threads that will take a call within a tick: not stuck, and not still waiting for the
    // system to run them for the first time (on a busy machine that takes a while, and
    // growth must not wait for it).
    size_t progressing = searching_ - starting_ + busy_ - stuck;
    if (progressing < cpu_target_ &&
        (idle_ > 0 || threads_ < options_.max_threads)) {
      if (idle_ > 0) {
        wake_one_locked();
      } else {
        spawn_worker(lock);
      }
      tick = kMinTick;
      continue;
    }
    monitor_cv_.wait_until(lock, next_tick);
    if (Clock::now() >= next_tick) tick = std::min(tick * 2, kMaxTick);
  }
  monitor_running_ = false;
  leave(lock, self);
}

void BlockingPool::leave(std::unique_lock<std::mutex>& lock, Worker* self) {
  // Join the threads that left before us (they are at most finishing their exit); whoever
  // leaves after us, or shutdown(), joins this one.
  std::vector<Worker*> earlier = std::move(exited_);
  exited_.clear();
  self->exited = true;
  if (self->registered) exited_.push_back(self);
  exit_cv_.notify_all();
  lock.unlock();
  join(earlier);
}

void BlockingPool::join(std::vector<Worker*>& workers) {
  for (Worker* w : workers) {
    pthread_join(w->thread, nullptr);
    delete w;
  }
  workers.clear();
}

void BlockingPool::shutdown(bool wait) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!shutdown_) {
    shutdown_ = true;
    shutdown_hint_.store(true, std::memory_order_release);
    work_cv_.notify_all();
    monitor_cv_.notify_all();
  }
  if (!wait) return;
  if (t_current_pool == this) {
    throw RuntimeError(
        "BlockingPool::shutdown(wait=true) was called from one of the pool's own threads, "
        "which would wait for itself; call shutdown(false) there, or shut the pool down from "
        "another thread");
  }
  exit_cv_.wait(lock, [this] { return threads_ == 0 && spawning_ == 0 && !monitor_running_; });
  std::vector<Worker*> last = std::move(exited_);
  exited_.clear();
  lock.unlock();
  join(last);
}

BlockingPool::Stats BlockingPool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s;
  s.threads = threads_;
  s.idle = threads_ - busy_;
  s.queued = queued_;
  s.tasks_run = tasks_run_;
  return s;
}

namespace internal {
namespace {
thread_local BlockingPoolScope* t_pool_scope = nullptr;

// weft::run's hooks (loop/run.h): a scope per run, its pool created on first use.
void* open_run_scope() {
  auto* scope = new BlockingPoolScope();
  BlockingPoolScope::install_on_this_thread(scope);
  return scope;
}

Coro<void> await_future(Future<void>& f) { co_await f; }

void close_run_scope(void* p, EventLoop* loop, bool abandon) {
  std::unique_ptr<BlockingPoolScope> scope(static_cast<BlockingPoolScope*>(p));
  if (BlockingPoolScope::on_this_thread() == scope.get()) {
    BlockingPoolScope::install_on_this_thread(nullptr);
  }
  BlockingPool* pool = scope->existing();
  if (pool == nullptr) return;  // no call was ever made
  pool->shutdown(/*wait=*/false);
  if (abandon) {
    // A hard stop: a call stuck forever must not keep the process from stopping. The pool
    // (and its threads, which exit once their calls return) outlive the run: leaked on
    // purpose, since destroying it would wait for them.
    (void)scope.release();
    return;
  }
  if (loop == nullptr || loop->is_closed() || pool->stats().threads == 0) {
    pool->shutdown(/*wait=*/true);
    return;
  }
  // asyncio's shutdown_default_executor: the threads are joined on another thread while the
  // loop runs, so that a call still running can hand work to the loop (call_soon_threadsafe,
  // run_coroutine_threadsafe(...).get()) instead of waiting for it forever.
  Future<void> joined = loop->create_future<void>();
  std::thread joiner([pool, loop, &joined] {
    pool->shutdown(/*wait=*/true);
    loop->call_soon_threadsafe([&joined] { joined.set_result(); });
  });
  try {
    loop->run_until_complete(await_future(joined));
  } catch (...) {
    joiner.join();
    throw;
  }
  joiner.join();
}

// Registered before main when this file is linked (whenever to_thread is used).
const bool g_run_scope_registered = [] {
  set_run_scope_hooks(RunScopeHooks{&open_run_scope, &close_run_scope});
  return true;
}();
}  // namespace

void BlockingPoolScope::install_on_this_thread(BlockingPoolScope* scope) {
  t_pool_scope = scope;
}

BlockingPoolScope* BlockingPoolScope::on_this_thread() { return t_pool_scope; }

BlockingPool& BlockingPoolScope::pool() {
  if (pool_ == nullptr) {
    owned_ = std::make_unique<BlockingPool>();
    pool_ = owned_.get();
  }
  return *pool_;
}
}  // namespace internal

BlockingPool& current_blocking_pool() {
  internal::BlockingPoolScope* scope = internal::BlockingPoolScope::on_this_thread();
  return scope ? scope->pool() : default_blocking_pool();
}

BlockingPool& default_blocking_pool() {
  // Never destroyed (a late submit gets RuntimeError rather than a destroyed pool); shut down
  // and joined at exit.
  static BlockingPool* const pool = [] {
    auto* p = new BlockingPool();
    std::atexit([] {
      try {
        default_blocking_pool().shutdown(/*wait=*/true);
      } catch (const RuntimeError&) {
        default_blocking_pool().shutdown(/*wait=*/false);  // exit() called by a pool thread
      }
    });
    return p;
  }();
  return *pool;
}

}  // namespace weft
