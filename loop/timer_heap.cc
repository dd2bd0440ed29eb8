#include "loop/timer_heap.h"

namespace weft::internal {

void TimerHeap::push(TimerBase* t, TimePoint deadline) {
  t->deadline_ = deadline;
  entries_.push_back({});
  sift_up(entries_.size() - 1, Entry{deadline, next_seq_++, t});
}

bool TimerHeap::remove(TimerBase* t) {
  if (!t->in_heap()) return false;
  remove_at(t->heap_index_);
  return true;
}

TimerBase* TimerHeap::pop_due(TimePoint now) {
  if (entries_.empty() || entries_.front().deadline > now) return nullptr;
  TimerBase* t = entries_.front().timer;
  remove_at(0);
  return t;
}

TimerBase* TimerHeap::pop_any() {
  if (entries_.empty()) return nullptr;
  TimerBase* t = entries_.back().timer;
  remove_at(entries_.size() - 1);
  return t;
}

void TimerHeap::sift_up(size_t i, Entry e) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(e, entries_[parent])) break;
    place(i, entries_[parent]);
    i = parent;
  }
  place(i, e);
}

void TimerHeap::sift_down(size_t i, Entry e) {
  const size_t n = entries_.size();
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && before(entries_[child + 1], entries_[child])) ++child;
    if (!before(entries_[child], e)) break;
    place(i, entries_[child]);
    i = child;
  }
  place(i, e);
}

void TimerHeap::remove_at(size_t i) {
  TimerBase* removed = entries_[i].timer;
  Entry last = entries_.back();
  entries_.pop_back();
  if (i < entries_.size()) {
    // Move the former last entry into the hole, then restore order in whichever direction
    // it is out of place.
    if (i > 0 && before(last, entries_[(i - 1) / 2])) {
      sift_up(i, last);
    } else {
      sift_down(i, last);
    }
  }
  removed->heap_index_ = TimerBase::kNotInHeap;
}

}  // namespace weft::internal
