// Executor: somewhere to run calls off the event loop (concurrent.futures.Executor, as the
// first argument of asyncio's loop.run_in_executor).
//
//   weft::BlockingPool pool;                                  // or default_blocking_pool()
//   int v = co_await weft::run_in_executor(pool, read_file, path);
//
// weft's executors are BlockingPool (threads for blocking calls; the default, see
// to_thread.h) and CpuExecutor (a oneTBB arena for CPU-bound work). A user's executor
// implements submit(): it must eventually call job->run() (or job->fail(error)) exactly once,
// on any thread, and may raise instead of taking the job (then it must not touch it).
//
// Thread-safety: submit() may be called from any thread.
#ifndef WEFT_SCHEDULER_EXECUTOR_H_
#define WEFT_SCHEDULER_EXECUTOR_H_

#include "scheduler/executor_job.h"

namespace weft {

class Executor {
 public:
  virtual ~Executor() = default;
  // Takes the job (one reference) and runs it eventually. Raises RuntimeError when the
  // executor no longer accepts work (shut down); the job is then left to the caller.
  virtual void submit(ExecutorJob* job) = 0;
};

}  // namespace weft

#endif  // WEFT_SCHEDULER_EXECUTOR_H_
