// InjectionQueue: the Runtime-wide queue of spawned tasks that no loop holds yet: tasks
// spawned from outside the Runtime, and the overflow of full StealableQueues. Any loop
// takes from it when its own queue is empty, and every so often even when it is not, so
// that nothing here starves.
//
// A mutex and a deque: every push and pull moves a batch, so the lock is taken once per
// many tasks; `size_` lets loops check for work without the lock. std::mutex (not
// absl::Mutex) so that TSan sees it.
#ifndef WEFT_SCHEDULER_INJECTION_QUEUE_H_
#define WEFT_SCHEDULER_INJECTION_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <deque>
#include <mutex>

#include "loop/task_base.h"

namespace weft::internal {

class InjectionQueue {
 public:
  // Any thread.
  void push(TaskBase* const* tasks, size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.insert(queue_.end(), tasks, tasks + n);
    size_.store(queue_.size(), std::memory_order_seq_cst);
  }
  // Any thread. Moves up to `max` of the oldest tasks to `out`; returns how many.
  size_t pull(TaskBase** out, size_t max) {
    if (empty()) return 0;
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = std::min(max, queue_.size());
    for (size_t i = 0; i < n; ++i) {
      out[i] = queue_.front();
      queue_.pop_front();
    }
    size_.store(queue_.size(), std::memory_order_seq_cst);
    return n;
  }
  bool empty() const { return size_.load(std::memory_order_seq_cst) == 0; }
  size_t size() const { return size_.load(std::memory_order_relaxed); }

 private:
  std::mutex mu_;
  std::deque<TaskBase*> queue_;
  std::atomic<size_t> size_{0};
};

}  // namespace weft::internal

#endif  // WEFT_SCHEDULER_INJECTION_QUEUE_H_
