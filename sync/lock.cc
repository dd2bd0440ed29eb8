#include "sync/lock.h"

#include <cassert>

#include "loop/errors.h"

namespace weft {

using internal::WaitGuard;
using internal::Waiter;
using internal::Wakeups;

Lock::~Lock() {
  // Tasks still waiting would be left with dangling nodes.
  assert(waiters_.empty() && "weft::Lock destroyed while tasks wait on it");
}

bool Lock::acquire_or_wait(Waiter& w, internal::TaskBase& task) {
  WaitGuard guard(wait_lock_);
  uint32_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (s == kUnlocked) {
      // Released since await_ready. Unlocked implies nobody waits (handover keeps it locked).
      if (state_.compare_exchange_weak(s, kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return false;  // acquired: do not suspend
      }
    } else if (s == kLocked) {
      // Tell the holder's release to take the slow path and hand the lock over.
      if (state_.compare_exchange_weak(s, kContended, std::memory_order_relaxed,
                                       std::memory_order_relaxed)) {
        break;
      }
    } else {
      break;  // kContended: only changes under wait_lock_, which we hold
    }
  }
  w.enqueue(waiters_, task);
  return true;
}

void Lock::release_slow() {
  Wakeups wakeups;  // wakes the new holder after wait_lock_ is released
  WaitGuard guard(wait_lock_);
  uint32_t s = state_.load(std::memory_order_relaxed);
  // Under wait_lock_, kContended cannot change; kLocked only by a concurrent fast release
  // (a release racing with ours: the lock has no owner to say which one is wrong).
  while (s == kLocked) {
    if (state_.compare_exchange_weak(s, kUnlocked, std::memory_order_release,
                                     std::memory_order_relaxed)) {
      return;
    }
  }
  if (s == kUnlocked) {
    throw RuntimeError(
        "Lock.release(): the lock is not acquired; release only after acquire() (or use "
        "`co_await lock.scoped()`, which releases exactly once)");
  }
  Waiter* next = waiters_.grant_front();
  if (next == nullptr) {
    // Every waiter was cancelled: the lock is free again.
    state_.store(kUnlocked, std::memory_order_release);
    return;
  }
  // The lock stays locked: it now belongs to `next`.
  if (waiters_.empty()) state_.store(kLocked, std::memory_order_relaxed);
  wakeups.add(*next);
}

}  // namespace weft
