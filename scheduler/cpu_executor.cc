#include "scheduler/cpu_executor.h"

#include <cstdlib>
#include <memory>
#include <mutex>

#include "loop/errors.h"
#include "oneapi/tbb/global_control.h"
#include "oneapi/tbb/info.h"
#include "oneapi/tbb/task_arena.h"

#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif
#if defined(WEFT_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace weft {
namespace {

thread_local const CpuExecutor* t_current_cpu_executor = nullptr;

// oneTBB hands a task from the submitting thread to a worker through synchronisation that
// ThreadSanitizer cannot see (Debian's libtbb is not instrumented). Say it explicitly.
inline void handoff_release(void* addr) {
#if defined(WEFT_TSAN)
  __tsan_release(addr);
#else
  (void)addr;
#endif
}
inline void handoff_acquire(void* addr) {
#if defined(WEFT_TSAN)
  __tsan_acquire(addr);
#else
  (void)addr;
#endif
}

}  // namespace

namespace {

// oneTBB starts one worker thread fewer than max_allowed_parallelism, counting on an
// application thread to fill the last slot of an arena; weft's loops never join, so every
// slot needs a worker. The setting is process-wide and, when several global_control
// objects exist, the smallest wins: keep a single one, raised to the largest need so far.
void reserve_tbb_workers(size_t slots) {
  static std::mutex mu;
  static std::unique_ptr<oneapi::tbb::global_control> control;
  static size_t reserved = 0;
  std::lock_guard<std::mutex> lock(mu);
  if (slots + 1 <= reserved) return;
  auto raised = std::make_unique<oneapi::tbb::global_control>(
      oneapi::tbb::global_control::max_allowed_parallelism, slots + 1);
  control = std::move(raised);  // the old, lower setting goes after the new one exists
  reserved = slots + 1;
}

}  // namespace

struct CpuExecutor::Arena {
  explicit Arena(int slots)
      // No slot reserved for an application thread: the loops that submit never join.
      : arena(slots > 0 ? slots : oneapi::tbb::task_arena::automatic,
              /*reserved_for_masters=*/0) {
    reserve_tbb_workers(static_cast<size_t>(
        slots > 0 ? slots : oneapi::tbb::info::default_concurrency()));
  }
  oneapi::tbb::task_arena arena;
};

// One arena task per accepted job: it runs the executor's oldest job. Allocated with new
// rather than oneTBB's small-object pool (which task_arena::enqueue(functor) uses): the
// pool recycles memory behind ThreadSanitizer's back, malloc does not. The only data it
// carries is the executor's address, published by the handoff annotations.
class CpuExecutor::RunOne final : public oneapi::tbb::detail::d1::task {
 public:
  explicit RunOne(CpuExecutor* executor) : executor_(executor) { handoff_release(this); }

  static void enqueue(CpuExecutor* executor, oneapi::tbb::task_arena& arena) {
    oneapi::tbb::detail::r1::enqueue(*new RunOne(executor), &arena);
  }

 private:
  task* execute(oneapi::tbb::detail::d1::execution_data&) override {
    handoff_acquire(this);
    CpuExecutor* executor = executor_;
    delete this;  // oneTBB does not touch an enqueued task after execute()
    executor->run_one();
    return nullptr;
  }
  // Only called if the arena's work is cancelled, which weft never asks for; run the job
  // anyway so that it is not lost.
  task* cancel(oneapi::tbb::detail::d1::execution_data& ed) override { return execute(ed); }

  CpuExecutor* executor_;
};

CpuExecutor::CpuExecutor(Options options)
    : arena_(std::make_unique<Arena>(options.max_concurrency)) {
  arena_->arena.initialize();
}

CpuExecutor::~CpuExecutor() { shutdown(/*wait=*/true); }

int CpuExecutor::max_concurrency() const { return arena_->arena.max_concurrency(); }

void CpuExecutor::submit(ExecutorJob* job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) {
      throw RuntimeError(
          "CpuExecutor::submit: the executor has been shut down and accepts no new calls; "
          "submit before shutdown(), or use another executor");
    }
    queue_.push_back(job);
    ++pending_;
  }
  RunOne::enqueue(this, arena_->arena);
}

void CpuExecutor::run_one() {
  ExecutorJob* job;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job = queue_.pop_front();
  }
  const CpuExecutor* outer = t_current_cpu_executor;
  t_current_cpu_executor = this;
  job->run();
  t_current_cpu_executor = outer;
  std::lock_guard<std::mutex> lock(mu_);
  ++tasks_run_;
  if (--pending_ == 0) idle_cv_.notify_all();
}

void CpuExecutor::shutdown(bool wait) {
  std::unique_lock<std::mutex> lock(mu_);
  shutdown_ = true;
  if (!wait) return;
  if (t_current_cpu_executor == this) {
    throw RuntimeError(
        "CpuExecutor::shutdown(wait=true) was called from one of its own calls, which would "
        "wait for itself; call shutdown(false) there, or shut down from another thread");
  }
  idle_cv_.wait(lock, [this] { return pending_ == 0; });
}

CpuExecutor::Stats CpuExecutor::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Stats{pending_, tasks_run_};
}

CpuExecutor& default_cpu_executor() {
  static CpuExecutor* const executor = [] {
    auto* e = new CpuExecutor();
    std::atexit([] {
      try {
        default_cpu_executor().shutdown(/*wait=*/true);
      } catch (const RuntimeError&) {
        default_cpu_executor().shutdown(/*wait=*/false);
      }
    });
    return e;
  }();
  return *executor;
}

}  // namespace weft
