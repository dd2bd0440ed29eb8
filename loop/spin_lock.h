// SpinLock: a one-byte test-and-test-and-set lock for critical sections of a few
// instructions (a future's completion, a waiter registration) that are contended only when
// two loops touch the same object at the same moment.
//
// Written here rather than using absl::base_internal::SpinLock or absl::Mutex because
// Debian's Abseil is not built for TSan, which then could not see the lock; std::mutex is
// correct too but costs a full cache line and a syscall path we never need.
#ifndef WEFT_LOOP_SPIN_LOCK_H_
#define WEFT_LOOP_SPIN_LOCK_H_

#include <atomic>

namespace weft::internal {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class SpinLock {
 public:
  void lock() {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      while (locked_.load(std::memory_order_relaxed)) cpu_relax();
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

// Locks only when `enabled` (objects that are never shared skip the atomics).
class MaybeSpinGuard {
 public:
  MaybeSpinGuard(SpinLock& lock, bool enabled) : lock_(enabled ? &lock : nullptr) {
    if (lock_) lock_->lock();
  }
  ~MaybeSpinGuard() {
    if (lock_) lock_->unlock();
  }
  MaybeSpinGuard(const MaybeSpinGuard&) = delete;
  MaybeSpinGuard& operator=(const MaybeSpinGuard&) = delete;

 private:
  SpinLock* lock_;
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_SPIN_LOCK_H_
