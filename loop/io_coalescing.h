// IoCoalescing: whether an event loop that serves busy sockets should nap briefly before it
// blocks in epoll, so that the descriptors' readiness comes in fewer, larger batches; decided
// by measuring, on the loop itself, which way it handles more I/O (internal;
// EventLoop::set_io_coalescing).
//
// Why: a loop that answers faster than its peers write sleeps in epoll_wait between their
// requests, and each write that arrives while it sleeps pays for waking it. That cost is the
// writer's: its system call runs the wake-up (on this kind of VM, with the idle core's halt
// exit). When the peers are busy processes on the same machine (wrk in W8, a local proxy, a
// client pool), their CPU goes on waking the server, and the server gets fewer requests
// although it has time to spare: in W8 one weft loop slept ~8,000 times a second and answered
// fewer requests than uvloop, which never sleeps. A nap on a timer instead (the wake eventfd
// still ends it at once) lets their writes queue without waking anyone. That is interrupt
// coalescing, as a NIC's rx-usecs or Linux's napi_defer_hard_irqs do it.
//
// It is not always a gain: with few connections the nap is the client's latency. On 2 loops
// with wrk on loopback, naps took W8 from ~195 k to ~215 k requests/s at 64 connections; in
// the test slices below they cost 32 connections ~10% and 8 connections ~75% of their
// events. Nothing the loop sees tells these apart in advance, so it runs an experiment and
// keeps the winner:
//
// - Off (the starting state): no naps. Every kActivityCheck, if the loop handled at least
//   kMinEventsPerSecond descriptor events a second meanwhile, a test starts.
// - Testing: time is cut into kWindow-long slices aligned on the clock; in odd slices the
//   loop naps, in even ones it does not. The first, partial slice is not counted. After
//   kPairs slices of each kind the loop compares the events handled per slice: napping wins
//   only with more than (1 + kMinGain) times as many. A test where napping loses by more
//   than kClearLoss after one pair ends there. Alternating slices cancel slow changes of
//   load; slices aligned on the clock make the loops of a Runtime nap in the same slices, so
//   each measures all of them napping, which is what it would switch on.
// - On, or off after a test: kept for kHold; then the loop tests again if it is still busy
//   (a test is how it notices the load changed), else it is off.
//
// The slices are 50 ms because shorter ones measured the wrong thing: with 10 ms slices the
// nap slices of W8 handled 5-15% fewer events than the others, with 50 ms slices 15-20% more,
// as fixed naps do over whole runs. The gain takes longer than 10 ms to appear (not
// explained).
//
// A nap happens only when the loop is about to block, nothing is ready, and its last poll
// returned at least kMinEventsToNap descriptor events (a loop that saw one event, or only a
// wake-up, is not serving a crowd); so an idle loop never naps and stays idle.
//
// The price: a test costs up to kPairs nap slices (200 ms) every kHold (10 s), or one (50 ms)
// where naps plainly lose; a nap adds up to the nap plus the kernel's timer slack (50 us by
// default) to the requests it batches.
//
// Thread-safety: the owning loop's thread only (plain fields).
#ifndef WEFT_LOOP_IO_COALESCING_H_
#define WEFT_LOOP_IO_COALESCING_H_

#include <chrono>
#include <cstdint>

#include "loop/clock.h"

namespace weft::internal {

class IoCoalescing {
 public:
  // The nap of a loop that nobody configured: with the kernel's 50 us timer slack, about
  // 150 us in all, the best of 50, 100, 200 and 400 us in W8 on 2 loops (bench/README).
  static constexpr Duration kDefaultNap = std::chrono::microseconds(100);
  static constexpr Duration kWindow = std::chrono::milliseconds(50);
  static constexpr uint32_t kPairs = 4;
  static constexpr Duration kHold = std::chrono::seconds(10);
  static constexpr Duration kActivityCheck = std::chrono::milliseconds(100);
  static constexpr double kMinGain = 0.05;
  static constexpr double kClearLoss = 0.2;
  static constexpr uint64_t kMinEventsPerSecond = 10000;
  static constexpr uint32_t kMinEventsToNap = 2;

  enum class State { kOff, kTesting, kOn };

  // The nap's length (default kDefaultNap); 0 disables coalescing. Resets the state to off.
  void set_nap(Duration nap) {
    nap_ = nap > Duration::zero() ? nap : Duration::zero();
    state_ = State::kOff;
    hold_until_ = TimePoint{};
    events_ = 0;
  }
  Duration nap() const { return nap_; }
  bool enabled() const { return nap_ > Duration::zero(); }
  State state() const { return state_; }
  uint64_t tests() const { return tests_; }
  uint64_t tests_won() const { return tests_won_; }

  // How long to nap before a poll that would block, at `now`, when the last poll returned
  // `last_poll_events` descriptor events: zero or nap().
  Duration nap_before_wait(TimePoint now, uint32_t last_poll_events) const {
    if (!enabled() || last_poll_events < kMinEventsToNap) return Duration::zero();
    if (state_ == State::kOn) return nap_;
    if (state_ == State::kTesting) {
      int64_t slice = slice_of(now);
      if (slice >= first_slice_ && (slice & 1)) return nap_;
    }
    return Duration::zero();
  }

  // After a poll (of any kind) at `now` that returned `events` descriptor events.
  void on_poll(TimePoint now, uint32_t events) {
    if (!enabled()) return;
    if (state_ != State::kTesting) {
      events_ += events;
      if (now < hold_until_) return;
      if (hold_until_ != TimePoint{} && events_ >= min_events_for(now - hold_started_)) {
        start_test(now);
      } else {
        hold(now, State::kOff, kActivityCheck);  // too quiet to measure: look again soon
      }
      return;
    }
    int64_t slice = slice_of(now);
    if (slice < first_slice_) {  // the partial slice the test started in
      events_ = 0;
      return;
    }
    // Close every slice that ended before this poll returned; slices a park spanned count
    // as slices without events.
    for (; current_slice_ < slice; ++current_slice_) {
      int kind = static_cast<int>(current_slice_ & 1);
      sum_[kind] += events_;
      ++count_[kind];
      events_ = 0;
    }
    events_ += events;
    if (count_[0] >= kPairs && count_[1] >= kPairs) {
      decide(now);
    } else if (count_[0] > 0 && count_[1] > 0 && per_slice(1) < per_slice(0) * (1 - kClearLoss)) {
      // Napping plainly loses (few connections, each waiting on the nap): stop the test now
      // rather than make the remaining nap slices pay the latency.
      decide(now);
    }
  }

 private:
  static int64_t slice_of(TimePoint t) {
    return std::chrono::duration_cast<Duration>(t.time_since_epoch()).count() / kWindow.count();
  }
  static uint64_t min_events_for(Duration held) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(held).count();
    return static_cast<uint64_t>(us > 0 ? us : 0) * kMinEventsPerSecond / 1000000;
  }
  void hold(TimePoint now, State state, Duration how_long) {
    state_ = state;
    hold_started_ = now;
    hold_until_ = now + how_long;
    events_ = 0;
  }
  void start_test(TimePoint now) {
    state_ = State::kTesting;
    first_slice_ = current_slice_ = slice_of(now) + 1;
    sum_[0] = sum_[1] = 0;
    count_[0] = count_[1] = 0;
    events_ = 0;
    ++tests_;
  }
  // Per slice, so that an extra closed slice of one kind does not weigh.
  double per_slice(int kind) const { return static_cast<double>(sum_[kind]) / count_[kind]; }
  void decide(TimePoint now) {
    double without = per_slice(0);
    double with = per_slice(1);
    bool on = with > without * (1 + kMinGain);
    if (on) ++tests_won_;
    hold(now, on ? State::kOn : State::kOff, kHold);
  }

  Duration nap_ = kDefaultNap;
  State state_ = State::kOff;
  TimePoint hold_started_{};
  TimePoint hold_until_{};  // epoch: never held yet (the first hold only measures activity)
  uint64_t events_ = 0;     // descriptor events since the hold began, or in the open slice
  int64_t first_slice_ = 0;
  int64_t current_slice_ = 0;
  uint64_t sum_[2] = {0, 0};  // events in closed slices: [0] without naps, [1] with
  uint32_t count_[2] = {0, 0};
  uint64_t tests_ = 0;
  uint64_t tests_won_ = 0;
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_IO_COALESCING_H_
