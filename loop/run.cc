#include "loop/run.h"

#include <atomic>
#include <utility>
#include <vector>

#include "loop/async_generator.h"
#include "loop/errors.h"

namespace weft::internal {
namespace {
std::atomic<MultiLoopRunner> g_multi_loop_runner{nullptr};
// Set once by a static initializer of scheduler/ before main, read by every weft::run.
std::atomic<void* (*)()> g_run_scope_open{nullptr};
std::atomic<void (*)(void*, EventLoop*, bool)> g_run_scope_close{nullptr};
}  // namespace

void set_run_scope_hooks(RunScopeHooks hooks) {
  g_run_scope_close.store(hooks.close, std::memory_order_release);
  g_run_scope_open.store(hooks.open, std::memory_order_release);
}

RunScope::RunScope() {
  if (auto open = g_run_scope_open.load(std::memory_order_acquire)) {
    close_ = g_run_scope_close.load(std::memory_order_acquire);
    scope_ = open();
  }
}

void RunScope::close(EventLoop* loop) {
  if (!close_) return;
  auto close = std::exchange(close_, nullptr);
  close(std::exchange(scope_, nullptr), loop, abandon_);
}

void set_multi_loop_runner(MultiLoopRunner runner) {
  g_multi_loop_runner.store(runner, std::memory_order_release);
}

MultiLoopRunner multi_loop_runner() {
  MultiLoopRunner r = g_multi_loop_runner.load(std::memory_order_acquire);
  if (!r) {
    throw RuntimeError(
        "weft::run with threads > 1 needs the multi-loop Runtime, which is not linked into "
        "this program: add a dependency on //scheduler:runtime (or use threads = 1)");
  }
  return r;
}

void check_no_running_loop(const char* what) {
  if (EventLoop::current_or_null() != nullptr) {
    throw RuntimeError(std::string(what) +
                       "() cannot be called from a running event loop: it would start a second "
                       "loop on this thread. Await the coroutine instead (or create_task it)");
  }
}

void shutdown_loop(EventLoop& loop, RunScope* scope) {
  if (loop.is_closed()) return;
  std::vector<TaskBase*> tasks = loop.pending_tasks_snapshot();
  for (TaskBase* t : tasks) t->cancel("");
  for (TaskBase* t : tasks) {
    // Each task runs its cleanup; the loop keeps serving every task meanwhile.
    if (!t->done()) loop.run_until_done(*t);
  }
  for (TaskBase* t : tasks) {
    if (!t->cancelled()) {
      std::exception_ptr e = t->exception();
      if (e) {
        ExceptionContext ctx;
        ctx.message = "unhandled exception during weft::run() shutdown";
        ctx.exception = e;
        ctx.task = t->name();
        ctx.future = t->describe();
        loop.call_exception_handler(ctx);
      }
    }
    t->unref();
  }
  // asyncio's shutdown_asyncgens: close the async generators still alive.
  finalize_async_generators(loop);
  // asyncio's shutdown_default_executor.
  if (scope) scope->close(&loop);
  loop.close();
}

}  // namespace weft::internal
