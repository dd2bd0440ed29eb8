// to_thread and run_in_executor(fn): run a blocking call on the shared blocking pool and
// await its result (asyncio.to_thread, and loop.run_in_executor(None, fn)).
//
//   weft::Coro<size_t> count_lines(std::string path) {
//     std::string text = co_await weft::to_thread(read_file, path);   // the loop keeps going
//     co_return std::count(text.begin(), text.end(), '\n');
//   }
//
// Both submit fn(args...) to default_blocking_pool() at once and return an ExecutorCall<T>
// (executor_call.h): awaiting it gives fn's value or rethrows its exception; cancelling the
// awaiting task drops the result without interrupting a call that has started. Unlike
// asyncio's to_thread, which is a coroutine, the call is submitted when to_thread is called,
// as with run_in_executor; discarding the result detaches the call ([[nodiscard]] warns).
//
// Thread-safety: any thread; await the result inside a Coro running in a Task. Raises
// RuntimeError once the default pool has been shut down (at process exit).
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
  return run_in_executor(default_blocking_pool(), std::forward<F>(fn),
                         std::forward<Args>(args)...);
}

// run_in_executor with the default executor (asyncio's executor=None).
template <class F, class... Args>
  requires(!std::is_base_of_v<Executor, std::remove_cvref_t<F>>)
ExecutorCall<ExecutorResult<F, Args...>> run_in_executor(F&& fn, Args&&... args) {
  return run_in_executor(default_blocking_pool(), std::forward<F>(fn),
                         std::forward<Args>(args)...);
}

}  // namespace weft

#endif  // WEFT_SCHEDULER_TO_THREAD_H_
