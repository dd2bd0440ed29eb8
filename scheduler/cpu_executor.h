// CpuExecutor: CPU-bound calls on a oneTBB task_arena, and run_cpu.
//
//   uint64_t h = co_await weft::run_cpu(hash_file_contents, std::move(buffer));
//   weft::CpuExecutor codec({.max_concurrency = 1});      // a private arena
//   Image img = co_await weft::run_in_executor(codec, decode, bytes);
//
// Calls run on oneTBB's worker threads inside an arena of `max_concurrency` slots, so CPU
// work never takes more cores than that, and nested TBB parallelism (parallel_for inside a
// call) runs in the same arena. Use it for work that computes; for work that waits (files,
// sleeps, foreign blocking APIs) use the blocking pool (to_thread), which grows to hundreds
// of threads where this would stall its few slots. The result comes back to the awaiting
// task as for any executor (executor_call.h): same cancellation and loop-lifetime rules.
//
// The loops that submit never join the arena, so weft raises oneTBB's process-wide
// max_allowed_parallelism (a single global_control, never lowered) until every slot of every
// CpuExecutor can have a worker thread.
//
// The executor keeps its own FIFO of jobs (under a mutex that ThreadSanitizer sees); each
// arena task it enqueues runs the oldest one. Debian's oneTBB is not built for
// ThreadSanitizer, so the one hand-off through oneTBB (the arena task itself) is annotated.
//
// Shutdown: shutdown(wait) stops accepting calls (submit raises RuntimeError); with wait, it
// returns once every accepted call has finished. The destructor does shutdown(true). The
// process-wide default (default_cpu_executor()) is created on first use, never destroyed,
// and shut down at exit.
//
// Thread-safety: any thread. shutdown(true) from one of its own calls raises RuntimeError.
#ifndef WEFT_SCHEDULER_CPU_EXECUTOR_H_
#define WEFT_SCHEDULER_CPU_EXECUTOR_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

#include "scheduler/executor.h"
#include "scheduler/executor_job_queue.h"
#include "scheduler/executor_call.h"

namespace weft {

class CpuExecutor final : public Executor {
 public:
  struct Options {
    // Arena slots (threads running calls at once); 0: one per hardware thread.
    int max_concurrency = 0;
  };
  struct Stats {
    size_t pending = 0;      // accepted and not finished
    uint64_t tasks_run = 0;  // finished
  };

  CpuExecutor() : CpuExecutor(Options{}) {}
  explicit CpuExecutor(Options options);
  ~CpuExecutor() override;
  CpuExecutor(const CpuExecutor&) = delete;
  CpuExecutor& operator=(const CpuExecutor&) = delete;

  void submit(ExecutorJob* job) override;
  void shutdown(bool wait = true);

  int max_concurrency() const;
  Stats stats() const;

 private:
  struct Arena;
  class RunOne;
  // Runs the oldest queued job (one per arena task).
  void run_one();

  std::unique_ptr<Arena> arena_;
  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  internal::ExecutorJobQueue queue_;  // guarded by mu_
  size_t pending_ = 0;
  uint64_t tasks_run_ = 0;
  bool shutdown_ = false;
};

// The process-wide CPU executor behind run_cpu: one slot per hardware thread.
CpuExecutor& default_cpu_executor();

template <class F, class... Args>
ExecutorCall<ExecutorResult<F, Args...>> run_cpu(F&& fn, Args&&... args) {
  return run_in_executor(default_cpu_executor(), std::forward<F>(fn), std::forward<Args>(args)...);
}

}  // namespace weft

#endif  // WEFT_SCHEDULER_CPU_EXECUTOR_H_
