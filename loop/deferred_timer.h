// DeferredTimer: a timer for the combinators' deadlines (internal). When it is due, its
// on_expire() runs from the ready queue, not from inside the loop's timer processing, so
// that it runs in deadline order with call_later/call_at callbacks that fall due in the
// same loop iteration (asyncio runs every due TimerHandle as a ready callback: a
// call_later(0.1, fut.set_result, x) due before a wait_for's 0.2 timeout wins even when
// both fall due together).
//
// The object lives in a coroutine frame and may be destroyed at any time, even with its
// expiry queued: the queued node is then disconnected and does nothing. A node is allocated
// only when the timer actually fires. Owning loop only.
#ifndef WEFT_LOOP_DEFERRED_TIMER_H_
#define WEFT_LOOP_DEFERRED_TIMER_H_

#include "loop/clock.h"
#include "loop/runnable.h"
#include "loop/timer_queue.h"

namespace weft {

class EventLoop;

namespace internal {

class DeferredTimer : private TimerBase {
 public:
  DeferredTimer(const DeferredTimer&) = delete;
  DeferredTimer& operator=(const DeferredTimer&) = delete;

  // (Re)arms the timer on `loop` for `when` (a time in the past fires at the next
  // iteration). Disarms it first.
  void arm(EventLoop* loop, TimePoint when);
  // Expires at once: on_expire() runs from the ready queue, after what is already there
  // (asyncio's call_soon). Disarms first.
  void fire_soon(EventLoop* loop);
  // No expiry from now on, whether still in the timer queue or already queued.
  void disarm();
  bool armed() const { return scheduled() || queued_ != nullptr; }

 protected:
  DeferredTimer() = default;
  ~DeferredTimer() { disarm(); }
  virtual void on_expire() = 0;

 private:
  class Node;
  void on_due() final;

  EventLoop* loop_ = nullptr;
  Node* queued_ = nullptr;
};

}  // namespace internal
}  // namespace weft

#endif  // WEFT_LOOP_DEFERRED_TIMER_H_
