// Inbox: the multi-producer, single-consumer queue through which other threads hand
// Runnables to a loop (call_soon_threadsafe, cross-thread task wake-ups).
//
// Producers push onto a lock-free stack (one CAS); the loop takes the whole stack with one
// exchange and reverses it, so each producer's items keep their order. Chosen over
// tbb::concurrent_queue because it is intrusive (no node allocation: the Runnable is the
// node), and because TSan can see std::atomic but not oneTBB's internal synchronisation.
//
// Memory ordering: push is a release CAS and take_all an acquire exchange, so everything a
// producer wrote before push() is visible to the loop when it runs the item. The parking
// protocol (event_loop.cc) additionally needs push() and the loop's `parked` flag to be
// sequentially consistent; see EventLoop::park_and_poll.
#ifndef WEFT_LOOP_INBOX_H_
#define WEFT_LOOP_INBOX_H_

#include <atomic>

#include "loop/runnable.h"

namespace weft::internal {

class Inbox {
 public:
  Inbox() = default;
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Any thread.
  void push(Runnable* r) {
    Runnable* head = head_.load(std::memory_order_relaxed);
    do {
      r->next_ = head;
    } while (!head_.compare_exchange_weak(head, r, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
  }

  // Any thread; a hint only.
  bool empty() const { return head_.load(std::memory_order_seq_cst) == nullptr; }

  // Owner thread. Moves everything pushed so far to the back of `out`, oldest first.
  // Returns how many items moved.
  size_t take_all(RunQueue& out) {
    if (head_.load(std::memory_order_relaxed) == nullptr) return 0;
    Runnable* r = head_.exchange(nullptr, std::memory_order_acquire);
    // Reverse the LIFO stack into FIFO order.
    Runnable* fifo = nullptr;
    Runnable* last = r;
    size_t n = 0;
    while (r) {
      Runnable* next = r->next_;
      r->next_ = fifo;
      fifo = r;
      r = next;
      ++n;
    }
    out.append_chain(fifo, last, n);
    return n;
  }

 private:
  std::atomic<Runnable*> head_{nullptr};
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_INBOX_H_
