// Handle and TimerHandle: the cancellable receipts of call_soon, call_soon_threadsafe,
// call_later and call_at (asyncio.Handle / asyncio.TimerHandle).
//
//   weft::TimerHandle h = loop.call_later(5s, [] { ... });
//   h.cancel();  // the callback will not run
//
// Ownership: a Handle is a reference-counted reference to the scheduled callback; the loop
// holds its own reference until the callback has run or been dropped, so discarding the
// Handle never unschedules anything. A Handle may outlive its loop; cancel() on it then does
// nothing.
//
// Thread-safety: copying and destroying a Handle, cancel() and cancelled() are safe from any
// thread. A TimerHandle cancelled on its loop's thread leaves the timer queue at once; from
// another thread the removal is posted to the loop with call_soon_threadsafe.
#ifndef WEFT_LOOP_HANDLE_H_
#define WEFT_LOOP_HANDLE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "loop/clock.h"
#include "loop/creation_site.h"
#include "loop/frame_allocator.h"
#include "loop/ref_count.h"
#include "loop/runnable.h"
#include "loop/timer_queue.h"

namespace weft {

class EventLoop;

namespace internal {

// A scheduled callback. It is its own ready-queue node (Runnable) so that call_soon never
// allocates more than this one object (from FrameAllocator). Reference counted: one
// reference for each queue (ready queue, timer queue, fd table) that holds it, one for each
// Handle.
class CallbackNode : public Runnable, public UsesFrameAllocator {
 public:
  CallbackNode(EventLoop* loop, absl::AnyInvocable<void()>&& fn, uint32_t refs)
      : loop_(loop), refs_(refs), fn_(std::move(fn)) {}
  virtual ~CallbackNode() = default;

  void ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void unref() {
    if (drop_ref(refs_)) delete this;
  }

  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  // Sets the flag; the node is skipped when its turn comes. Any thread.
  void mark_cancelled() { cancelled_.store(true, std::memory_order_relaxed); }

  EventLoop* loop() const { return loop_; }

  // For persistent callbacks (add_reader/add_writer): true while in the ready queue, so a
  // readiness event that arrives meanwhile does not queue it twice. Loop thread only.
  bool queued = false;

  void run() override;
  void discard() override { unref(); }

  // Where call_soon/call_later/call_at was called, in debug mode (Sited); else nullptr.
  virtual const CallSite* creation_site() const { return nullptr; }
  // "<Handle>", or in debug mode "<Handle created at file:line>" (asyncio's repr).
  std::string describe() const;

 private:
  EventLoop* loop_;
  std::atomic<uint32_t> refs_;
  std::atomic<bool> cancelled_{false};
  absl::AnyInvocable<void()> fn_;
};

// A callback with a deadline: it sits in the loop's timer queue until due, then moves to the
// ready queue.
class TimerCallbackNode : public CallbackNode, public TimerBase {
 public:
  using CallbackNode::CallbackNode;
  void on_due() override;
  void on_dropped() override { unref(); }
};

// A node that remembers where it was scheduled: what debug mode allocates instead of a
// Node, so that the ordinary nodes carry no site (creation_site.h).
template <class Node>
class Sited final : public Node {
 public:
  template <class... Args>
  explicit Sited(CallSite site, Args&&... args)
      : Node(std::forward<Args>(args)...), site_(site) {}
  const CallSite* creation_site() const override { return &site_; }

 private:
  CallSite site_;
};

}  // namespace internal

class Handle {
 public:
  Handle() = default;
  Handle(const Handle& other) : node_(other.node_) {
    if (node_) node_->ref();
  }
  Handle(Handle&& other) noexcept : node_(std::exchange(other.node_, nullptr)) {}
  Handle& operator=(Handle other) noexcept {
    std::swap(node_, other.node_);
    return *this;
  }
  ~Handle() {
    if (node_) node_->unref();
  }

  // Prevents the callback from running, if it has not run yet. Idempotent. Any thread.
  void cancel();
  bool cancelled() const { return node_ && node_->cancelled(); }
  explicit operator bool() const { return node_ != nullptr; }

 protected:
  friend class EventLoop;
  // Adopts one reference.
  explicit Handle(internal::CallbackNode* node) : node_(node) {}
  internal::CallbackNode* node_ = nullptr;
};

class TimerHandle : public Handle {
 public:
  TimerHandle() = default;
  // The time at which the callback is (or was) scheduled to run, on the loop's clock.
  TimePoint when() const;
  // Removes the timer from its loop's timer queue at once (or posts the removal when called
  // from another thread) so it holds no memory while waiting. Idempotent. Any thread.
  void cancel();

 private:
  friend class EventLoop;
  explicit TimerHandle(internal::TimerCallbackNode* node) : Handle(node) {}
  internal::TimerCallbackNode* timer() const {
    return static_cast<internal::TimerCallbackNode*>(node_);
  }
};

}  // namespace weft

#endif  // WEFT_LOOP_HANDLE_H_
