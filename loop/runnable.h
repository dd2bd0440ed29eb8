// Runnable: the one kind of item a loop's ready queue holds, and RunQueue, that queue.
//
// Tasks and callback handles are Runnables themselves (intrusive), so scheduling never
// allocates a queue node: call_soon and a task wake-up are a pointer push. An item is in at
// most one queue at a time; the code that schedules it guarantees that (a task is woken once
// per suspension, a callback is queued once).
//
// RunQueue is owner-only: no atomics. Cross-thread pushes go through Inbox (inbox.h).
#ifndef WEFT_LOOP_RUNNABLE_H_
#define WEFT_LOOP_RUNNABLE_H_

#include <cstddef>

namespace weft::internal {

class Runnable {
 public:
  // Runs the item on its loop's thread. The queue has already unlinked it.
  virtual void run() = 0;
  // Called instead of run() when a closing loop drops the item unrun.
  virtual void discard() = 0;

 protected:
  Runnable() = default;
  ~Runnable() = default;

 private:
  friend class RunQueue;
  friend class Inbox;
  friend class InjectionQueue;  // scheduler/injection_queue.h: spawned tasks only
  Runnable* next_ = nullptr;
};

// An intrusive FIFO of Runnables. Owning thread only.
class RunQueue {
 public:
  RunQueue() = default;
  RunQueue(const RunQueue&) = delete;
  RunQueue& operator=(const RunQueue&) = delete;

  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }

  void push_back(Runnable* r) {
    r->next_ = nullptr;
    if (tail_) {
      tail_->next_ = r;
    } else {
      head_ = r;
    }
    tail_ = r;
    ++size_;
  }

  void push_front(Runnable* r) {
    r->next_ = head_;
    head_ = r;
    if (!tail_) tail_ = r;
    ++size_;
  }

  // Precondition: !empty().
  Runnable* pop_front() {
    Runnable* r = head_;
    head_ = r->next_;
    if (!head_) tail_ = nullptr;
    r->next_ = nullptr;
    --size_;
    return r;
  }

  // Appends a chain linked through next_ (first..last, n items) in O(1).
  void append_chain(Runnable* first, Runnable* last, size_t n) {
    if (!first) return;
    last->next_ = nullptr;
    if (tail_) {
      tail_->next_ = first;
    } else {
      head_ = first;
    }
    tail_ = last;
    size_ += n;
  }

 private:
  Runnable* head_ = nullptr;
  Runnable* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_RUNNABLE_H_
