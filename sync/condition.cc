#include "sync/condition.h"

#include <cassert>
#include <exception>
#include <limits>

#include "loop/errors.h"

namespace weft {

using internal::TaskBase;
using internal::WaitGuard;
using internal::Waiter;
using internal::Wakeups;

// Waits in the Condition's queue. The waiter is queued BEFORE the lock is released, so a
// notify() made by whoever takes the lock next (from any thread) cannot be missed.
class Condition::NotifyAwaiter : public Waiter {
 public:
  NotifyAwaiter(Condition& cond, bool& passed_on) noexcept : cond_(&cond), passed_on_(&passed_on) {}
  ~NotifyAwaiter() {
    if (withdraw()) {
      // Notified, then cancelled before resuming: the notification goes to the next waiter.
      *passed_on_ = true;
      cond_->wake(1);
    }
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(TaskBase& task) {
    {
      WaitGuard guard(cond_->wait_lock_);
      enqueue(cond_->waiters_, task);
    }
    try {
      cond_->lock_->release();
    } catch (...) {
      // The lock was released behind our back since wait() checked it (misuse).
      if (!withdraw()) {
        // Still queued, now unlinked: nothing is in flight, raise at once.
        task.set_waiting_on(nullptr);
        throw;
      }
      // Notified meanwhile: its wake is in flight, so suspend, pass the notification on and
      // raise at the resumption.
      error_ = std::current_exception();
      *passed_on_ = true;
      cond_->wake(1);
    }
    return true;
  }
  void await_resume() {
    if (error_) std::rethrow_exception(error_);
    claim();
  }

 private:
  Condition* cond_;
  bool* passed_on_;
  std::exception_ptr error_;
};

Condition::~Condition() {
  assert(waiters_.empty() && "weft::Condition destroyed while tasks wait on it");
}

Coro<void> Condition::wait() {
  if (!locked()) {
    throw RuntimeError(
        "Condition.wait(): the lock is not acquired; acquire it first (`auto guard = co_await "
        "cond.scoped();`)");
  }
  std::exception_ptr error;
  bool notified = false;
  bool passed_on = false;
  try {
    co_await NotifyAwaiter(*this, passed_on);
    notified = true;
  } catch (...) {
    error = std::current_exception();
  }
  // Re-acquire even if the wait was cancelled; a cancellation meanwhile is kept for later.
  for (;;) {
    try {
      co_await lock_->acquire();
      break;
    } catch (const CancelledError&) {
      error = std::current_exception();
    }
  }
  if (error) {
    // A notification this task took but cannot act on goes to the next waiter.
    if (notified && !passed_on) wake(1);
    std::rethrow_exception(error);
  }
}

void Condition::notify(size_t n) {
  if (!locked()) {
    throw RuntimeError(
        "Condition.notify(): the lock is not acquired; notify while holding it (`auto guard = "
        "co_await cond.scoped();`)");
  }
  wake(n);
}

void Condition::notify_all() {
  if (!locked()) {
    throw RuntimeError(
        "Condition.notify_all(): the lock is not acquired; notify while holding it (`auto "
        "guard = co_await cond.scoped();`)");
  }
  wake(std::numeric_limits<size_t>::max());
}

void Condition::wake(size_t n) {
  Wakeups wakeups;  // wakes after wait_lock_ is released
  WaitGuard guard(wait_lock_);
  for (; n > 0; --n) {
    Waiter* w = waiters_.grant_front();
    if (w == nullptr) break;
    wakeups.add(*w);
  }
}

}  // namespace weft
