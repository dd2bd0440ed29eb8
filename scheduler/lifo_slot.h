// LifoSlot: the one task a loop runs next (the last one it spawned), which the owner takes
// without a locked instruction and a sibling can still take from it when the owner's thread
// is stuck (Runtime's "LIFO rescue").
//
//   LifoSlot slot;
//   if (TaskBase* displaced = slot.push(task)) queue.push(displaced);   // owner, announced
//   if (!slot.put_if_empty(task)) ...                                   // owner, plain
//   if (TaskBase* next = slot.take()) run(next);                        // owner
//   slot.owner_parking();                                               // owner, idle
//   if (slot.peek().owner_awake) watch();                               // a parking sibling
//   if (TaskBase* stranded = slot.rescue()) run(stranded);              // a sibling, rarely
//
// Thread-safety: push, put_if_empty, take, take_if and owner_parking on the owner's thread
// only; occupied, peek and rescue on any thread. Each task put in is taken exactly once, by
// take, take_if or rescue. The slot owns nothing: its tasks are the caller's (the Runtime's
// queues hold the loop's reference).
//
// The slot is one word: the task's address and, in its low bit, the owner's awake mark, set
// by every put and kept by takes and rescues, cleared by owner_parking. The Runtime's
// parking protocol (scheduler/runtime.cc) lets the owner put with a plain store while no
// sibling can be parked without bound unless it has seen the mark.
//
// Why not an exchange on both sides. The owner takes from the slot once per spawned task
// (chained_spawn, fork-join), and an exchange is a locked instruction: W4 chained_spawn on 2
// loops was 47 ns per hop with it and 40-41 ns with the owner's take as a plain load and
// store (an unsafe build, only to measure). A sibling takes from the slot only to rescue a
// task whose owner has been in the same step for a millisecond, so the cost can move there:
// an asymmetric Dekker handshake, as in hazard-pointer schemes.
//
// The handshake:
// - The owner's take: `owner_taking_` = 1, then (only a compiler barrier between) it loads
//   `rescuers_`. Zero: it loads the slot and empties it (keeping the mark) with plain
//   accesses, then `owner_taking_` = 0 (release). Not zero: it takes with a
//   compare-exchange, an atomic read-modify-write like a rescuer's.
// - A rescue: `rescuers_` += 1, then an asymmetric fence (membarrier(2),
//   MEMBARRIER_CMD_PRIVATE_EXPEDITED: every running thread of the process executes a full
//   barrier before it returns), then it waits while `owner_taking_` is 1, then takes with a
//   fetch_and, and `rescuers_` -= 1.
// - The fence puts a full barrier at some point P of the owner's thread. If the owner's store
//   of `owner_taking_` comes after P, so does its load of `rescuers_`, which therefore sees
//   the rescuer's increment (made before the fence): the owner uses its read-modify-write.
//   If it comes before P, the rescuer's load after the fence sees it (or the 0 that ends that
//   take, after its store of the emptied word): the rescuer waits for the plain take to
//   finish. Either way a plain take never overlaps a rescuer's read-modify-write, and two
//   read-modify-writes cannot both get the task.
// - push is a seq_cst exchange (the Runtime's parking handshake orders it before the load of
//   the siblings' park states); put_if_empty a plain store, for the puts the Runtime need
//   not announce. Only the owner puts tasks in, so a plain put into a slot seen empty, or a
//   plain take that reads nullptr, races with nothing. A rescue is a fetch_and that keeps
//   the mark.
// A fence costs ~0.1 us with no other thread of the process running and ~14 us with one (an
// inter-processor interrupt; measured on this VM), against a 1 ms watch before each rescue.
// Without membarrier (kernels before 4.14, or where it is filtered), every take is a
// read-modify-write (`asymmetric_` false).
#ifndef WEFT_SCHEDULER_LIFO_SLOT_H_
#define WEFT_SCHEDULER_LIFO_SLOT_H_

#include <atomic>
#include <cstdint>
#include <thread>

#include "loop/task_base.h"

namespace weft::internal {

// Whether this process can use the asymmetric fence (membarrier, registered on first call).
// Any thread.
bool asymmetric_fence_available();
// The rescuer's side of the handshake: a full barrier on every running thread of the
// process. Returns false if the kernel refused (the caller must not rely on it). Any thread.
bool asymmetric_fence();

// What the owner's plain take does between reading the slot and emptying it: nothing, except
// in tests, which widen that window so that a rescue lands in it.
struct NoPauseInTake {
  static void pause() {}
};

template <typename PauseInTake = NoPauseInTake>
class BasicLifoSlot {
 public:
  BasicLifoSlot() : BasicLifoSlot(asymmetric_fence_available()) {}
  // `asymmetric` false: every take is a read-modify-write (the fallback; tests run both).
  explicit BasicLifoSlot(bool asymmetric) : asymmetric_(asymmetric) {}
  BasicLifoSlot(const BasicLifoSlot&) = delete;
  BasicLifoSlot& operator=(const BasicLifoSlot&) = delete;

  // What a sibling sees of the slot (peek).
  struct View {
    bool occupied;     // a task is in the slot
    bool owner_awake;  // the owner has put a task here since it last parked (owner_parking)
  };

  // Owner. Puts `task` in the slot, and marks the owner awake; returns the task it displaced,
  // or nullptr. seq_cst: the Runtime's parking handshake orders it before the owner's load
  // of the siblings' park states.
  TaskBase* push(TaskBase* task) {
    return task_of(slot_.exchange(word_of(task) | kOwnerAwake, std::memory_order_seq_cst));
  }

  // Owner. Puts `task` in the slot with a plain store if the slot is empty (nothing to
  // displace: only the owner puts tasks in); false, and nothing done, if it is not.
  bool put_if_empty(TaskBase* task) {
    if (task_of(slot_.load(std::memory_order_relaxed)) != nullptr) return false;
    slot_.store(word_of(task) | kOwnerAwake, std::memory_order_release);
    return true;
  }

  // Owner, as its loop parks with the slot empty: clears the awake mark, so that siblings
  // stop watching the slot. A hint only (relaxed): a sibling that still sees the mark watches
  // for nothing.
  void owner_parking() {
    if (slot_.load(std::memory_order_relaxed) == kOwnerAwake) {
      slot_.store(0, std::memory_order_relaxed);
    }
  }

  // Owner. Takes the slot's task; nullptr if empty.
  [[gnu::always_inline]] TaskBase* take() { return owner_take<true>(nullptr); }

  // Owner. Takes the slot's task if it is `expected`; nullptr, and nothing taken, otherwise.
  [[gnu::always_inline]] TaskBase* take_if(TaskBase* expected) {
    return owner_take<false>(expected);
  }

  // Any thread. seq_cst: the parking loop's load of the slot in the Runtime's handshake.
  bool occupied() const { return task_of(slot_.load(std::memory_order_seq_cst)) != nullptr; }
  View peek() const {
    uintptr_t word = slot_.load(std::memory_order_seq_cst);
    return View{task_of(word) != nullptr, (word & kOwnerAwake) != 0};
  }

  // Any thread but the owner's: takes the slot's task, or nullptr. Slow (an asymmetric fence,
  // see above): for the rescue of a task whose owner is stuck, not for stealing.
  TaskBase* rescue() {
    if (!asymmetric_) return task_of(slot_.fetch_and(kOwnerAwake, std::memory_order_seq_cst));
    rescuers_.fetch_add(1, std::memory_order_seq_cst);
    TaskBase* task = nullptr;
    if (asymmetric_fence()) {
      wait_for_owner_take();
      task = task_of(slot_.fetch_and(kOwnerAwake, std::memory_order_seq_cst));
    }
    // A failed fence leaves the task to its owner: it runs it when its step ends.
    rescuers_.fetch_sub(1, std::memory_order_release);
    return task;
  }

 private:
  // The slot's word: the task's address, or 0, with the awake mark in the low bit (tasks are
  // at least 8-byte aligned). One word, so that a parking sibling reads both at once and the
  // owner's put writes both at once.
  static constexpr uintptr_t kOwnerAwake = 1;
  static uintptr_t word_of(TaskBase* task) { return reinterpret_cast<uintptr_t>(task); }
  static TaskBase* task_of(uintptr_t word) {
    return reinterpret_cast<TaskBase*>(word & ~kOwnerAwake);
  }

  // Inline: once per spawned task on the hot paths (out of line it was 23 instructions a
  // call, about as many as it saves).
  template <bool kAny>
  [[gnu::always_inline]] TaskBase* owner_take(TaskBase* expected) {
    // Only this thread puts tasks in, and a rescue only takes them out: a slot seen empty,
    // or holding another task than `expected`, cannot hold `expected` now.
    TaskBase* seen = task_of(slot_.load(std::memory_order_relaxed));
    if (seen == nullptr || (!kAny && seen != expected)) return nullptr;
    if (!asymmetric_) [[unlikely]] return locked_take(seen);
    owner_taking_.store(1, std::memory_order_relaxed);
    // The rescuer's fence stands in for a hardware barrier here (see the handshake).
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (rescuers_.load(std::memory_order_acquire) != 0) [[unlikely]] {
      owner_taking_.store(0, std::memory_order_relaxed);
      return locked_take(seen);
    }
    // Reloaded: a rescue may have emptied the slot before this take began.
    uintptr_t word = slot_.load(std::memory_order_relaxed);
    PauseInTake::pause();
    if (task_of(word) != nullptr) slot_.store(word & kOwnerAwake, std::memory_order_relaxed);
    owner_taking_.store(0, std::memory_order_release);
    return task_of(word);
  }

  // Takes `seen` (the task the owner saw in the slot) if a rescue has not taken it.
  TaskBase* locked_take(TaskBase* seen) {
    uintptr_t word = slot_.load(std::memory_order_relaxed);
    while (task_of(word) == seen) {
      if (slot_.compare_exchange_weak(word, word & kOwnerAwake, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        return seen;
      }
    }
    return nullptr;
  }

  // The owner's plain take lasts a few instructions, unless its thread is preempted in it.
  void wait_for_owner_take() const {
    for (int spins = 0; owner_taking_.load(std::memory_order_acquire) != 0; ++spins) {
      if (spins >= 64) std::this_thread::yield();
    }
  }

  // One line: the owner writes the slot and `owner_taking_` on every spawn; rescuers write
  // `rescuers_` (rarely), which the owner reads on every take.
  alignas(64) std::atomic<uintptr_t> slot_{0};
  std::atomic<uint32_t> owner_taking_{0};
  std::atomic<uint32_t> rescuers_{0};
  const bool asymmetric_;
};

using LifoSlot = BasicLifoSlot<>;

}  // namespace weft::internal

#endif  // WEFT_SCHEDULER_LIFO_SLOT_H_
