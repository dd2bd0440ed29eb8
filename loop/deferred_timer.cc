#include "loop/deferred_timer.h"

#include "loop/event_loop.h"

namespace weft::internal {

class DeferredTimer::Node final : public Runnable {
 public:
  explicit Node(DeferredTimer* owner) : owner_(owner) {}
  void disconnect() { owner_ = nullptr; }
  void run() override {
    if (DeferredTimer* t = owner_) {
      t->queued_ = nullptr;
      delete this;
      t->on_expire();
      return;
    }
    delete this;
  }
  void discard() override {
    if (owner_) owner_->queued_ = nullptr;
    delete this;
  }

 private:
  DeferredTimer* owner_;
};

void DeferredTimer::arm(EventLoop* loop, TimePoint when) {
  pin_current_task();  // the timer lives in this loop's timer queue
  disarm();
  loop_ = loop;
  loop->timer_queue().push(this, when);
}

void DeferredTimer::fire_soon(EventLoop* loop) {
  pin_current_task();
  disarm();
  loop_ = loop;
  on_due();
}

void DeferredTimer::disarm() {
  if (scheduled()) loop_->timer_queue().remove(this);
  if (queued_) {
    queued_->disconnect();
    queued_ = nullptr;
  }
}

void DeferredTimer::on_due() {
  queued_ = new Node(this);
  loop_->schedule(queued_);
}

}  // namespace weft::internal
