// weft::Lock: a mutual-exclusion lock for tasks (asyncio.Lock), shareable between tasks on
// different loops of a Runtime.
//
//   weft::Lock lock;
//   {
//     weft::LockGuard guard = co_await lock.scoped();  // async with lock:
//     ++shared_counter;                                //   released on every exit path
//   }
//   co_await lock.acquire();                           // or by hand
//   ...
//   lock.release();
//   if (lock.try_acquire()) { ...; lock.release(); }   // never suspends (plain callbacks too)
//
// Fairness: FIFO. A release while tasks wait hands the lock directly to the oldest waiter
// (the lock never looks free meanwhile, so a newcomer cannot barge in). Waiters may run on
// any loop; a release wakes a waiter of another loop through the thread-safe path.
//
// Cost: uncontended, acquire and release are one compare-and-swap each on the state word;
// the waiter list (under a small spin lock) is touched only when a task has to wait.
//
// Cancellation: cancelling a waiting task removes it from the queue and raises
// CancelledError at its co_await. If the lock was handed to it at that very moment (the
// release ran before the cancellation), the task still raises CancelledError and the lock
// passes on to the next waiter (or becomes free): a grant is never lost.
//
// Like asyncio's, the lock has no owner: any task or thread may release it. release() of a
// lock that is not locked raises RuntimeError. The Lock must outlive every task waiting on
// it. Thread-safety: every method, any thread (acquire from a task).
#ifndef WEFT_SYNC_LOCK_H_
#define WEFT_SYNC_LOCK_H_

#include <atomic>
#include <cassert>
#include <cstdint>
#include <optional>

#include "loop/task_base.h"
#include "sync/internal/waiter_list.h"
#include "sync/release_guard.h"

namespace weft {

class Lock;
using LockGuard = ReleaseGuard<Lock>;

class Lock {
 public:
  static constexpr const char* kName = "Lock";

  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  ~Lock();

  // `co_await lock.acquire()`: an awaiter; the lock is held once the co_await returns. Its
  // Waiter is made only if it has to wait, so the uncontended path stays two words.
  class AcquireAwaiter {
   public:
    explicit AcquireAwaiter(Lock& lock) noexcept : lock_(&lock) {}
    // Only before it is awaited (e.g. into a wait_for).
    AcquireAwaiter(AcquireAwaiter&& other) noexcept : lock_(other.lock_) {
      assert(!other.waiter_ && "an awaiter is moved only before it is awaited");
    }
    ~AcquireAwaiter() {
      if (waiter_ && waiter_->withdraw()) lock_->release();  // granted, then cancelled
    }
    bool await_ready() noexcept { return lock_->try_acquire(); }
    bool await_suspend(internal::TaskBase& task) {
      return lock_->acquire_or_wait(waiter_.emplace(), task);
    }
    void await_resume() {
      if (waiter_) waiter_->claim();
    }
    Lock& primitive() const noexcept { return *lock_; }

   private:
    struct LockWaiter final : internal::Waiter {};
    Lock* lock_;
    std::optional<LockWaiter> waiter_;
  };
  using ScopedAwaiter = internal::ScopedAcquire<AcquireAwaiter, Lock>;

  [[nodiscard]] AcquireAwaiter acquire() noexcept { return AcquireAwaiter(*this); }
  // Acquires and gives a LockGuard that releases at the end of its scope.
  [[nodiscard]] ScopedAwaiter scoped() noexcept { return ScopedAwaiter(*this); }

  // Takes the lock if it is free. Never suspends; false if it is held (or handed over).
  bool try_acquire() noexcept {
    uint32_t expected = kUnlocked;
    return state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  // Releases the lock; if tasks wait, the oldest now holds it and is woken. RuntimeError if
  // the lock is not locked.
  void release() {
    uint32_t expected = kLocked;
    if (state_.compare_exchange_strong(expected, kUnlocked, std::memory_order_release,
                                       std::memory_order_relaxed)) [[likely]] {
      return;
    }
    release_slow();
  }

  // Whether the lock is held (or being handed to a waiter). A snapshot when other threads
  // use the lock.
  bool locked() const noexcept { return state_.load(std::memory_order_relaxed) != kUnlocked; }

 private:
  // kContended: locked, and the waiter list may be non-empty; the unlocked state is
  // reachable from it only under wait_lock_ (release_slow), which keeps the handover FIFO.
  enum : uint32_t { kUnlocked = 0, kLocked = 1, kContended = 2 };

  bool acquire_or_wait(internal::Waiter& w, internal::TaskBase& task);
  void release_slow();

  std::atomic<uint32_t> state_{kUnlocked};
  internal::WaitLock wait_lock_;
  internal::WaiterList waiters_{wait_lock_};
};

}  // namespace weft

#endif  // WEFT_SYNC_LOCK_H_
