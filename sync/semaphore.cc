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
    : value_(checked_value(value, kind)), bound_(bound) {}

BoundedSemaphore::BoundedSemaphore(int64_t value) : Semaphore(value, value, kName) {}

Semaphore::~Semaphore() {
  assert(waiters_.empty() && "weft::Semaphore destroyed while tasks wait on it");
}

bool Semaphore::try_acquire() noexcept {
  if (value_.load(std::memory_order_relaxed) == 0) return false;
  WaitGuard guard(wait_lock_);
  // A free permit implies nobody waits: a release with waiters hands its permit over.
  int64_t v = value_.load(std::memory_order_relaxed);
  if (v == 0) return false;
  value_.store(v - 1, std::memory_order_relaxed);
  return true;
}

bool Semaphore::acquire_or_wait(Waiter& w, internal::TaskBase& task) {
  WaitGuard guard(wait_lock_);
  int64_t v = value_.load(std::memory_order_relaxed);
  if (v > 0) {
    value_.store(v - 1, std::memory_order_relaxed);
    return false;  // a permit came back since await_ready: do not suspend
  }
  w.enqueue(waiters_, task);
  return true;
}

void Semaphore::release() {
  Wakeups wakeups;  // wakes the waiter after wait_lock_ is released
  WaitGuard guard(wait_lock_);
  if (Waiter* next = waiters_.grant_front()) {
    wakeups.add(*next);  // the permit passes straight to the oldest waiter
    return;
  }
  int64_t v = value_.load(std::memory_order_relaxed);
  if (bound_ >= 0 && v >= bound_) {
    throw ValueError(absl::StrFormat(
        "BoundedSemaphore.release(): released too many times (the value would exceed its "
        "initial value %d); release only permits you acquired",
        bound_));
  }
  value_.store(v + 1, std::memory_order_relaxed);
}

}  // namespace weft
