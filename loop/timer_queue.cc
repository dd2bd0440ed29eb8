#include "loop/timer_queue.h"

#include <bit>

namespace weft::internal {

namespace {
// The address a heap-held timer keeps in `prev`: never a list node, never null.
TimerLink g_in_heap;
}  // namespace

TimerQueue::TimerQueue() {
  for (TimerLink& s : slots_) s.prev = s.next = &s;
}

uint64_t TimerQueue::tick_of(TimePoint t) {
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return ns <= 0 ? 0 : static_cast<uint64_t>(ns) >> kTickShift;
}

void TimerQueue::push(TimerBase* t, TimePoint deadline) {
  t->deadline_ = deadline;
  ++size_;
  const uint64_t tick = tick_of(deadline);
  // An empty wheel may move its clock forward for free (nothing in it is older): a first
  // timer after an idle spell then files at the level its distance says, instead of
  // cascading down from wherever the clock stopped.
  if (wheel_size_ == 0 && tick > elapsed_) elapsed_ = tick;
  if (tick < elapsed_) {
    heap_push(t);
  } else {
    wheel_insert(t, tick);
  }
}

bool TimerQueue::remove(TimerBase* t) {
  if (!t->scheduled()) return false;
  --size_;
  if (t->prev == &g_in_heap) {
    heap_remove_at(t->heap_index);
  } else {
    unlink(t);
  }
  return true;
}

TimePoint TimerQueue::next_deadline() {
  // The heap's top is the earliest unless a wheel slot starts at or before its tick.
  Slot s;
  while (earliest_slot(&s) &&
         (heap_.empty() || tick_of(heap_.front().deadline) >= s.start)) {
    advance_to(s.start);
  }
  return heap_.front().deadline;
}

TimerBase* TimerQueue::pop_due(TimePoint now) {
  const uint64_t now_tick = tick_of(now);
  // Everything of the current tick joins the heap, which then decides to the nanosecond.
  if (wheel_size_ != 0 && now_tick >= elapsed_) advance_to(now_tick + 1);
  if (heap_.empty() || heap_.front().deadline > now) return nullptr;
  TimerBase* t = heap_.front().timer;
  heap_remove_at(0);
  --size_;
  return t;
}

TimerBase* TimerQueue::pop_any() {
  if (size_ == 0) return nullptr;
  --size_;
  if (!heap_.empty()) {
    TimerBase* t = heap_.back().timer;
    heap_remove_at(heap_.size() - 1);
    return t;
  }
  for (int level = 0; level < kLevels; ++level) {
    if (occupied_[level] == 0) continue;
    TimerLink& h = head(level, std::countr_zero(occupied_[level]));
    auto* t = static_cast<TimerBase*>(h.next);
    unlink(t);
    return t;
  }
  return nullptr;
}

// --- wheel ---

void TimerQueue::wheel_insert(TimerBase* t, uint64_t tick) {
  // The highest digit in which tick and the clock differ picks the level (0 when they are in
  // the same 64-tick window).
  const uint64_t differ = (tick ^ elapsed_) | (kSlots - 1);
  const int level = (63 - std::countl_zero(differ)) / kLevelBits;
  if (level >= kLevels) {
    heap_push(t);  // more than about two years out: rare enough for the heap
    return;
  }
  const int index = static_cast<int>((tick >> (level * kLevelBits)) & (kSlots - 1));
  TimerLink& h = head(level, index);
  // Append at the tail: FIFO within a slot is what keeps ties in push order.
  t->prev = h.prev;
  t->next = &h;
  h.prev->next = t;
  h.prev = t;
  occupied_[level] |= uint64_t{1} << index;
  ++wheel_size_;
}

void TimerQueue::unlink(TimerBase* t) {
  TimerLink* prev = t->prev;
  TimerLink* next = t->next;
  prev->next = next;
  next->prev = prev;
  // In a circular list with a head, prev == next only when t was the last timer: both are
  // then the head, whose position names the slot.
  if (prev == next) {
    const size_t i = static_cast<size_t>(prev - slots_);
    occupied_[i / kSlots] &= ~(uint64_t{1} << (i % kSlots));
  }
  t->prev = nullptr;
  t->next = nullptr;
  --wheel_size_;
}

bool TimerQueue::earliest_slot(Slot* out) const {
  // By the level invariant the lowest occupied level holds the earliest slot, and no slot
  // of a level lies before the clock's own slot at that level.
  for (int level = 0; level < kLevels; ++level) {
    const int shift = level * kLevelBits;
    const int own = static_cast<int>((elapsed_ >> shift) & (kSlots - 1));
    const uint64_t ahead = occupied_[level] & (~uint64_t{0} << own);
    if (ahead == 0) continue;
    const int index = std::countr_zero(ahead);
    const uint64_t window = elapsed_ >> (shift + kLevelBits) << (shift + kLevelBits);
    *out = Slot{level, index, window + (static_cast<uint64_t>(index) << shift)};
    return true;
  }
  return false;
}

void TimerQueue::advance_to(uint64_t target) {
  Slot s;
  while (earliest_slot(&s) && s.start <= target) {
    TimerLink& h = head(s.level, s.index);
    // Detach the whole list first: cascading files timers into other slots of this wheel.
    TimerLink* first = h.next;
    TimerLink* last = h.prev;
    h.prev = h.next = &h;
    occupied_[s.level] &= ~(uint64_t{1} << s.index);
    last->next = nullptr;
    // Every timer older than this slot has left the wheel, so the clock may move to its
    // start (levels > 0 refile relative to it).
    elapsed_ = s.start;
    for (TimerLink* l = first; l != nullptr;) {
      auto* t = static_cast<TimerBase*>(l);
      l = l->next;
      --wheel_size_;
      if (s.level == 0) {
        heap_push(t);
      } else {
        wheel_insert(t, tick_of(t->deadline_));
      }
    }
  }
  elapsed_ = target;
}

// --- heap ---

void TimerQueue::heap_push(TimerBase* t) {
  t->prev = &g_in_heap;
  heap_.push_back({});
  sift_up(heap_.size() - 1, Entry{t->deadline_, next_seq_++, t});
}

void TimerQueue::sift_up(size_t i, Entry e) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(e, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void TimerQueue::sift_down(size_t i, Entry e) {
  const size_t n = heap_.size();
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
    if (!before(heap_[child], e)) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, e);
}

void TimerQueue::heap_remove_at(size_t i) {
  TimerBase* removed = heap_[i].timer;
  Entry last = heap_.back();
  heap_.pop_back();
  if (i < heap_.size()) {
    // Move the former last entry into the hole, then restore order in whichever direction
    // it is out of place.
    if (i > 0 && before(last, heap_[(i - 1) / 2])) {
      sift_up(i, last);
    } else {
      sift_down(i, last);
    }
  }
  removed->prev = nullptr;
  removed->next = nullptr;
}

}  // namespace weft::internal
