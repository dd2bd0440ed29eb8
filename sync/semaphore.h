// weft::Semaphore and weft::BoundedSemaphore: a counter of permits for tasks
// (asyncio.Semaphore, asyncio.BoundedSemaphore), shareable between tasks on different loops.
//
//   weft::Semaphore sem(4);                      // at most four at a time
//   {
//     weft::SemaphoreGuard permit = co_await sem.scoped();   // async with sem:
//     co_await fetch(url);
//   }                                            // the permit returns here, whatever happened
//   co_await sem.acquire(); ...; sem.release();  // or by hand
//   if (sem.try_acquire()) { ...; sem.release(); }  // never suspends (plain callbacks too)
//
// acquire() takes a permit, waiting while there is none; release() returns one. Fairness:
// FIFO. A release while tasks wait hands its permit directly to the oldest waiter (value()
// stays 0), so a newcomer never overtakes a waiter. Waiters may run on any loop; a release
// wakes a waiter of another loop through the thread-safe path.
//
// Cancellation: a cancelled waiter leaves the queue and raises CancelledError. If a permit
// was handed to it at that very moment, it still raises and the permit goes to the next
// waiter or back to the counter: a permit is never lost.
//
// Cost: uncontended, acquire and release are one compare-and-swap each; the waiter list
// (under a small spin lock) is touched only when a task has to wait.
//
// BoundedSemaphore: release() beyond the initial value raises ValueError (a release without
// a matching acquire), as asyncio's does.
//
// A negative initial value raises ValueError. The semaphore must outlive every task waiting
// on it. Thread-safety: every method, any thread (acquire from a task).
#ifndef WEFT_SYNC_SEMAPHORE_H_
#define WEFT_SYNC_SEMAPHORE_H_

#include <atomic>
#include <cassert>
#include <cstdint>
#include <optional>

#include "loop/task_base.h"
#include "sync/internal/waiter_list.h"
#include "sync/release_guard.h"

namespace weft {

class Semaphore;
using SemaphoreGuard = ReleaseGuard<Semaphore>;

class Semaphore {
 public:
  static constexpr const char* kName = "Semaphore";

  explicit Semaphore(int64_t value = 1);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  ~Semaphore();

  // `co_await sem.acquire()`: the permit is held once the co_await returns. Its Waiter is
  // made only if it has to wait.
  class AcquireAwaiter {
   public:
    explicit AcquireAwaiter(Semaphore& sem) noexcept : sem_(&sem) {}
    // Only before it is awaited (e.g. into a wait_for).
    AcquireAwaiter(AcquireAwaiter&& other) noexcept : sem_(other.sem_) {
      assert(!other.waiter_ && "an awaiter is moved only before it is awaited");
    }
    ~AcquireAwaiter() {
      if (waiter_ && waiter_->withdraw()) sem_->release();  // granted, then cancelled
    }
    bool await_ready() noexcept { return sem_->try_acquire(); }
    bool await_suspend(internal::TaskBase& task) {
      return sem_->acquire_or_wait(waiter_.emplace(), task);
    }
    void await_resume() {
      if (waiter_) waiter_->claim();
    }
    Semaphore& primitive() const noexcept { return *sem_; }

   private:
    struct SemaphoreWaiter final : internal::Waiter {};
    Semaphore* sem_;
    std::optional<SemaphoreWaiter> waiter_;
  };
  using ScopedAwaiter = internal::ScopedAcquire<AcquireAwaiter, Semaphore>;

  [[nodiscard]] AcquireAwaiter acquire() noexcept { return AcquireAwaiter(*this); }
  // Acquires a permit and gives a SemaphoreGuard that returns it at the end of its scope.
  [[nodiscard]] ScopedAwaiter scoped() noexcept { return ScopedAwaiter(*this); }

  // Takes a permit if one is free. Never suspends.
  bool try_acquire() noexcept {
    int64_t v = state_.load(std::memory_order_relaxed);
    while (v > 0) {
      if (state_.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }
  // Returns a permit: to the oldest waiter if there is one, else to the counter.
  // BoundedSemaphore: ValueError beyond the initial value.
  void release() {
    int64_t v = state_.load(std::memory_order_relaxed);
    while (v >= 0 && (bound_ < 0 || v < bound_)) {
      if (state_.compare_exchange_weak(v, v + 1, std::memory_order_release,
                                       std::memory_order_relaxed)) {
        return;
      }
    }
    release_slow();
  }

  // Whether acquire() would have to wait (asyncio's locked()). A snapshot.
  bool locked() const noexcept { return value() == 0; }
  // The free permits. A snapshot.
  int64_t value() const noexcept {
    int64_t v = state_.load(std::memory_order_relaxed);
    return v > 0 ? v : 0;
  }

 protected:
  // bound >= 0: a BoundedSemaphore whose value never exceeds `bound`.
  Semaphore(int64_t value, int64_t bound, const char* kind);

 private:
  bool acquire_or_wait(internal::Waiter& w, internal::TaskBase& task);
  void release_slow();

  // >= 0: that many free permits, and nobody waits. kContended: no free permit, and the
  // waiter list may be non-empty; it changes back only under wait_lock_ (release_slow), so
  // a release always sees a queued waiter and hands it the permit (FIFO, no overtaking).
  static constexpr int64_t kContended = -1;
  std::atomic<int64_t> state_;
  const int64_t bound_;  // -1: unbounded
  internal::WaitLock wait_lock_;
  internal::WaiterList waiters_{wait_lock_};
};

class BoundedSemaphore : public Semaphore {
 public:
  static constexpr const char* kName = "BoundedSemaphore";
  explicit BoundedSemaphore(int64_t value = 1);
};

}  // namespace weft

#endif  // WEFT_SYNC_SEMAPHORE_H_
