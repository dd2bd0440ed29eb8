// StealableQueue: a loop's queue of spawned tasks that have not started yet, which idle
// sibling loops may steal from (Tokio's local run queue, simplified).
//
// A fixed ring of kCapacity slots. Exactly one producer, the owning loop, appends at `tail`.
// Consumers (the owner taking its next slice, thieves taking half) all advance `head` with a
// compare-and-swap, after reading the slots they claim. Why that is safe: the producer never
// writes a slot in [head, head + kCapacity), so the slots a consumer read stay intact unless
// `head` moved, in which case its CAS fails and it retries. `tail` is published with a
// release store after the slot is written, and consumers read it with acquire.
//
// When the ring is full the owner moves half of it to the Runtime's injection queue (one
// lock for kCapacity/2 tasks) instead of blocking.
#ifndef WEFT_SCHEDULER_STEALABLE_QUEUE_H_
#define WEFT_SCHEDULER_STEALABLE_QUEUE_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "loop/task_base.h"

namespace weft::internal {

class StealableQueue {
 public:
  static constexpr uint32_t kCapacity = 256;

  // Owner only. Returns false, and queues nothing, when full.
  bool push(TaskBase* task) {
    uint32_t t = tail_.load(std::memory_order_relaxed);
    // `head` only moves forward, so a stale copy can only make the ring look fuller than it
    // is: read the real one (a line every consumer writes) only when the copy says full.
    if (t - head_seen_ >= kCapacity) {
      head_seen_ = head_.load(std::memory_order_acquire);
      if (t - head_seen_ >= kCapacity) return false;
    }
    slots_[t & kMask].store(task, std::memory_order_relaxed);
    // seq_cst: the parking handshake (runtime.cc) needs this store ordered before the
    // producer's later read of the parked-loop count.
    tail_.store(t + 1, std::memory_order_seq_cst);
    return true;
  }

  // Any thread. Claims up to `max` of the oldest tasks (at most half of those present when
  // `half`) into `out`; returns how many.
  size_t take(TaskBase** out, size_t max, bool half) {
    uint32_t h = head_.load(std::memory_order_acquire);
    for (;;) {
      uint32_t t = tail_.load(std::memory_order_acquire);
      uint32_t n = t - h;
      if (n == 0 || n > kCapacity) {
        // Empty, or `h` is stale beyond a full lap: reload.
        if (n == 0) return 0;
        h = head_.load(std::memory_order_acquire);
        continue;
      }
      if (half) n -= n / 2;
      n = static_cast<uint32_t>(std::min<size_t>(n, max));
      for (uint32_t i = 0; i < n; ++i) {
        out[i] = slots_[(h + i) & kMask].load(std::memory_order_relaxed);
      }
      if (head_.compare_exchange_weak(h, h + n, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return n;
      }
    }
  }

  // Any thread; a snapshot.
  size_t size() const {
    uint32_t h = head_.load(std::memory_order_seq_cst);
    uint32_t t = tail_.load(std::memory_order_seq_cst);
    return t - h <= kCapacity ? t - h : 0;
  }
  bool empty() const { return size() == 0; }

 private:
  static constexpr uint32_t kMask = kCapacity - 1;
  static_assert((kCapacity & kMask) == 0, "capacity must be a power of two");

  alignas(64) std::atomic<uint32_t> head_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
  uint32_t head_seen_ = 0;  // owner only: a recent value of head_
  alignas(64) std::array<std::atomic<TaskBase*>, kCapacity> slots_{};
};

}  // namespace weft::internal

#endif  // WEFT_SCHEDULER_STEALABLE_QUEUE_H_
