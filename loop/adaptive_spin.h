// AdaptiveSpin: how long an idle event loop spins looking for work before it parks in its
// poll, adapted to what the spins achieve (internal; EventLoop::set_spin_before_park).
//
// Why spin at all: on this kind of VM waking a parked thread costs about 20 us one way, so two
// loops handing work back and forth (ping-pong, a pipeline stage per loop) spend most of their
// time waking each other. A short spin before parking catches the next item without that cost,
// but a spin that finds nothing is CPU burnt: an idle Runtime must use none, and a loop fed by
// sockets gains nothing, since the spin watches only the queues other threads push to, not
// the file descriptors.
//
// So the budget follows the evidence, as an adaptive mutex does:
// - it grows (doubling, from kMinSpin, up to the limit) when a spin found work, when work
//   arrived just after the spin gave up, or when a park was ended by another thread's wake
//   sooner than the limit (a spin that long would have caught it);
// - it halves (and drops to zero below kMinSpin) when a park lasted longer than the limit or
//   was ended by I/O or a timer.
// An idle loop, or one serving sockets, stops spinning within a few parks; ping-pong between
// loops keeps spinning.
//
// Thread-safety: the owning loop's thread only (plain fields).
#ifndef WEFT_LOOP_ADAPTIVE_SPIN_H_
#define WEFT_LOOP_ADAPTIVE_SPIN_H_

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "loop/clock.h"

namespace weft::internal {

class AdaptiveSpin {
 public:
  static constexpr Duration kMinSpin = std::chrono::microseconds(2);

  // The most a spin may last; 0 turns spinning off. The budget starts at the limit.
  void set_limit(Duration limit) {
    limit_ = std::max(Duration::zero(), limit);
    budget_ = limit_;
  }
  Duration limit() const { return limit_; }
  // How long the next spin may last (zero: park at once).
  Duration budget() const { return budget_; }

  // The spin found work, or work arrived between the spin and the park.
  void on_work_found() { grow(); }
  // The loop parked and came back after `parked_for`; `woken_by_thread`: another thread's
  // wake (not I/O or a timer) ended it.
  void on_park_ended(bool woken_by_thread, Duration parked_for) {
    if (limit_ == Duration::zero()) return;
    if (woken_by_thread && parked_for < limit_) {
      grow();
    } else {
      shrink();
    }
  }

 private:
  void grow() { budget_ = std::min(limit_, std::max<Duration>(kMinSpin, budget_ * 2)); }
  void shrink() {
    budget_ /= 2;
    if (budget_ < kMinSpin) budget_ = Duration::zero();
  }

  Duration limit_{};
  Duration budget_{};
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_ADAPTIVE_SPIN_H_
