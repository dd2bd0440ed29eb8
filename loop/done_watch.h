// DoneWatch: tells a combinator when futures or tasks it watches complete (internal).
//
// gather, wait and as_completed learn of completions as asyncio does, through
// done-callbacks (so a child's completion reaches them one loop iteration later, scheduled
// with call_soon). The awaiter that owns the watch lives in a coroutine frame and may go
// away while a callback is already queued (its task resumed for another reason, or was
// abandoned by a closing loop): each callback holds a reference to a small shared Link,
// which stop() disconnects, so a late callback finds nobody and does nothing.
//
// Owning loop only. Not movable: the Link points back at it.
#ifndef WEFT_LOOP_DONE_WATCH_H_
#define WEFT_LOOP_DONE_WATCH_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "loop/future_base.h"

namespace weft::internal {

class DoneListener {
 public:
  // `index` is the value watch() returned for `f`. Runs on the loop, from a done-callback.
  virtual void on_done(FutureBase& f, uint32_t index) = 0;

 protected:
  ~DoneListener() = default;
};

class DoneWatch {
 public:
  explicit DoneWatch(DoneListener* listener) : listener_(listener) {}
  DoneWatch(const DoneWatch&) = delete;
  DoneWatch& operator=(const DoneWatch&) = delete;
  ~DoneWatch() { stop(); }

  // Reports f's completion to the listener (at the next loop iteration if f is done
  // already). Returns the index on_done() will receive: 0, 1, 2... in call order.
  uint32_t watch(FutureBase* f);
  // No further on_done() calls; removes the callbacks that have not fired.
  void stop();
  // Whether on_done() has been called for `index`.
  bool reported(uint32_t index) const { return entries_[index].reported; }
  // How many watched futures have not been reported yet.
  size_t num_unreported() const { return unreported_; }

 private:
  struct Link {
    std::atomic<uint32_t> refs{1};
    DoneWatch* watch;
    explicit Link(DoneWatch* w) : watch(w) {}
    void unref() {
      if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
  };
  // What a callback captures: 16 bytes with the index, so it fits AnyInvocable's inline
  // storage and registering a callback allocates nothing beyond the future's own list.
  class LinkRef {
   public:
    explicit LinkRef(Link* l) : l_(l) { l_->refs.fetch_add(1, std::memory_order_relaxed); }
    LinkRef(LinkRef&& o) noexcept : l_(o.l_) { o.l_ = nullptr; }
    LinkRef(const LinkRef&) = delete;
    ~LinkRef() {
      if (l_) l_->unref();
    }
    Link* get() const { return l_; }

   private:
    Link* l_;
  };
  struct Entry {
    FutureBase* f;
    uint64_t callback_id;
    bool reported;
  };
  void fire(FutureBase& f, uint32_t index);

  DoneListener* listener_;
  Link* link_ = nullptr;  // created on the first watch()
  std::vector<Entry> entries_;
  size_t unreported_ = 0;
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_DONE_WATCH_H_
