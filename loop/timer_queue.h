// TimerQueue: the loop's timers, handed out in deadline order and, for equal deadlines, in
// the order they were scheduled (asyncio's call_at ordering).
//
// Two structures, one order:
//   - a hierarchical timing wheel (Varghese and Lauck; Tokio and Go use one) for timers that
//     are not due soon: 6 levels of 64 slots, 1 tick = 2^20 ns (about 1 ms), so level L's
//     slots are 64^L ticks wide and the wheel spans about 2.2 years. A slot is an intrusive
//     circular list running through the timers themselves: push and remove are O(1) and
//     touch only the timer and its neighbours. Slots are not ordered inside: the wheel
//     never hands a timer out itself;
//   - a binary min-heap of {deadline, seq, timer} entries (held by value, so comparisons
//     never chase a pointer) for the near timers. Only the heap hands timers out, so the
//     order is exact to the nanosecond, not to the tick.
// A timer moves from the wheel to the heap when the wheel's clock (`elapsed_`) reaches its
// tick: a slot of level L > 0 is then redistributed over the lower levels ("cascading"), a
// slot of level 0 goes to the heap in list order. The heap stays about one tick's worth of
// timers deep, whatever the total: W6 (100,000 sleeps over 100 ms) spent a fifth of a loop's
// time in the old all-heap sift_down (17 levels, each a cache miss).
//
// Invariants (timer_queue.cc relies on each):
//   - every timer in the wheel has tick >= elapsed_; every timer with tick < elapsed_ is in
//     the heap. So anything that could be the earliest is in the heap, or in a slot whose
//     start the wheel has not reached.
//   - a wheel timer sits at the level of the highest 6-bit digit in which its tick differs
//     from elapsed_ (at level 0 if none): lower levels hold earlier ticks, and at level L > 0
//     no timer is in the slot elapsed_ itself is in.
//   - ties: timers with equal deadlines enter the heap in the order they were pushed (slot
//     lists are FIFO, cascading keeps list order, and a push goes to the heap only once
//     every older timer of its tick is there), and the heap breaks ties by entry order.
//
// Eager removal is what lets a sleeping coroutine keep its timer node inside its own frame
// (no allocation per sleep): when the frame goes away, the node must already be out.
//
// Owner thread only.
#ifndef WEFT_LOOP_TIMER_QUEUE_H_
#define WEFT_LOOP_TIMER_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "loop/clock.h"

namespace weft::internal {

// A node of a wheel slot's circular list; the slot's own node is the list head.
struct TimerLink {
  TimerLink* prev = nullptr;
  union {
    TimerLink* next = nullptr;  // in a wheel slot
    size_t heap_index;          // in the heap (prev is then TimerQueue's heap marker)
  };
};

// Something that can wait in a TimerQueue.
class TimerBase : private TimerLink {
 public:
  // Called on the loop thread once the deadline has passed, after removal from the queue.
  virtual void on_due() = 0;
  // Called when a closing loop drops the timer unfired.
  virtual void on_dropped() {}

  // In a TimerQueue (not yet due, or due and not yet handed out).
  bool scheduled() const { return prev != nullptr; }
  TimePoint deadline() const { return deadline_; }

 protected:
  TimerBase() = default;
  ~TimerBase() = default;

 private:
  friend class TimerQueue;
  TimePoint deadline_{};
};

class TimerQueue {
 public:
  TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // One counter (not the heap's size plus the wheel's): the loop asks on every iteration.
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // The earliest deadline, exactly. Precondition: !empty(). May move timers from the wheel
  // to the heap (never changes what is handed out, or when).
  TimePoint next_deadline();

  // Precondition: !t->scheduled().
  void push(TimerBase* t, TimePoint deadline);
  // Removes t if it is scheduled; returns whether it was.
  bool remove(TimerBase* t);
  // Removes and returns the earliest timer if its deadline is <= now, else nullptr.
  TimerBase* pop_due(TimePoint now);
  // Removes and returns any timer (for teardown), or nullptr when empty.
  TimerBase* pop_any();

 private:
  static constexpr int kTickShift = 20;  // 1 tick = 2^20 ns
  static constexpr int kLevelBits = 6;
  static constexpr int kSlots = 1 << kLevelBits;
  static constexpr int kLevels = 6;

  struct Entry {
    TimePoint deadline;
    uint64_t seq;
    TimerBase* timer;
  };
  static bool before(const Entry& a, const Entry& b) {
    return a.deadline < b.deadline || (a.deadline == b.deadline && a.seq < b.seq);
  }
  static uint64_t tick_of(TimePoint t);

  // --- heap ---
  void heap_push(TimerBase* t);
  void place(size_t i, const Entry& e) {
    heap_[i] = e;
    e.timer->heap_index = i;
  }
  void sift_up(size_t i, Entry e);
  void sift_down(size_t i, Entry e);
  void heap_remove_at(size_t i);

  // --- wheel ---
  struct Slot {
    int level;
    int index;
    uint64_t start;  // the first tick it covers
  };
  // Files t (tick >= elapsed_) into the wheel, or the heap if it is beyond the wheel's span.
  void wheel_insert(TimerBase* t, uint64_t tick);
  void unlink(TimerBase* t);
  // The occupied slot with the lowest start, if any.
  bool earliest_slot(Slot* out) const;
  // Moves every wheel timer with tick <= target out of the way (to the heap, or cascaded to
  // a lower level), then sets elapsed_ = target. Precondition: target >= elapsed_.
  void advance_to(uint64_t target);
  TimerLink& head(int level, int index) { return slots_[level * kSlots + index]; }

  std::vector<Entry> heap_;
  uint64_t next_seq_ = 0;
  uint64_t elapsed_ = 0;  // the wheel's clock, in ticks
  // Both kept, though either follows from the other and the heap's size: that size is a
  // division (24-byte entries), and deriving either cost 14-16 instructions per
  // call_later + cancel (callgrind).
  size_t size_ = 0;
  size_t wheel_size_ = 0;
  uint64_t occupied_[kLevels] = {};  // bit i of level L: slot i holds a timer
  TimerLink slots_[kLevels * kSlots];
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_TIMER_QUEUE_H_
