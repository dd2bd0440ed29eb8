#include "scheduler/blocking_pool.h"

#include <pthread.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <utility>

#include "absl/strings/str_format.h"
#include "loop/errors.h"
#include "loop/exception_context.h"

namespace weft {
namespace {

// The pool whose thread this is, so that shutdown(true) can refuse to wait for itself.
thread_local const BlockingPool* t_current_pool = nullptr;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

struct BlockingPool::Worker {
  BlockingPool* pool;
  bool spawner;          // grows the pool before taking work
  pthread_t thread{};    // valid once registered
  bool registered = false;  // guarded by mu_: `thread` is set, the pool may join it
  bool exited = false;      // guarded by mu_: the thread has left the pool
};

BlockingPool::BlockingPool(Options options) : options_(options) {
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
  job->next_in_queue = nullptr;
  if (tail_) {
    tail_->next_in_queue = job;
  } else {
    head_ = job;
  }
  tail_ = job;
  queued_hint_.store(++queued_, std::memory_order_relaxed);
  // Enough threads will look at the queue without being told.
  if (queued_ <= searching_) return;
  if (idle_ > 0) {
    wake_one_locked();
    return;
  }
  // A spawner is already growing the pool and will see this call too.
  if (spawner_active_ || threads_ >= options_.max_threads) return;
  spawner_active_ = true;
  ++threads_;
  ++searching_;
  ++spawning_;
  lock.unlock();
  start_thread(/*spawner=*/true);
}

void BlockingPool::wake_one_locked() {
  --idle_;
  ++tokens_;
  ++searching_;
  // Under the lock: a sleeping thread cannot miss the token (it checks it under the lock),
  // and the pool cannot be destroyed before notify_one returns.
  work_cv_.notify_one();
}

bool BlockingPool::start_thread(bool spawner) {
  auto* w = new Worker{this, spawner};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (options_.stack_size != 0) pthread_attr_setstacksize(&attr, options_.stack_size);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, &BlockingPool::thread_main, w);
  pthread_attr_destroy(&attr);

  std::unique_lock<std::mutex> lock(mu_);
  --spawning_;
  if (rc == 0) {
    w->thread = thread;
    w->registered = true;
    if (w->exited) exited_.push_back(w);  // it came and went already
    exit_cv_.notify_all();
    return true;
  }
  delete w;
  --threads_;
  --searching_;
  if (spawner) spawner_active_ = false;
  // With no thread at all, nobody would ever run the queue: fail its calls.
  std::vector<ExecutorJob*> orphans;
  if (threads_ == 0) {
    while (ExecutorJob* job = pop_locked()) orphans.push_back(job);
  }
  exit_cv_.notify_all();
  lock.unlock();
  if (!orphans.empty()) {
    auto error = std::make_exception_ptr(RuntimeError(absl::StrFormat(
        "BlockingPool: could not start a thread (%s); the call was not run. Lower "
        "max_threads or the number of concurrent blocking calls",
        std::strerror(rc))));
    for (ExecutorJob* job : orphans) job->fail(error);
  }
  return false;
}

void* BlockingPool::thread_main(void* arg) {
  auto* self = static_cast<Worker*>(arg);
  pthread_setname_np(pthread_self(), "weft-blocking");
  t_current_pool = self->pool;
  self->pool->work(self);
  return nullptr;
}

ExecutorJob* BlockingPool::pop_locked() {
  ExecutorJob* job = head_;
  if (job == nullptr) return nullptr;
  head_ = job->next_in_queue;
  if (head_ == nullptr) tail_ = nullptr;
  queued_hint_.store(--queued_, std::memory_order_relaxed);
  return job;
}

void BlockingPool::grow(std::unique_lock<std::mutex>& lock) {
  while (!shutdown_ && queued_ > searching_) {
    if (idle_ > 0) {
      wake_one_locked();
      continue;
    }
    if (threads_ >= options_.max_threads) break;
    ++threads_;
    ++searching_;
    ++spawning_;
    lock.unlock();
    bool started = start_thread(/*spawner=*/false);
    lock.lock();
    if (!started) break;
  }
  spawner_active_ = false;
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
  if (self->spawner) grow(lock);
  for (;;) {
    if (ExecutorJob* job = pop_locked()) {
      --searching_;
      ++busy_;
      lock.unlock();
      job->run();
      lock.lock();
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
    shutdown_hint_.store(true, std::memory_order_relaxed);
    work_cv_.notify_all();
  }
  if (!wait) return;
  if (t_current_pool == this) {
    throw RuntimeError(
        "BlockingPool::shutdown(wait=true) was called from one of the pool's own threads, "
        "which would wait for itself; call shutdown(false) there, or shut the pool down from "
        "another thread");
  }
  exit_cv_.wait(lock, [this] { return threads_ == 0 && spawning_ == 0; });
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
