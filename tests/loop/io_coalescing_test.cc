// I/O coalescing (loop/io_coalescing.h): the controller's rules, driven by a simulated clock
// and simulated event counts; the Poller's nap (what ends it and what does not); and a loop
// that never naps when it has no I/O.
#include "loop/io_coalescing.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "loop/event_loop.h"
#include "loop/handle.h"
#include "loop/poller.h"
#include "loop/runnable.h"

namespace weft::internal {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr Duration kNap = microseconds(100);

// A loop's view of time and I/O: one poll every `step`, returning as many descriptor events
// as `events(napping)` says, where `napping` is whether the controller would nap now.
class Simulation {
 public:
  explicit Simulation(IoCoalescing& c) : c_(c) {}
  // Runs for `span`; returns how long the loop spent in slices where it would nap.
  Duration run(Duration span, const std::function<uint32_t(bool napping)>& events,
               Duration step = milliseconds(1)) {
    Duration napping_for{};
    for (Duration t{}; t < span; t += step) {
      now_ += step;
      bool napping = c_.nap_before_wait(now_, IoCoalescing::kMinEventsToNap) > Duration::zero();
      if (napping) napping_for += step;
      c_.on_poll(now_, events(napping));
    }
    return napping_for;
  }
  TimePoint now() const { return now_; }

 private:
  IoCoalescing& c_;
  TimePoint now_{seconds(1000)};
};

// A controller with kNap, and a simulated loop driving it.
class IoCoalescingTest : public ::testing::Test {
 protected:
  IoCoalescingTest() { c.set_nap(kNap); }
  IoCoalescing c;
  Simulation sim{c};
};

// Busy enough to be tested (the threshold is 10 events/ms).
std::function<uint32_t(bool)> rates(uint32_t without, uint32_t with) {
  return [=](bool napping) { return napping ? with : without; };
}

TEST_F(IoCoalescingTest, DisabledNeverNaps) {
  c.set_nap(Duration::zero());
  Duration napping = sim.run(seconds(30), rates(100, 1000));
  EXPECT_EQ(napping, Duration::zero());
  EXPECT_EQ(c.tests(), 0u);
  EXPECT_EQ(c.state(), IoCoalescing::State::kOff);
}

TEST_F(IoCoalescingTest, AQuietLoopIsNeverTested) {
  Duration napping = sim.run(seconds(30), rates(5, 50));  // 5,000 events/s: below the bar
  EXPECT_EQ(napping, Duration::zero());
  EXPECT_EQ(c.tests(), 0u);
}

TEST_F(IoCoalescingTest, ABusyLoopWhereNapsWinSwitchesThemOn) {
  sim.run(seconds(1), rates(100, 120));
  EXPECT_EQ(c.tests(), 1u);
  EXPECT_EQ(c.tests_won(), 1u);
  ASSERT_EQ(c.state(), IoCoalescing::State::kOn);
  EXPECT_EQ(c.nap_before_wait(sim.now(), IoCoalescing::kMinEventsToNap), kNap);
  // A poll that found a single descriptor is not a crowd: no nap even while on.
  EXPECT_EQ(c.nap_before_wait(sim.now(), 1), Duration::zero());
}

TEST_F(IoCoalescingTest, WhileTestingOnlyOddSlicesNap) {
  sim.run(milliseconds(150), rates(100, 100));  // past the activity check: a test runs
  ASSERT_EQ(c.state(), IoCoalescing::State::kTesting);
  int64_t window = IoCoalescing::kWindow.count();
  TimePoint slice_start{Duration(sim.now().time_since_epoch().count() / window * window)};
  for (int i = 2; i < 6; ++i) {
    TimePoint mid = slice_start + i * IoCoalescing::kWindow + IoCoalescing::kWindow / 2;
    int64_t slice = mid.time_since_epoch().count() / window;
    Duration expected = slice % 2 == 1 ? kNap : Duration::zero();
    EXPECT_EQ(c.nap_before_wait(mid, IoCoalescing::kMinEventsToNap), expected) << i;
  }
}

TEST_F(IoCoalescingTest, ASmallGainIsNotEnough) {
  sim.run(seconds(1), rates(100, 103));  // 3%: under kMinGain
  EXPECT_EQ(c.tests(), 1u);
  EXPECT_EQ(c.tests_won(), 0u);
  EXPECT_EQ(c.state(), IoCoalescing::State::kOff);
}

TEST_F(IoCoalescingTest, NapsThatPlainlyLoseEndTheTestAfterOnePair) {
  Duration napping = sim.run(seconds(5), rates(100, 25));
  EXPECT_EQ(c.tests(), 1u);
  EXPECT_EQ(c.state(), IoCoalescing::State::kOff);
  // One nap slice, not kPairs of them (the decision falls at the first poll after it).
  EXPECT_LE(napping, IoCoalescing::kWindow + milliseconds(1));
}

TEST_F(IoCoalescingTest, RetestsAfterTheHoldAndFollowTheLoad) {
  sim.run(seconds(1), rates(100, 120));
  ASSERT_EQ(c.state(), IoCoalescing::State::kOn);
  // The load changes: naps now lose. Nothing changes before the hold ends...
  sim.run(IoCoalescing::kHold - seconds(2), rates(100, 50));
  EXPECT_EQ(c.state(), IoCoalescing::State::kOn);
  EXPECT_EQ(c.tests(), 1u);
  // ...then a test turns them off.
  sim.run(seconds(3), rates(100, 50));
  EXPECT_EQ(c.tests(), 2u);
  EXPECT_EQ(c.state(), IoCoalescing::State::kOff);
}

TEST_F(IoCoalescingTest, ALoopThatGoesQuietWhileOnStopsNapping) {
  sim.run(seconds(1), rates(100, 120));
  ASSERT_EQ(c.state(), IoCoalescing::State::kOn);
  // Long parks: one poll every 100 ms, one event each.
  sim.run(IoCoalescing::kHold + seconds(1), rates(1, 1), milliseconds(100));
  EXPECT_EQ(c.state(), IoCoalescing::State::kOff);
  EXPECT_EQ(c.tests(), 1u);
}

TEST_F(IoCoalescingTest, SettingTheNapResetsTheState) {
  sim.run(seconds(1), rates(100, 120));
  ASSERT_EQ(c.state(), IoCoalescing::State::kOn);
  c.set_nap(microseconds(50));
  EXPECT_EQ(c.state(), IoCoalescing::State::kOff);
  EXPECT_EQ(c.nap(), microseconds(50));
}

// --- The Poller's nap. ---

struct Pipe {
  int fds[2];
  Pipe() { EXPECT_EQ(pipe(fds), 0); }
  ~Pipe() {
    close(fds[0]);
    close(fds[1]);
  }
};

void discard_all(RunQueue& q) {
  while (!q.empty()) q.pop_front()->discard();
}

constexpr int64_t kHourNs = int64_t{3600} * 1000000000;

TEST(PollerNapTest, NoNapWhenADescriptorIsAlreadyReady) {
  // A nap of an hour would hang the test: the poll must see the ready pipe first.
  Poller poller;
  Pipe p;
  poller.set_reader(p.fds[0], new CallbackNode(nullptr, [] {}, 1));
  ASSERT_EQ(write(p.fds[1], "x", 1), 1);
  RunQueue ready;
  EXPECT_FALSE(poller.poll(-1, ready, kHourNs));
  EXPECT_EQ(ready.size(), 1u);
  EXPECT_EQ(poller.last_io_events(), 1u);
  discard_all(ready);
  poller.close();
}

TEST(PollerNapTest, AWakeFromAnotherThreadEndsTheNap) {
  // Whether the wake lands before the nap or during it, the poll returns woken; a nap that
  // ignored it would last an hour.
  Poller poller;
  std::atomic<bool> polling{false};
  std::thread waker([&] {
    while (!polling.load()) std::this_thread::yield();
    poller.wake();
  });
  RunQueue ready;
  polling.store(true);
  EXPECT_TRUE(poller.poll(-1, ready, kHourNs));
  EXPECT_EQ(poller.last_io_events(), 0u);  // a wake-up is not a descriptor event
  waker.join();
  poller.close();
}

TEST(PollerNapTest, DataThatArrivesDuringOrAfterTheNapIsSeen) {
  Poller poller;
  Pipe p;
  poller.set_reader(p.fds[0], new CallbackNode(nullptr, [] {}, 1));
  std::atomic<bool> polling{false};
  std::thread writer([&] {
    while (!polling.load()) std::this_thread::yield();
    EXPECT_EQ(write(p.fds[1], "x", 1), 1);
  });
  RunQueue ready;
  polling.store(true);
  // A 1 ms nap, then the wait without limit: the data ends one or the other.
  EXPECT_FALSE(poller.poll(-1, ready, 1000000));
  EXPECT_EQ(ready.size(), 1u);
  EXPECT_EQ(poller.last_io_events(), 1u);
  writer.join();
  discard_all(ready);
  poller.close();
}

// --- The loop. ---

TEST(EventLoopIoCoalescingTest, OnByDefaultAndConfigurable) {
  EventLoop loop;
  EXPECT_EQ(loop.io_coalescing(), IoCoalescing::kDefaultNap);
  loop.set_io_coalescing(Duration::zero());
  EXPECT_EQ(loop.io_coalescing(), Duration::zero());
  loop.close();
}

TEST(EventLoopIoCoalescingTest, ALoopWithoutIoNeverNaps) {
  // Parks on timers and on wakes from another thread: no descriptor events, so no nap.
  EventLoop loop;
  loop.set_spin_before_park(Duration::zero());  // park at once, every time
  int left = 200;
  std::vector<std::thread> threads;
  std::function<void()> again = [&] {
    if (--left == 0) {
      loop.stop();
    } else if (left % 2 == 0) {
      loop.call_later(microseconds(10), [&] { again(); });
    } else {
      threads.emplace_back([&] { loop.call_soon_threadsafe([&] { again(); }); });
    }
  };
  loop.call_soon([&] { again(); });
  loop.run_forever();
  for (std::thread& t : threads) t.join();
  EXPECT_GT(loop.stats().parks, 0u);
  EXPECT_EQ(loop.stats().io_naps, 0u);
  loop.close();
}

}  // namespace
}  // namespace weft::internal
