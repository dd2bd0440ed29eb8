// weft::Condition: a condition variable for tasks (asyncio.Condition), shareable between
// tasks on different loops.
//
//   weft::Condition cond;                       // owns its Lock (or: Condition cond(lock);)
//   // consumer:                                // producer:
//   {                                           // {
//     auto guard = co_await cond.scoped();      //   auto guard = co_await cond.scoped();
//     co_await cond.wait_for([&] { return !items.empty(); });
//     take(items);                              //   items.push_back(x);
//   }                                           //   cond.notify();
//                                               // }
//
// wait() releases the lock, waits for a notify(), then acquires the lock again before it
// returns, also when it is cancelled or fails (asyncio: "must re-acquire lock even if wait is
// cancelled"); the error is raised once the lock is held again. wait_for(predicate) waits
// until predicate() is truthy and returns its value. notify(n) wakes up to n waiters,
// notify_all() every one, oldest first; both require the lock to be held.
//
// Misuse: wait() and notify() without holding the lock raise RuntimeError, as asyncio's.
// Like asyncio's Lock, the lock has no owner: "held" means locked, by anyone.
//
// Cancellation: a waiter cancelled while it waits leaves the queue (no notification is
// consumed). A waiter notified and cancelled before it could resume passes the notification
// on to the next waiter, and so does a notified waiter whose re-acquisition of the lock is
// cancelled: a notification is never lost to a cancelled task.
//
// Waiters may run on any loop; notify() from another thread wakes them through the
// thread-safe path. Must outlive every task waiting on it. Thread-safety: every method, any
// thread (acquire/wait from a task).
#ifndef WEFT_SYNC_CONDITION_H_
#define WEFT_SYNC_CONDITION_H_

#include <cstddef>
#include <type_traits>
#include <utility>

#include "loop/coro.h"
#include "loop/task_base.h"
#include "sync/internal/waiter_list.h"
#include "sync/lock.h"

namespace weft {

class Condition {
 public:
  // With a Lock of its own.
  Condition() : lock_(&own_lock_) {}
  // Sharing `lock`, which must outlive the Condition.
  explicit Condition(Lock& lock) : lock_(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;
  ~Condition();

  // The lock's operations (see lock.h).
  [[nodiscard]] Lock::AcquireAwaiter acquire() noexcept { return lock_->acquire(); }
  [[nodiscard]] Lock::ScopedAwaiter scoped() noexcept { return lock_->scoped(); }
  bool try_acquire() noexcept { return lock_->try_acquire(); }
  void release() { lock_->release(); }
  bool locked() const noexcept { return lock_->locked(); }
  Lock& lock() const noexcept { return *lock_; }

  // Releases the lock, waits to be notified, re-acquires the lock. RuntimeError if the lock
  // is not held.
  Coro<void> wait();

  // Waits until predicate() is truthy (checked first, then after every wake-up, with the lock
  // held) and returns its value. RuntimeError if the lock is not held.
  template <class Predicate>
  Coro<std::decay_t<std::invoke_result_t<Predicate&>>> wait_for(Predicate predicate) {
    auto result = predicate();
    while (!result) {
      co_await wait();
      result = predicate();
    }
    co_return result;
  }

  // Wakes up to n waiting tasks (oldest first). RuntimeError if the lock is not held.
  void notify(size_t n = 1);
  // Wakes every waiting task. RuntimeError if the lock is not held.
  void notify_all();

 private:
  class NotifyAwaiter;
  friend class NotifyAwaiter;
  // Wakes up to n waiters; no check of the lock.
  void wake(size_t n);

  Lock own_lock_;
  Lock* lock_;
  internal::WaitLock wait_lock_;
  internal::WaiterList waiters_{wait_lock_};
};

}  // namespace weft

#endif  // WEFT_SYNC_CONDITION_H_
