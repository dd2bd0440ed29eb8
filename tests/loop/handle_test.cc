// Tests for Handle and TimerHandle: the cancellable receipts of call_soon, call_later and
// call_at, including cancellation from another thread and handles that outlive their loop.

#include "loop/handle.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "loop/weft.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

TEST(Handle, DefaultConstructedIsEmpty) {
  Handle h;
  EXPECT_FALSE(h);
  EXPECT_FALSE(h.cancelled());
  h.cancel();  // no-op
  TimerHandle t;
  EXPECT_FALSE(t);
  t.cancel();
}

TEST(Handle, CancelIsIdempotentAndCopiesShareTheCallback) {
  EventLoop loop;
  int ran = 0;
  Handle h = loop.call_soon([&] { ++ran; });
  Handle copy = h;
  copy.cancel();
  EXPECT_TRUE(h.cancelled());
  h.cancel();
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(ran, 0);
}

TEST(Handle, DroppingTheHandleDoesNotUnschedule) {
  EventLoop loop;
  int ran = 0;
  { (void)loop.call_soon([&] { ++ran; }); }
  { (void)loop.call_later(1ms, [&] { ++ran; loop.stop(); }); }
  loop.run_forever();
  EXPECT_EQ(ran, 2);
}

TEST(Handle, CancelAfterTheCallbackRanIsHarmless) {
  EventLoop loop;
  int ran = 0;
  Handle h = loop.call_soon([&] { ++ran; loop.stop(); });
  loop.run_forever();
  h.cancel();
  EXPECT_EQ(ran, 1);
}

TEST(Handle, CancelFromAnEarlierCallbackInTheSameStep) {
  EventLoop loop;
  int ran = 0;
  Handle second;
  loop.call_soon([&] { second.cancel(); });
  second = loop.call_soon([&] { ++ran; });
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(ran, 0);
}

TEST(TimerHandle, WhenIsTheScheduledDeadline) {
  EventLoop loop;
  TimePoint at = loop.time() + 1h;
  TimerHandle h = loop.call_at(at, [] {});
  EXPECT_EQ(h.when(), at);
  TimePoint before = loop.time();
  TimerHandle later = loop.call_later(2h, [] {});
  EXPECT_GE(later.when(), before + 2h);
  h.cancel();
  later.cancel();
}

TEST(TimerHandle, CancelRemovesTheTimerAtOnce) {
  EventLoop loop;
  auto owned = std::make_shared<int>(0);
  TimerHandle h = loop.call_later(1h, [owned] {});
  EXPECT_EQ(loop.timer_queue().size(), 1u);
  EXPECT_EQ(owned.use_count(), 2);
  h.cancel();
  EXPECT_TRUE(h.cancelled());
  EXPECT_EQ(loop.timer_queue().size(), 0u);
  h.cancel();  // idempotent
  EXPECT_EQ(loop.timer_queue().size(), 0u);
}

TEST(TimerHandle, CancelFromACallbackPreventsTheTimer) {
  EventLoop loop;
  std::vector<int> log;
  TimerHandle victim;
  loop.call_later(1ms, [&] {
    log.push_back(1);
    victim.cancel();
  });
  victim = loop.call_later(2ms, [&] { log.push_back(2); });
  loop.call_later(3ms, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(log, std::vector<int>{1});
}

TEST(TimerHandle, CancelWhenDueButNotYetRun) {
  // Two timers with the same deadline move to the ready queue in the same step; the first
  // cancels the second, which must then not run.
  EventLoop loop;
  std::vector<int> log;
  TimePoint when = loop.time() + 1ms;
  TimerHandle second;
  loop.call_at(when, [&] {
    log.push_back(1);
    second.cancel();
  });
  second = loop.call_at(when, [&] { log.push_back(2); });
  loop.call_at(when + 1ms, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(log, std::vector<int>{1});
}

TEST(TimerHandle, CancelFromAnotherThreadWhileTheLoopRuns) {
  EventLoop loop;
  bool fired = false;
  TimerHandle h = loop.call_later(1h, [&] { fired = true; });
  std::thread canceller;
  loop.call_soon([&] {
    canceller = std::thread([&] {
      h.cancel();
      // The removal is posted before this, so it has happened when the loop stops.
      loop.call_soon_threadsafe([&] { loop.stop(); });
    });
  });
  loop.run_forever();
  canceller.join();
  EXPECT_TRUE(h.cancelled());
  EXPECT_FALSE(fired);
  EXPECT_EQ(loop.timer_queue().size(), 0u);
}

TEST(TimerHandle, CancelFromAnotherThreadWhileTheLoopIsNotRunning) {
  EventLoop loop;
  TimerHandle h = loop.call_later(1h, [] {});
  std::thread canceller([&] { h.cancel(); });
  canceller.join();
  EXPECT_TRUE(h.cancelled());
  EXPECT_EQ(loop.timer_queue().size(), 0u);
}

TEST(TimerHandle, StressCancelFromAnotherThread) {
  // Many timers cancelled from a second thread while the loop runs; none may fire, and the
  // timer queue must end empty.
  constexpr int kTimers = 500;
  EventLoop loop;
  std::vector<TimerHandle> handles;
  int fired = 0;
  for (int i = 0; i < kTimers; ++i) handles.push_back(loop.call_later(1h, [&] { ++fired; }));
  std::thread canceller;
  loop.call_soon([&] {
    canceller = std::thread([&] {
      for (TimerHandle& h : handles) h.cancel();
      loop.call_soon_threadsafe([&] { loop.stop(); });
    });
  });
  loop.run_forever();
  canceller.join();
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(loop.timer_queue().size(), 0u);
}

TEST(TimerHandle, HandleOutlivesItsLoop) {
  // "A Handle may outlive its loop; cancel() on it then does nothing."
  TimerHandle pending;
  TimerHandle fired;
  Handle soon;
  {
    EventLoop loop;
    fired = loop.call_later(0ms, [&] { loop.stop(); });
    pending = loop.call_later(1h, [] {});
    soon = loop.call_soon([] {});
    loop.run_forever();
  }
  pending.cancel();
  fired.cancel();
  soon.cancel();
  EXPECT_TRUE(pending.cancelled());
}

}  // namespace
}  // namespace weft
