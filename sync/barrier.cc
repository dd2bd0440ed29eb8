#include "sync/barrier.h"

#include <string>

namespace weft {

Barrier::Barrier(size_t parties) : parties_(parties) {
  if (parties == 0) {
    throw ValueError("Barrier(0): a barrier needs at least one party");
  }
}

size_t Barrier::n_waiting() const noexcept {
  return state() == kFilling ? count_.load(std::memory_order_relaxed) : 0;
}

Coro<size_t> Barrier::wait() {
  LockGuard guard = co_await cond_.scoped();
  co_await block();  // while the previous round drains or a reset is in progress
  const size_t index = count_.load(std::memory_order_relaxed);
  count_.store(index + 1, std::memory_order_relaxed);
  // asyncio's `finally`: leave the round, however we leave it (the lock is held: a
  // cancelled Condition wait re-acquires it before raising).
  struct Leave {
    Barrier* barrier;
    ~Leave() {
      barrier->count_.store(barrier->count_.load(std::memory_order_relaxed) - 1,
                            std::memory_order_relaxed);
      barrier->exit();
    }
  } leave{this};
  if (index + 1 == parties_) {
    // The last arrival releases the round.
    set_state(kDraining);
    cond_.notify_all();
  } else {
    co_await wait_for_release();
  }
  co_return index;
}

Coro<void> Barrier::block() {
  co_await cond_.wait_for([this] { return state() != kDraining && state() != kResetting; });
  if (state() == kBroken) throw BrokenBarrierError("Barrier aborted");
}

Coro<void> Barrier::wait_for_release() {
  co_await cond_.wait_for([this] { return state() != kFilling; });
  if (state() == kBroken || state() == kResetting) {
    throw BrokenBarrierError("Abort or reset of barrier");
  }
}

void Barrier::exit() {
  // The last task out of a draining or resetting round opens the barrier for the next one.
  if (count_.load(std::memory_order_relaxed) == 0) {
    if (state() == kResetting || state() == kDraining) set_state(kFilling);
    cond_.notify_all();
  }
}

Coro<void> Barrier::reset() {
  LockGuard guard = co_await cond_.scoped();
  if (count_.load(std::memory_order_relaxed) > 0) {
    set_state(kResetting);
  } else {
    set_state(kFilling);
  }
  cond_.notify_all();
}

Coro<void> Barrier::abort() {
  LockGuard guard = co_await cond_.scoped();
  set_state(kBroken);
  cond_.notify_all();
}

}  // namespace weft
