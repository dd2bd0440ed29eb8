// StealableQueue: a loop's queue of spawned tasks that have not started yet, which idle
// sibling loops may steal from (Tokio's local run queue, with a pop at the back for the
// owner as in Chase-Lev deques).
//
// A fixed ring of kCapacity slots, and one 64-bit word that describes which slots hold tasks:
// head (32 bits), length (9 bits) and a generation (23 bits). Every operation that moves
// tasks in or out is a compare-and-swap of that word:
// - push (owner only) writes the slot past the end, then publishes it by CASing length + 1;
// - take (owner or thieves) reads the oldest slots, then CASes head forward past them;
// - pop_back (owner only) reads the newest slot, then CASes length - 1 and generation + 1.
// Why reading a slot before the CAS is safe: slots in [head, head + length) are never written
// while they are in that range, and any change to the range changes the word, so a CAS that
// succeeds proves the slots read were still the ones claimed. The generation is what makes
// that true across a pop: a pop followed by a push leaves head and length as they were but
// rewrites the newest slot, which a thief may have read; the pop's generation bump fails the
// thief's CAS. (It would have to be preempted for 2^23 pops between its load and its CAS to
// see the same word again; a head that wraps takes 2^32 takes.)
//
// One word instead of Tokio's separate head and tail because the owner pops at the back: a
// thief that claims half of what it saw, from a stale tail, can otherwise claim a slot the
// owner has just popped, and only a CAS over head and length together rules that out.
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
    uint64_t w = word_.load(std::memory_order_relaxed);
    for (;;) {
      uint32_t len = length(w);
      if (len >= kCapacity) return false;
      slots_[(head(w) + len) & kMask].store(task, std::memory_order_relaxed);
      // seq_cst: the parking handshake (runtime.cc) needs the push ordered before the
      // producer's later read of the siblings' park states. Fails only if a taker moved head.
      if (word_.compare_exchange_weak(w, w + kLengthOne, std::memory_order_seq_cst,
                                      std::memory_order_relaxed)) {
        return true;
      }
    }
  }

  // Owner only. Takes the newest task if it is `expected`; false, and nothing taken, if it
  // is not (or the queue is empty).
  bool pop_back_if(TaskBase* expected) { return owner_pop_back<false>(expected) != nullptr; }

  // Owner only. Takes the newest task (the last pushed and not yet taken), or nullptr.
  TaskBase* pop_back() { return owner_pop_back<true>(nullptr); }

  // Any thread. Claims up to `max` of the oldest tasks (at most half of those present when
  // `half`, rounded up) into `out`; returns how many.
  size_t take(TaskBase** out, size_t max, bool half) {
    // Acquire (and on CAS failure): pairs with push's CAS, so the slots read are written.
    uint64_t w = word_.load(std::memory_order_acquire);
    for (;;) {
      uint32_t len = length(w);
      if (len == 0) return 0;
      uint32_t n = half ? len - len / 2 : len;
      n = static_cast<uint32_t>(std::min<size_t>(n, max));
      uint32_t h = head(w);
      for (uint32_t i = 0; i < n; ++i) {
        out[i] = slots_[(h + i) & kMask].load(std::memory_order_relaxed);
      }
      uint64_t next = pack(h + n, len - n, generation(w));
      if (word_.compare_exchange_weak(w, next, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return n;
      }
    }
  }

  // Any thread; a snapshot. seq_cst: the parking loop's half of the handshake.
  size_t size() const { return length(word_.load(std::memory_order_seq_cst)); }
  bool empty() const { return size() == 0; }

 private:
  // pop_back and pop_back_if: the newest task, if any (kAny) or if it is `expected`.
  template <bool kAny>
  TaskBase* owner_pop_back(TaskBase* expected) {
    uint64_t w = word_.load(std::memory_order_relaxed);
    for (;;) {
      uint32_t len = length(w);
      if (len == 0) return nullptr;
      // Written by this thread (push), so a relaxed read sees it.
      TaskBase* task = slots_[(head(w) + len - 1) & kMask].load(std::memory_order_relaxed);
      if (!kAny && task != expected) return nullptr;
      uint64_t next = pack(head(w), len - 1, generation(w) + 1);
      if (word_.compare_exchange_weak(w, next, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        return task;
      }
    }
  }

  static constexpr uint32_t kMask = kCapacity - 1;
  static_assert((kCapacity & kMask) == 0, "capacity must be a power of two");
  // Layout of the word, low bits first: head (32), length (9: 0..256), generation (23).
  static constexpr int kLengthShift = 32;
  static constexpr int kGenerationShift = 41;
  static constexpr uint32_t kLengthMask = (1u << (kGenerationShift - kLengthShift)) - 1;
  static constexpr uint64_t kLengthOne = uint64_t{1} << kLengthShift;
  static_assert(kCapacity <= kLengthMask, "length field too small");

  static uint32_t head(uint64_t w) { return static_cast<uint32_t>(w); }
  static uint32_t length(uint64_t w) {
    return static_cast<uint32_t>(w >> kLengthShift) & kLengthMask;
  }
  static uint64_t generation(uint64_t w) { return w >> kGenerationShift; }
  static uint64_t pack(uint32_t head, uint32_t len, uint64_t gen) {
    return uint64_t{head} | (uint64_t{len} << kLengthShift) | (gen << kGenerationShift);
  }

  alignas(64) std::atomic<uint64_t> word_{0};
  alignas(64) std::array<std::atomic<TaskBase*>, kCapacity> slots_{};
};

}  // namespace weft::internal

#endif  // WEFT_SCHEDULER_STEALABLE_QUEUE_H_
