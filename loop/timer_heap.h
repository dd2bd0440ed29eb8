// TimerHeap: the loop's timers, ordered by deadline and, for equal deadlines, by the order
// they were scheduled (a sequence number).
//
// A binary min-heap of {deadline, seq, timer} entries held by value, so comparisons never
// chase a pointer; each timer knows its index so that cancel removes it at once
// (O(log n)) instead of leaving a tombstone. Eager removal is what lets a sleeping
// coroutine keep its timer node inside its own frame (no allocation per sleep): when the
// frame goes away, the node must already be out of the heap.
//
// Owner thread only.
#ifndef WEFT_LOOP_TIMER_HEAP_H_
#define WEFT_LOOP_TIMER_HEAP_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "loop/clock.h"

namespace weft::internal {

// Something that can wait in a TimerHeap.
class TimerBase {
 public:
  static constexpr size_t kNotInHeap = ~size_t{0};

  // Called on the loop thread once the deadline has passed, after removal from the heap.
  virtual void on_due() = 0;
  // Called when a closing loop drops the timer unfired.
  virtual void on_dropped() {}

  bool in_heap() const { return heap_index_ != kNotInHeap; }
  TimePoint deadline() const { return deadline_; }

 protected:
  TimerBase() = default;
  ~TimerBase() = default;

 private:
  friend class TimerHeap;
  TimePoint deadline_{};
  size_t heap_index_ = kNotInHeap;
};

class TimerHeap {
 public:
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  // Precondition: !empty().
  TimePoint next_deadline() const { return entries_.front().deadline; }

  // Precondition: !t->in_heap().
  void push(TimerBase* t, TimePoint deadline);
  // Removes t if it is in the heap; returns whether it was.
  bool remove(TimerBase* t);
  // Removes and returns the earliest timer if its deadline is <= now, else nullptr.
  TimerBase* pop_due(TimePoint now);
  // Removes and returns any timer (for teardown), or nullptr when empty.
  TimerBase* pop_any();

 private:
  struct Entry {
    TimePoint deadline;
    uint64_t seq;
    TimerBase* timer;
  };
  static bool before(const Entry& a, const Entry& b) {
    return a.deadline < b.deadline || (a.deadline == b.deadline && a.seq < b.seq);
  }
  void place(size_t i, const Entry& e) {
    entries_[i] = e;
    e.timer->heap_index_ = i;
  }
  void sift_up(size_t i, Entry e);
  void sift_down(size_t i, Entry e);
  void remove_at(size_t i);

  std::vector<Entry> entries_;
  uint64_t next_seq_ = 0;
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_TIMER_HEAP_H_
