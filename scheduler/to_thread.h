// to_thread and run_in_executor(fn): run a blocking call on the shared blocking pool and
// await its result (asyncio.to_thread, and loop.run_in_executor(None, fn)).
//
//   weft::Coro<size_t> count_lines(std::string path) {
//     std::string text = co_await weft::to_thread(read_file, path);   // the loop keeps going
//     co_return std::count(text.begin(), text.end(), '\n');
//   }
//
// Both submit fn(args...) to current_blocking_pool() at once (the pool of the Runtime or
// weft::run whose loop calls them, else the process-wide one; blocking_pool.h) and return an
// ExecutorCall<T> (executor_call.h): awaiting it gives fn's value or rethrows its exception; cancelling the
// awaiting task drops the result without interrupting a call that has started. Unlike
// asyncio's to_thread, which is a coroutine, the call is submitted when to_thread is called,
// as with run_in_executor; discarding the result detaches the call ([[nodiscard]] warns).
//
// Thread-safety: any thread; await the result inside a Coro running in a Task. Raises
// RuntimeError once that pool has been shut down (the Runtime's or weft::run's at their end,
// the process-wide one at exit).
#ifndef WEFT_SCHEDULER_TO_THREAD_H_
#define WEFT_SCHEDULER_TO_THREAD_H_

#include <type_traits>
#include <utility>

#include "scheduler/blocking_pool.h"
#include "scheduler/executor.h"
#include "scheduler/executor_call.h"

namespace weft {

template <class F, class... Args>
ExecutorCall<ExecutorResult<F, Args...>> to_thread(F&& fn, Args&&... args) {
  return run_in_executor(current_blocking_pool(), std::forward<F>(fn),
                         std::forward<Args>(args)...);
}

// run_in_executor with the default executor (asyncio's executor=None).
template <class F, class... Args>
  requires(!std::is_base_of_v<Executor, std::remove_cvref_t<F>>)
ExecutorCall<ExecutorResult<F, Args...>> run_in_executor(F&& fn, Args&&... args) {
  return run_in_executor(current_blocking_pool(), std::forward<F>(fn),
                         std::forward<Args>(args)...);
}

}  // namespace weft

#endif  // WEFT_SCHEDULER_TO_THREAD_H_
