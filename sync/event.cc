#include "sync/event.h"

#include <cassert>

namespace weft {

using internal::WaitGuard;
using internal::Waiter;
using internal::Wakeups;

Event::~Event() { assert(waiters_.empty() && "weft::Event destroyed while tasks wait on it"); }

bool Event::wait_unless_set(Waiter& w, internal::TaskBase& task) {
  WaitGuard guard(wait_lock_);
  if (set_.load(std::memory_order_relaxed)) return false;  // set since await_ready
  w.enqueue(waiters_, task);
  return true;
}

void Event::set() {
  if (is_set()) return;
  Wakeups wakeups;  // wakes the waiters after wait_lock_ is released
  WaitGuard guard(wait_lock_);
  set_.store(true, std::memory_order_release);
  while (Waiter* w = waiters_.grant_front()) wakeups.add(*w);
}

void Event::clear() {
  WaitGuard guard(wait_lock_);
  set_.store(false, std::memory_order_relaxed);
}

}  // namespace weft
