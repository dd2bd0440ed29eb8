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
  // The stuck-loop watchdog's threshold (watchdog.h); 0: off; unset: the default (1 s, or
  // WEFT_STUCK_THRESHOLD_MS).
  std::optional<Duration> stuck_threshold;
};

namespace internal {
// Runs `main` to completion on a multi-loop Runtime; registered by scheduler/runtime.cc.
using MultiLoopRunner = void (*)(Coro<void> main, const RunOptions& options);
void set_multi_loop_runner(MultiLoopRunner runner);
// Raises RuntimeError if no runner is registered.
MultiLoopRunner multi_loop_runner();

template <class T>
Coro<void> store_result(Coro<T> main, ResultSlot<T>& out, MultiLoopSigint* sigint = nullptr) {
  MainTaskNote note(sigint, current_task_or_null());
  out.set(co_await std::move(main));
}
inline Coro<void> store_result(Coro<void> main, ResultSlot<void>&,
                               MultiLoopSigint* sigint = nullptr) {
  MainTaskNote note(sigint, current_task_or_null());
  co_await std::move(main);
}
// Refuses to start a loop on a thread that runs one.
void check_no_running_loop(const char* what);

// What a single-loop weft::run owns besides its loop: the default blocking pool that
// to_thread uses on the loop's thread, created on first use (asyncio's default executor).
// scheduler/blocking_pool.cc registers the hooks when it is linked (loop/ does not depend
// on scheduler/); without them a RunScope does nothing.
struct RunScopeHooks {
  void* (*open)() = nullptr;  // on the loop's thread, before the main task starts
  // After the tasks' cleanup, before the loop closes: shuts the pool down and waits for the
  // calls still running while `loop` runs (nullptr: without running it); with `abandon`
  // (a hard stop) does not wait.
  void (*close)(void* scope, EventLoop* loop, bool abandon) = nullptr;
};
void set_run_scope_hooks(RunScopeHooks hooks);

class RunScope {
 public:
  RunScope();
  ~RunScope() { close(nullptr); }
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;
  // Idempotent.
  void close(EventLoop* loop);
  // A hard stop (the second Ctrl-C): close() does not wait for running calls.
  void abandon_running_calls() { abandon_ = true; }

 private:
  void* scope_ = nullptr;
  void (*close_)(void*, EventLoop*, bool) = nullptr;
  bool abandon_ = false;
};

// Cancels the loop's pending tasks, runs it until they finish, reports their errors, closes
// the async generators and `scope` (if any), and closes the loop (asyncio's Runner.close()).
void shutdown_loop(EventLoop& loop, RunScope* scope = nullptr);
}  // namespace internal

template <class T>
T run(Coro<T> main, RunOptions options = {}) {
  if (options.threads != 1) {
    internal::ResultSlot<T> out;
    internal::MultiLoopSigint sigint;  // before the Runtime starts its threads
    try {
      internal::multi_loop_runner()(internal::store_result(std::move(main), out, &sigint),
                                    options);
    } catch (const CancelledError&) {
      sigint.restore();
      sigint.raise_if_interrupted();
      throw;
    }
    sigint.restore();
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
  internal::RunScope scope;  // after the loop: closed before it
  if (options.debug) loop.set_debug(*options.debug);
  if (options.stuck_threshold) loop.set_stuck_threshold(*options.stuck_threshold);
  Task<T> task = loop.create_task(std::move(main));
  // Ctrl-C: the first cancels `task`, the second stops the loop (loop/signals.h).
  internal::RunnerSigint sigint(loop, *task.base());
  try {
    loop.run_until_done(*task.base());
  } catch (...) {
    sigint.restore();
    if (sigint.hard_stopped()) scope.abandon_running_calls();
    internal::shutdown_loop(loop, &scope);
    if (sigint.hard_stopped()) throw KeyboardInterrupt();
    throw;
  }
  sigint.restore();
  internal::shutdown_loop(loop, &scope);
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
