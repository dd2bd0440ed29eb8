// weft::Barrier: tasks wait until `parties` of them have arrived (asyncio.Barrier),
// shareable between tasks on different loops.
//
//   weft::Barrier barrier(3);
//   // in each of three tasks, on any loops:
//   size_t index = co_await barrier.wait();   // 0, 1, 2 in arrival order; the same barrier
//                                             // can be used again for the next round
//
// The last arrival releases the round: every waiter returns its arrival index, and tasks
// arriving for the next round wait until the whole round has left ("draining").
// reset() returns the barrier to its empty state: tasks waiting in it raise
// BrokenBarrierError. abort() breaks it: current and future wait()s raise BrokenBarrierError
// until reset(). parties(), n_waiting() and broken() are snapshots.
//
// Built on a Condition, with asyncio's algorithm, so its cancellation behaviour is asyncio's:
// a task cancelled while it waits for its round leaves it (n_waiting() drops) and raises
// CancelledError. Waiters may run on any loop.
//
// Barrier(0) raises ValueError. Must outlive every task waiting on it. Thread-safety: every
// method, any thread (the coroutines from a task).
#ifndef WEFT_SYNC_BARRIER_H_
#define WEFT_SYNC_BARRIER_H_

#include <atomic>
#include <cstddef>

#include "loop/coro.h"
#include "sync/condition.h"
#include "sync/errors.h"

namespace weft {

class Barrier {
 public:
  explicit Barrier(size_t parties);
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  // Waits for the round to fill; returns this task's arrival index (0 .. parties-1).
  // BrokenBarrierError if the barrier is broken, or reset/aborted while waiting.
  Coro<size_t> wait();
  // Back to empty; waiting tasks raise BrokenBarrierError.
  Coro<void> reset();
  // Breaks the barrier: waiting and future wait()s raise BrokenBarrierError until reset().
  Coro<void> abort();

  size_t parties() const noexcept { return parties_; }
  // The tasks waiting for the current round to fill (0 while draining or broken).
  size_t n_waiting() const noexcept;
  bool broken() const noexcept { return state_.load(std::memory_order_relaxed) == kBroken; }

 private:
  enum State { kFilling, kDraining, kResetting, kBroken };

  Coro<void> block();
  Coro<void> wait_for_release();
  void exit();
  State state() const { return state_.load(std::memory_order_relaxed); }
  void set_state(State s) { state_.store(s, std::memory_order_relaxed); }

  Condition cond_;
  const size_t parties_;
  // Written with cond_'s lock held; atomic so that the snapshots may read them without it.
  std::atomic<State> state_{kFilling};
  std::atomic<size_t> count_{0};
};

}  // namespace weft

#endif  // WEFT_SYNC_BARRIER_H_
