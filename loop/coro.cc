#include "loop/coro.h"

#include <string>

#include "absl/strings/str_format.h"
#include "loop/event_loop.h"
#include "loop/future_awaiter.h"

namespace weft::internal {

void CoroPromiseBase::throw_already_started(const char* how) const {
  throw RuntimeError(absl::StrFormat(
      "coroutine '%s' (%s:%d) cannot be %s: it was already awaited or wrapped in a Task, "
      "and a Coro runs only once. Call the coroutine function again for a new Coro, or "
      "wrap it in a Task (create_task) and await the Task as many times as you need",
      function_, file_, line_, how));
}

const std::exception_ptr CoroPromiseBase::kNoException;

namespace {

// Where the Coro was dropped: the frames of the report machinery and of the dropped Coro's
// destructor are left out, so the first frame shown is the code that dropped it.
std::string dropped_at_stack() {
  static const char* const kSkip[] = {"report_never_awaited", "dropped_at_stack",
                                      ">::reset()", ">::~Coro()", nullptr};
  return symbolized_stack_here(kSkip);
}

}  // namespace

void report_never_awaited(const CoroPromiseBase& promise) {
  EventLoop* loop = EventLoop::current_or_null();
  bool debug = loop ? loop->get_debug() : debug_from_environment();
  if (!debug) return;
  const CoroSite& site = promise.site();
  ExceptionContext ctx;
  ctx.message = absl::StrFormat("coroutine '%s' was never awaited", site.function);
  ctx.coroutine = site.function;
  ctx.source = site.to_string();
  ctx.stack = dropped_at_stack();
  ctx.source_traceback = coro_origin(&promise);
  if (loop) {
    loop->call_exception_handler(ctx);
  } else {
    print_exception_context(ctx);
  }
}

void throw_no_task(const char* what) {
  throw RuntimeError(absl::StrFormat(
      "%s was awaited outside a weft Task: weft's awaitables need the Task that runs the "
      "coroutine. Await it inside a weft::Coro that runs in a Task (weft::run, create_task, "
      "run_until_complete)",
      what));
}

bool on_loop_thread(const EventLoop* loop) { return t_running_loop == loop; }

void register_waiter_remotely(FutureBase* future, TaskBase* task) {
  future->ref();
  try {
    future->loop()->call_soon_threadsafe([future, task] {
      if (!future->add_waiter(task)) task->wake_from_wait();
      future->unref();
    });
  } catch (const RuntimeError&) {
    future->unref();
    throw RuntimeError(absl::StrFormat(
        "Task '%s' awaited %s, whose loop is closed: it can never complete", task->name(),
        future->describe()));
  }
}

void cancel_remotely(FutureBase* future, const std::string& msg) {
  future->ref();
  try {
    future->loop()->call_soon_threadsafe([future, msg] {
      future->cancel(msg);
      future->unref();
    });
  } catch (const RuntimeError&) {
    future->unref();
  }
}

std::string describe_awaited(const FutureBase* future) {
  EventLoop* loop = future->loop();
  const auto* task = dynamic_cast<const TaskBase*>(future);
  if (task ? task->readable_here() : on_loop_thread(loop)) return future->describe();
  uint64_t serial = loop_serial(loop);
  if (task) {
    return absl::StrFormat("<Task Task-%d coro=%s() at %s:%d, on loop %d>", task->id(),
                           task->site().function, task->site().file, task->site().line, serial);
  }
  return absl::StrFormat("<Future of loop %d>", serial);
}

void throw_self_await(TaskBase& task) {
  throw RuntimeError(absl::StrFormat(
      "Task '%s' cannot await itself: it would wait forever. Await another task, or use "
      "add_done_callback to act when this one finishes",
      task.name()));
}

}  // namespace weft::internal
