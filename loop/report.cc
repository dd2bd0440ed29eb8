#include "loop/report.h"

#include "loop/event_loop.h"
#include "loop/exception_context.h"
#include "loop/task_base.h"

namespace weft::internal {

void report_child_exception(FutureBase& child, const std::string& message) {
  ExceptionContext ctx;
  ctx.message = message;
  ctx.exception = child.exception();  // marks it retrieved
  ctx.future = child.describe();
  if (EventLoop* loop = child.loop(); loop_is_alive(loop)) {
    loop->call_exception_handler(ctx);
  } else {
    print_exception_context(ctx);
  }
}

void report_exception(std::exception_ptr e, const std::string& message) {
  ExceptionContext ctx;
  ctx.message = message;
  ctx.exception = std::move(e);
  if (TaskBase* t = current_task_or_null()) ctx.task = t->name();
  if (EventLoop* loop = EventLoop::current_or_null()) {
    loop->call_exception_handler(ctx);
  } else {
    print_exception_context(ctx);
  }
}

}  // namespace weft::internal
