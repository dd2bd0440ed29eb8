// weft::run: the program's entry point into the loop (asyncio.run).
//
//   weft::Coro<int> main_coro() { ... co_return 0; }
//   int main() { return weft::run(main_coro()); }
//
// Creates a new EventLoop on this thread, runs `main` to completion in a Task, then shuts
// down as asyncio.run does: every task still pending is cancelled and the loop runs until
// each has finished its cleanup (their errors, other than the cancellation, go to the
// exception handler); then the async generators still alive are closed (asyncio's
// shutdown_asyncgens, see async_generator.h), and the loop is closed. Returns main's result or rethrows its
// exception (CancelledError if it was cancelled).
//
// Misuse: calling weft::run on a thread that already runs a loop raises RuntimeError.
#ifndef WEFT_LOOP_RUN_H_
#define WEFT_LOOP_RUN_H_

#include <optional>
#include <type_traits>
#include <utility>

#include "loop/coro.h"
#include "loop/event_loop.h"
#include "loop/task.h"

namespace weft {

struct RunOptions {
  // Debug mode for the loop; unset: WEFT_DEBUG from the environment.
  std::optional<bool> debug;
};

namespace internal {
// Refuses to start a loop on a thread that runs one.
void check_no_running_loop(const char* what);
// Cancels the loop's pending tasks, runs it until they finish, reports their errors, and
// closes it (asyncio's Runner.close()).
void shutdown_loop(EventLoop& loop);
}  // namespace internal

template <class T>
T run(Coro<T> main, RunOptions options = {}) {
  internal::check_no_running_loop("weft::run");
  EventLoop loop;
  if (options.debug) loop.set_debug(*options.debug);
  Task<T> task = loop.create_task(std::move(main));
  try {
    loop.run_until_done(*task.base());
  } catch (...) {
    internal::shutdown_loop(loop);
    throw;
  }
  internal::shutdown_loop(loop);
  if constexpr (std::is_void_v<T>) {
    task.result();
  } else if constexpr (std::is_reference_v<T>) {
    return task.result();
  } else {
    return std::move(task.result());
  }
}

}  // namespace weft

#endif  // WEFT_LOOP_RUN_H_
