// InjectionQueue: the Runtime-wide queue of spawned tasks that no loop holds yet: tasks
// spawned or woken from outside the Runtime, and the overflow of full StealableQueues. Any
// loop takes from it when its own queue is empty, and every so often even when it is not, so
// that nothing here starves.
//
// Push is lock-free; pull takes a mutex. W1r (spawn_many_remote) is one thread outside the
// Runtime pushing tasks one at a time while the loops pull: with a mutex on both sides
// (the first version, a std::deque under a std::mutex) the pusher spent a fifth of its time
// in the lock, much of it asleep on the futex while a loop pulled. Now:
//   - push links the tasks through their intrusive Runnable link and CASes the chain onto
//     `incoming_`, a stack (newest first). Pushers never wait for pullers.
//   - pull, under `mu_` (pullers are loops, a few at a time), serves `ready_` first, a FIFO
//     that only pullers touch; when it is empty it takes the whole of `incoming_` with one
//     exchange and reverses it into `ready_`, which restores the push order. So tasks come
//     out in the order they were pushed, batch by batch.
// A stack popped only by taking all of it has no ABA problem: nothing is ever unlinked from
// its middle. std::mutex and std::atomic (not absl::Mutex) so that TSan sees both.
//
// `size_` counts what was pushed and not yet pulled. It is what the parking protocol reads
// (scheduler/runtime.cc): a push adds to it (seq_cst) after linking its tasks and before
// reading the siblings' park states; a parking loop sets its park state and then reads it.
// It may go briefly negative (a pull can take a task whose pusher has not added it yet);
// empty() is then true, which is safe: that pusher's add, and its wake-up check, are still
// to come.
#ifndef WEFT_SCHEDULER_INJECTION_QUEUE_H_
#define WEFT_SCHEDULER_INJECTION_QUEUE_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "loop/task_base.h"

namespace weft::internal {

class InjectionQueue {
 public:
  // Any thread. Lock-free.
  void push(TaskBase* const* tasks, size_t n) {
    if (n == 0) return;
    // Chain the batch newest first (the stack's order), then publish it with one CAS.
    for (size_t i = n - 1; i > 0; --i) set_next(tasks[i], tasks[i - 1]);
    Runnable* first = tasks[n - 1];
    Runnable* last = tasks[0];
    Runnable* head = incoming_.load(std::memory_order_relaxed);
    do {
      set_next(last, head);
    } while (!incoming_.compare_exchange_weak(head, first, std::memory_order_release,
                                              std::memory_order_relaxed));
    size_.fetch_add(static_cast<int64_t>(n), std::memory_order_seq_cst);
  }

  // Any thread. Moves up to `max` of the oldest tasks to `out`; returns how many.
  size_t pull(TaskBase** out, size_t max) {
    if (empty() || max == 0) return 0;
    std::lock_guard<std::mutex> lock(mu_);
    if (!ready_) take_incoming();
    size_t n = 0;
    while (n < max && ready_) {
      Runnable* r = ready_;
      ready_ = next_of(r);
      set_next(r, nullptr);
      out[n++] = static_cast<TaskBase*>(r);
    }
    if (n > 0) size_.fetch_sub(static_cast<int64_t>(n), std::memory_order_seq_cst);
    return n;
  }

  bool empty() const { return size_.load(std::memory_order_seq_cst) <= 0; }

 private:
  static Runnable* next_of(Runnable* r) { return r->next_; }
  static void set_next(Runnable* r, Runnable* next) { r->next_ = next; }

  // Under mu_, with ready_ empty: everything pushed so far, oldest first.
  void take_incoming() {
    Runnable* r = incoming_.exchange(nullptr, std::memory_order_acquire);
    Runnable* reversed = nullptr;
    while (r) {
      Runnable* next = next_of(r);
      set_next(r, reversed);
      reversed = r;
      r = next;
    }
    ready_ = reversed;
  }

  // Pushers' line: the stack and the count they add to.
  alignas(64) std::atomic<Runnable*> incoming_{nullptr};
  std::atomic<int64_t> size_{0};
  // Pullers' line.
  alignas(64) std::mutex mu_;
  Runnable* ready_ = nullptr;  // guarded by mu_
};

}  // namespace weft::internal

#endif  // WEFT_SCHEDULER_INJECTION_QUEUE_H_
