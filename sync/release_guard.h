// ReleaseGuard: holds an acquired Lock, Condition or Semaphore and releases it on every exit
// path: Python's `async with lock:`.
//
//   {
//     weft::LockGuard guard = co_await lock.scoped();      // async with lock:
//     co_await do_work();                                  //   ... may throw, be cancelled
//   }                                                      // released here, whatever happened
//
//   weft::SemaphoreGuard permit = co_await sem.scoped();   // one permit, returned at scope end
//   permit.release();                                      // or earlier, by hand
//
// The guard also serves weft::async_with (loop/async_with.h) as a resource with aclose():
//
//   co_await weft::async_with(lock.scoped(), [&](weft::LockGuard&) -> weft::Coro<void> {...});
//
// If the acquisition is cancelled, no guard exists and nothing is held (a grant that raced
// with the cancellation is handed back by the awaiter). Ownership: move-only; a moved-from
// guard holds nothing. Thread-safety: a guard is a value owned by one task; the release it
// does is the primitive's, safe from any thread. Misuse: release() of a guard that holds
// nothing raises RuntimeError; a primitive released behind the guard's back (lock.release()
// by hand, then the guard's destructor) is reported to the running loop's exception handler
// (a destructor cannot raise).
#ifndef WEFT_SYNC_RELEASE_GUARD_H_
#define WEFT_SYNC_RELEASE_GUARD_H_

#include <utility>

#include "loop/coro.h"
#include "loop/errors.h"

namespace weft {

namespace internal {
// Reports an error raised by a guard's destructor (the primitive was not held any more).
void report_guard_release_error(const char* primitive) noexcept;
[[noreturn]] void throw_guard_not_held(const char* primitive);
}  // namespace internal

template <class P>
class [[nodiscard]] ReleaseGuard {
 public:
  // Adopts an acquisition of `p` already made.
  explicit ReleaseGuard(P& p) noexcept : p_(&p) {}
  ReleaseGuard(ReleaseGuard&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
  ReleaseGuard& operator=(ReleaseGuard&& other) noexcept {
    if (this != &other) {
      reset();
      p_ = std::exchange(other.p_, nullptr);
    }
    return *this;
  }
  ReleaseGuard(const ReleaseGuard&) = delete;
  ReleaseGuard& operator=(const ReleaseGuard&) = delete;
  ~ReleaseGuard() { reset(); }

  // Whether the guard still holds the primitive.
  bool owns() const noexcept { return p_ != nullptr; }
  explicit operator bool() const noexcept { return owns(); }

  // Releases now. RuntimeError if the guard holds nothing (released already, or moved from).
  void release() {
    if (!p_) internal::throw_guard_not_held(P::kName);
    std::exchange(p_, nullptr)->release();
  }

  // Gives up ownership without releasing: the caller releases by hand.
  P* detach() noexcept { return std::exchange(p_, nullptr); }

  // The async_with tear-down: releases if still held.
  Coro<void> aclose() {
    if (p_) std::exchange(p_, nullptr)->release();
    co_return;
  }

 private:
  void reset() noexcept {
    if (!p_) return;
    try {
      std::exchange(p_, nullptr)->release();
    } catch (...) {
      internal::report_guard_release_error(P::kName);
    }
  }

  P* p_;
};

namespace internal {

// `co_await p.scoped()`: the primitive's acquire awaiter, giving a ReleaseGuard instead of
// nothing. `Acquire` exposes primitive().
template <class Acquire, class P>
class ScopedAcquire : public Acquire {
 public:
  using Acquire::Acquire;
  ReleaseGuard<P> await_resume() {
    Acquire::await_resume();
    return ReleaseGuard<P>(this->primitive());
  }
};

}  // namespace internal
}  // namespace weft

#endif  // WEFT_SYNC_RELEASE_GUARD_H_
