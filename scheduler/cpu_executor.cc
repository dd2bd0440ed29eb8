#include "scheduler/cpu_executor.h"

#include <cstdlib>

#include "loop/errors.h"
#include "oneapi/tbb/task_arena.h"

namespace weft {
namespace {

thread_local const CpuExecutor* t_current_cpu_executor = nullptr;

}  // namespace

struct CpuExecutor::Arena {
  explicit Arena(int slots)
      : arena(slots > 0 ? slots : oneapi::tbb::task_arena::automatic) {}
  oneapi::tbb::task_arena arena;
};

// What oneTBB stores and runs: only the executor's address, which lives until every task
// has run (shutdown waits for them).
namespace {
class RunOne {
 public:
  explicit RunOne(CpuExecutor* e, void (*fn)(CpuExecutor*)) : e_(e), fn_(fn) {}
  void operator()() const { fn_(e_); }

 private:
  CpuExecutor* e_;
  void (*fn_)(CpuExecutor*);
};
}  // namespace

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
    job->next_in_queue = nullptr;
    if (tail_) {
      tail_->next_in_queue = job;
    } else {
      head_ = job;
    }
    tail_ = job;
    ++pending_;
  }
  arena_->arena.enqueue(RunOne(this, [](CpuExecutor* e) { e->run_one(); }));
}

void CpuExecutor::run_one() {
  ExecutorJob* job;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job = head_;
    head_ = job->next_in_queue;
    if (head_ == nullptr) tail_ = nullptr;
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
