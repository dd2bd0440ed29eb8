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
// Ctrl-C (as asyncio.Runner; loop/signals.h): on the main thread, the first SIGINT cancels
// the main task and the second stops the loop; either way run raises KeyboardInterrupt.
//
// With options.threads > 1 the coroutine runs as the main task of loop 0 of a Runtime of
// that many loops (scheduler/runtime.h; the program must link //scheduler:runtime, which
// registers itself here at start-up: loop/ does not depend on scheduler/). spawn() then
// spreads work over every loop.
//
// Misuse: calling weft::run on a thread that already runs a loop raises RuntimeError.
#ifndef WEFT_LOOP_RUN_H_
#define WEFT_LOOP_RUN_H_

#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

#include "loop/coro.h"
#include "loop/event_loop.h"
#include "loop/signals.h"
#include "loop/task.h"

namespace weft {

struct RunOptions {
  // Number of loops, each on its own thread. 1: a plain EventLoop on the calling thread.
  size_t threads = 1;
  // Debug mode for the loops; unset: WEFT_DEBUG from the environment.
  std::optional<bool> debug;
};

namespace internal {
// Runs `main` to completion on a multi-loop Runtime; registered by scheduler/runtime.cc.
using MultiLoopRunner = void (*)(Coro<void> main, const RunOptions& options);
void set_multi_loop_runner(MultiLoopRunner runner);
// Raises RuntimeError if no runner is registered.
MultiLoopRunner multi_loop_runner();

template <class T>
Coro<void> store_result(Coro<T> main, ResultSlot<T>& out) {
  out.set(co_await std::move(main));
}
inline Coro<void> store_result(Coro<void> main, ResultSlot<void>&) { co_await std::move(main); }
// Refuses to start a loop on a thread that runs one.
void check_no_running_loop(const char* what);
// Cancels the loop's pending tasks, runs it until they finish, reports their errors, and
// closes it (asyncio's Runner.close()).
void shutdown_loop(EventLoop& loop);
}  // namespace internal

template <class T>
T run(Coro<T> main, RunOptions options = {}) {
  if (options.threads != 1) {
    internal::ResultSlot<T> out;
    internal::multi_loop_runner()(internal::store_result(std::move(main), out), options);
    if constexpr (std::is_void_v<T>) {
      return;
    } else if constexpr (std::is_reference_v<T>) {
      return out.get();
    } else {
      return std::move(out.get());
    }
  }
  internal::check_no_running_loop("weft::run");
  EventLoop loop;
  if (options.debug) loop.set_debug(*options.debug);
  Task<T> task = loop.create_task(std::move(main));
  // Ctrl-C: the first cancels `task`, the second stops the loop (loop/signals.h).
  internal::RunnerSigint sigint(loop, *task.base());
  try {
    loop.run_until_done(*task.base());
  } catch (...) {
    sigint.restore();
    internal::shutdown_loop(loop);
    if (sigint.hard_stopped()) throw KeyboardInterrupt();
    throw;
  }
  sigint.restore();
  internal::shutdown_loop(loop);
  sigint.raise_if_interrupted();
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
