#include "loop/run.h"

#include <vector>

#include "loop/async_generator.h"
#include "loop/errors.h"

namespace weft::internal {

void check_no_running_loop(const char* what) {
  if (EventLoop::current_or_null() != nullptr) {
    throw RuntimeError(std::string(what) +
                       "() cannot be called from a running event loop: it would start a second "
                       "loop on this thread. Await the coroutine instead (or create_task it)");
  }
}

void shutdown_loop(EventLoop& loop) {
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
  loop.close();
}

}  // namespace weft::internal
