#include "loop/handle.h"

#include "loop/event_loop.h"

namespace weft {
namespace internal {

void CallbackNode::run() {
  queued = false;
  loop_->publish_callback_step();
  if (!cancelled()) {
    try {
      fn_();
    } catch (...) {
      ExceptionContext ctx;
      ctx.message = "Exception in callback";
      ctx.exception = std::current_exception();
      ctx.handle = describe();
      if (const CallSite* site = creation_site()) ctx.source = site->to_string();
      loop_->call_exception_handler(ctx);
    }
  }
  unref();
}

std::string CallbackNode::describe() const {
  const CallSite* site = creation_site();
  return site ? "<Handle created at " + site->to_string() + ">" : "<Handle>";
}

void TimerCallbackNode::on_due() { loop()->schedule(this); }

}  // namespace internal

void Handle::cancel() {
  if (node_) node_->mark_cancelled();
}

TimePoint TimerHandle::when() const { return node_ ? timer()->deadline() : TimePoint{}; }

void TimerHandle::cancel() {
  if (!node_ || node_->cancelled()) return;
  node_->mark_cancelled();
  internal::TimerCallbackNode* t = timer();
  EventLoop* loop = t->loop();
  EventLoop* here = EventLoop::current_or_null();
  if (here != loop && !internal::loop_is_alive(loop)) {
    // The handle outlived its loop (which dropped the timer when it closed): nothing to
    // remove, and `loop` must not be dereferenced. Checked before is_running() below, which
    // would read the destroyed loop. On the loop's own thread the loop is alive by
    // definition, so that hot path skips the registry lock.
    return;
  }
  if (here == loop || (here == nullptr && !loop->is_running())) {
    // The timer queue held a reference; the node may already have moved to the ready queue, in
    // which case the ready queue's run() drops that reference after skipping it.
    if (loop->timer_queue().remove(t)) t->unref();
  } else if (!loop->is_closed()) {
    t->ref();
    try {
      loop->call_soon_threadsafe([t] {
        if (t->loop()->timer_queue().remove(t)) t->unref();
        t->unref();
      });
    } catch (const RuntimeError&) {
      t->unref();  // closed meanwhile: the closing loop dropped the timer
    }
  }
}

}  // namespace weft
