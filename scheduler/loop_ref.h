// LoopRef: the address of an event loop for a completion that may arrive from another thread
// after the loop is gone (internal, for the ConcurrentFuture bridges).
//
//   internal::LoopRef target(EventLoop::current());   // on the loop's thread
//   ...
//   target.post([f]() mutable { f.set_result(1); });  // any thread, any time later
//
// post() runs the callback on the loop, as call_soon_threadsafe does, if that loop is still
// alive and open; if it has been closed or destroyed meanwhile the callback is destroyed
// unrun, in the posting thread (asyncio drops such results too: its bridges check
// loop.is_closed()). The loop is identified by its address and the serial number the loop
// registry gave it, so a new loop that happens to reuse the address is not mistaken for it.
//
// Thread-safety: any thread. Cost: a process-wide lock per post (EventLoop's registry); the
// blocking pool's hot path does not use this (see executor_job.h).
#ifndef WEFT_SCHEDULER_LOOP_REF_H_
#define WEFT_SCHEDULER_LOOP_REF_H_

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "loop/event_loop.h"

namespace weft::internal {

class LoopRef {
 public:
  // On any thread, while `loop` is known to be alive.
  explicit LoopRef(EventLoop& loop) : loop_(&loop), serial_(loop_serial(&loop)) {}

  EventLoop* loop() const { return loop_; }
  // Runs fn on the loop if it is alive and open; otherwise destroys fn in this thread.
  void post(absl::AnyInvocable<void()> fn) const;

 private:
  EventLoop* loop_;
  uint64_t serial_;
};

}  // namespace weft::internal

#endif  // WEFT_SCHEDULER_LOOP_REF_H_
