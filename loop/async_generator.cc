#include "loop/async_generator.h"

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "loop/event_loop.h"
#include "loop/exception_context.h"
#include "loop/task.h"

namespace weft::internal {

void AsyncGenPromiseBase::throw_already_running(const char* what) {
  throw RuntimeError(absl::StrFormat(
      "AsyncGenerator::%s(): the generator is already running (another next() or aclose() is "
      "in progress, suspended inside its body); one consumer at a time",
      what));
}

void throw_asend_before_start() {
  throw RuntimeError(
      "AsyncGenerator::asend(): the generator has not started, so no co_yield can receive the "
      "value; start it with next() (which runs it to its first co_yield), then asend()");
}

void AsyncGenPromiseBase::on_first_resume() {
  started_ = true;
  // asyncio's firstiter hook: the loop learns of the generator so that its shutdown can
  // close it if it is abandoned mid-way.
  if (EventLoop* loop = EventLoop::current_or_null()) {
    pin_current_task();  // the loop's registry holds the generator
    loop->asyncgens().add(this);
  }
}

void AsyncGenPromiseBase::destroy_frame() {
  if (AsyncGenRegistry* r = registry()) r->remove(this);
  if (owner_) *owner_ = AsyncGenOwner{};
  frame_.destroy();
}

bool AcloseAwaiter::await_ready() {
  if (!p_) return true;  // finished, closed or empty
  if (p_->running()) {
    // Let begin_resume raise the error with the usual message.
    return false;
  }
  if (!p_->started()) {
    // Never started: there is nothing to clean up; the body never runs.
    p_->destroy_frame();
    p_ = nullptr;
    return true;
  }
  return false;
}

void AsyncGenPromiseBase::finish_close() {
  end_resume();
  if (!frame_.done()) {
    destroy_frame();
    throw RuntimeError(
        "AsyncGenerator::aclose(): the generator ignored GeneratorExit and yielded again; a "
        "closing generator must let GeneratorExit propagate (or return)");
  }
  std::exception_ptr e = exception();
  destroy_frame();
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const GeneratorExit&) {
    return;
  }
}

namespace {

Coro<void> close_abandoned(AsyncGenPromiseBase* p) { co_await AcloseAwaiter(p); }

}  // namespace

Coro<void> shutdown_async_generators(EventLoop& loop) {
  // Closing one generator may start or abandon others: repeat until none is left.
  for (int round = 0; round < 100 && !loop.asyncgens().empty(); ++round) {
    std::vector<AsyncGenNode*> gens = loop.asyncgens().snapshot();
    std::vector<Task<void>> closers;
    for (AsyncGenNode* n : gens) {
      auto* p = static_cast<AsyncGenPromiseBase*>(n);
      if (p->running()) {
        // Suspended inside its body for a task that is gone; nothing can resume it.
        loop.asyncgens().remove(p);
        continue;
      }
      closers.push_back(loop.create_task(close_abandoned(p), "asyncgen-finalizer"));
    }
    for (Task<void>& t : closers) {
      std::exception_ptr error;
      try {
        co_await t;
      } catch (const CancelledError&) {
      } catch (...) {
        error = std::current_exception();
      }
      if (error) {
        ExceptionContext ctx;
        ctx.message = "an error occurred during closing of an asynchronous generator";
        ctx.exception = error;
        ctx.task = t.get_name();
        loop.call_exception_handler(ctx);
      }
    }
  }
}

void finalize_async_generators(EventLoop& loop) {
  if (loop.asyncgens().empty()) return;
  loop.run_until_complete(shutdown_async_generators(loop));
}

}  // namespace weft::internal
