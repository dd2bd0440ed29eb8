// InjectionQueue: the Runtime-wide queue of spawned tasks that no loop holds yet: tasks
// spawned or woken from outside the Runtime, and the overflow of full StealableQueues. Any
// loop takes from it when its own queue is empty, and every so often even when it is not, so
// that nothing here starves.
//
// A FIFO linked through the tasks themselves (their Runnable link: no node allocation), after
// Vyukov's intrusive multi-producer queue:
//   - push links its batch, exchanges `tail_` for the batch's last task, then stores the
//     batch's first task into the old tail's link. Pushers never wait for anyone.
//   - pull, under `mu_` (pullers are loops, a few at a time, so it has one consumer at a
//     time), walks from `head_` along the links, handing tasks out in push order.
// Why not a stack that pull reverses (the previous version): the reversal was a pointer
// chase over every task pushed since the last pull, before any of them ran, so each task was
// touched three times (reverse, hand out, run), by then often out of cache. When one loop
// spawned a million tasks (W1 on one loop), the whole million overflowed here and find_work
// was 18% of the profile. Now pull touches each task once, just before it runs.
//
// The price: between a push's exchange and its link store, the tasks pushed after it are
// unreachable (pull stops at the unlinked task and returns what it has). A pusher is two
// instructions from the end then, unless its thread is preempted there; a loop that sees
// `size_` > 0 and pulls nothing meanwhile does not park (has_work is true), it retries.
//
// A stub node keeps the list non-empty, so that a pusher always has a task to link to; pull
// re-queues the stub when it hands out the last task.
//
// `size_` counts what was pushed and not yet pulled. It is what the parking protocol reads
// (scheduler/runtime.cc): a push adds to it (seq_cst) after linking its tasks and before
// reading the siblings' park states; a parking loop sets its park state and then reads it.
// It may go briefly negative (a pull can take a task whose pusher has not added it yet);
// empty() is then true, which is safe: that pusher's add, and its wake-up check, are still
// to come.
//
// The links are plain Runnable pointers (RunQueue's, owner-only elsewhere); here a puller
// reads a link a pusher may be writing, so both go through std::atomic_ref, which TSan sees.
#ifndef WEFT_SCHEDULER_INJECTION_QUEUE_H_
#define WEFT_SCHEDULER_INJECTION_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "loop/runnable.h"

namespace weft::internal {

class InjectionQueue {
 public:
  InjectionQueue() = default;
  InjectionQueue(const InjectionQueue&) = delete;
  InjectionQueue& operator=(const InjectionQueue&) = delete;

  // Any thread. Lock-free. T: a Runnable (the Runtime queues TaskBases).
  template <class T>
  void push(T* const* items, size_t n) {
    if (n == 0) return;
    for (size_t i = 0; i + 1 < n; ++i) set_next(*items[i], items[i + 1]);
    set_next(*items[n - 1], nullptr);
    link(items[0], items[n - 1]);
    size_.fetch_add(static_cast<int64_t>(n), std::memory_order_seq_cst);
  }

  // Any thread. Moves up to `max` of the oldest items to `out`; returns how many. T must be
  // the type that was pushed.
  template <class T>
  size_t pull(T** out, size_t max) {
    if (empty() || max == 0) return 0;
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    while (n < max) {
      Runnable* r = pop();
      if (r == nullptr) break;
      out[n++] = static_cast<T*>(r);
    }
    if (n > 0) size_.fetch_sub(static_cast<int64_t>(n), std::memory_order_seq_cst);
    return n;
  }

  bool empty() const { return size_.load(std::memory_order_seq_cst) <= 0; }

 private:
  class Stub final : public Runnable {
    void run() override {}
    void discard() override {}
  };

  static Runnable* next_of(Runnable* r) {
    return std::atomic_ref<Runnable*>(r->next_).load(std::memory_order_acquire);
  }
  // Takes a reference so that the T* -> Runnable* conversion in push has no null branch:
  // through a pointer, g++ 12's LTO warned (-Wstringop-overflow) about the store on that
  // branch, which cannot run.
  static void set_next(Runnable& r, Runnable* next) {
    std::atomic_ref<Runnable*>(r.next_).store(next, std::memory_order_relaxed);
  }

  // Appends the chain first..last (already linked, last's link null).
  void link(Runnable* first, Runnable* last) {
    // acq_rel: acquire so that the store below follows the previous pusher's writes to
    // `prev`; release so that the next pusher's store into `last` follows ours.
    Runnable* prev = tail_.exchange(last, std::memory_order_acq_rel);
    // Publishes the chain (release): a puller that reads this link sees every link in it.
    std::atomic_ref<Runnable*>(prev->next_).store(first, std::memory_order_release);
  }

  // Under mu_: the oldest item, or nullptr if there is none or the next one is not linked yet.
  Runnable* pop() {
    Runnable* head = head_;
    Runnable* next = next_of(head);
    if (head == &stub_) {
      if (next == nullptr) return nullptr;
      head_ = head = next;
      next = next_of(head);
    }
    if (next == nullptr) {
      // `head` looks like the last item. Hand it out only once something is linked after it:
      // the stub, if no push is under way; otherwise wait for that push to finish linking.
      if (head != tail_.load(std::memory_order_acquire)) return nullptr;
      set_next(stub_, nullptr);
      link(&stub_, &stub_);
      next = next_of(head);
      if (next == nullptr) return nullptr;
    }
    head_ = next;
    set_next(*head, nullptr);
    return head;
  }

  // Pushers' line.
  alignas(64) std::atomic<Runnable*> tail_{&stub_};
  std::atomic<int64_t> size_{0};
  // Pullers' line.
  alignas(64) std::mutex mu_;
  Runnable* head_ = &stub_;  // guarded by mu_
  Stub stub_;
};

}  // namespace weft::internal

#endif  // WEFT_SCHEDULER_INJECTION_QUEUE_H_
