#include "sync/semaphore.h"

#include <cassert>
#include <string>

#include "absl/strings/str_format.h"
#include "sync/errors.h"

namespace weft {

using internal::WaitGuard;
using internal::Waiter;
using internal::Wakeups;

namespace {
int64_t checked_value(int64_t value, const char* kind) {
  if (value < 0) {
    throw ValueError(absl::StrFormat(
        "%s(%d): the initial value must be >= 0 (the number of tasks that may hold it at once)",
        kind, value));
  }
  return value;
}
}  // namespace

Semaphore::Semaphore(int64_t value) : Semaphore(value, -1, kName) {}

Semaphore::Semaphore(int64_t value, int64_t bound, const char* kind)
    : state_(checked_value(value, kind)), bound_(bound) {}

BoundedSemaphore::BoundedSemaphore(int64_t value) : Semaphore(value, value, kName) {}

Semaphore::~Semaphore() {
  assert(waiters_.empty() && "weft::Semaphore destroyed while tasks wait on it");
}

bool Semaphore::acquire_or_wait(Waiter& w, internal::TaskBase& task) {
  WaitGuard guard(wait_lock_);
  int64_t v = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (v > 0) {
      // A permit came back since await_ready: take it, do not suspend.
      if (state_.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return false;
      }
    } else if (v == 0) {
      // Make the next release take the slow path and hand its permit over.
      if (state_.compare_exchange_weak(v, kContended, std::memory_order_relaxed,
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

void Semaphore::release_slow() {
  Wakeups wakeups;  // wakes the waiter after wait_lock_ is released
  WaitGuard guard(wait_lock_);
  int64_t v = state_.load(std::memory_order_relaxed);
  if (v == kContended && bound_ != 0) {  // a BoundedSemaphore(0) never has a permit to give
    if (Waiter* next = waiters_.grant_front()) {
      // The permit passes straight to the oldest waiter.
      if (waiters_.empty()) state_.store(0, std::memory_order_relaxed);
      wakeups.add(*next);
      return;
    }
    // Every waiter was cancelled: the permit goes to the counter.
    state_.store(1, std::memory_order_release);
    return;
  }
  // Not contended: the fast path gave up because of the bound (or lost a race; retry).
  while (v >= 0 && (bound_ < 0 || v < bound_)) {
    if (state_.compare_exchange_weak(v, v + 1, std::memory_order_release,
                                     std::memory_order_relaxed)) {
      return;
    }
  }
  throw ValueError(absl::StrFormat(
      "BoundedSemaphore.release(): released too many times (the value would exceed its "
      "initial value %d); release only permits you acquired",
      bound_));
}

}  // namespace weft
