#include "sync/release_guard.h"

#include <exception>
#include <string>

#include "loop/event_loop.h"
#include "loop/exception_context.h"

namespace weft::internal {

void report_guard_release_error(const char* primitive) noexcept {
  try {
    ExceptionContext ctx;
    ctx.message = std::string("a ") + primitive +
                  " guard could not release at the end of its scope: the " + primitive +
                  " was already released by hand; release through the guard (guard.release()) "
                  "or detach() it first";
    ctx.exception = std::current_exception();
    if (EventLoop* loop = EventLoop::current_or_null()) {
      loop->call_exception_handler(ctx);
    } else {
      print_exception_context(ctx);
    }
  } catch (...) {
    // Reporting failed (out of memory): nothing more can be done from a destructor.
  }
}

void throw_guard_not_held(const char* primitive) {
  throw RuntimeError(std::string(primitive) +
                     " guard: release() of a guard that holds nothing (released already, or "
                     "moved from); check owns() first");
}

}  // namespace weft::internal
