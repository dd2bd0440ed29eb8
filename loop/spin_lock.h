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
#include <cstdint>

namespace weft::internal {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class SpinLock {
 public:
  void lock() {
    while (word_.exchange(1, std::memory_order_acquire) != 0) {
      while (word_.load(std::memory_order_relaxed) != 0) cpu_relax();
    }
  }
  void unlock() { word_.store(0, std::memory_order_release); }

 protected:
  // 0 unlocked, 1 locked. Protected for an owner that never takes the lock in some states
  // and has another use for the byte then (FutureBase's awaiter pins).
  std::atomic<uint8_t> word_{0};
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
