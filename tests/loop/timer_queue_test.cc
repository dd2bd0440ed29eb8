// Tests for internal::TimerQueue: deadline order, ties in insertion order, eager removal
// from any position, pop_due against a clock value, pop_any for teardown; and, for the
// wheel, the same across ticks, levels, cascades and the span beyond the wheel.

#include "loop/timer_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;

namespace weft::internal {
namespace {

struct TestTimer final : TimerBase {
  explicit TestTimer(int id) : id(id) {}
  void on_due() override {}
  int id;
};

TimePoint at(int ms) { return TimePoint{} + std::chrono::milliseconds(ms); }

// Pops everything due at `now`, returning the ids in pop order.
std::vector<int> drain(TimerQueue& queue, TimePoint now) {
  std::vector<int> out;
  while (TimerBase* t = queue.pop_due(now)) {
    EXPECT_FALSE(t->scheduled());
    out.push_back(static_cast<TestTimer*>(t)->id);
  }
  return out;
}

TEST(TimerQueue, StartsEmpty) {
  TimerQueue queue;
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.size(), 0u);
  EXPECT_EQ(queue.pop_due(at(1000000)), nullptr);
  EXPECT_EQ(queue.pop_any(), nullptr);
}

TEST(TimerQueue, PopsInDeadlineOrder) {
  TimerQueue queue;
  TestTimer a(1), b(2), c(3);
  queue.push(&c, at(30));
  queue.push(&a, at(10));
  queue.push(&b, at(20));
  EXPECT_TRUE(a.scheduled());
  EXPECT_EQ(a.deadline(), at(10));
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue.next_deadline(), at(10));
  EXPECT_EQ(drain(queue, at(100)), (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(queue.empty());
}

TEST(TimerQueue, PopDueStopsAtTimersNotYetDue) {
  TimerQueue queue;
  TestTimer a(1), b(2), c(3);
  queue.push(&a, at(10));
  queue.push(&b, at(20));
  queue.push(&c, at(30));
  EXPECT_EQ(drain(queue, at(9)), std::vector<int>{});
  EXPECT_EQ(drain(queue, at(20)), (std::vector<int>{1, 2}));  // a deadline equal to now is due
  EXPECT_EQ(queue.next_deadline(), at(30));
  EXPECT_TRUE(c.scheduled());
  EXPECT_EQ(drain(queue, at(30)), std::vector<int>{3});
}

TEST(TimerQueue, TiesPopInInsertionOrder) {
  TimerQueue queue;
  std::vector<std::unique_ptr<TestTimer>> timers;
  for (int i = 0; i < 100; ++i) {
    timers.push_back(std::make_unique<TestTimer>(i));
    queue.push(timers.back().get(), at(i % 3 == 0 ? 5 : 7));
  }
  std::vector<int> popped = drain(queue, at(10));
  std::vector<int> expected;
  for (int i = 0; i < 100; i += 3) expected.push_back(i);
  for (int i = 0; i < 100; ++i) {
    if (i % 3 != 0) expected.push_back(i);
  }
  EXPECT_EQ(popped, expected);
}

TEST(TimerQueue, RemoveFromAnyPosition) {
  TimerQueue queue;
  std::vector<std::unique_ptr<TestTimer>> timers;
  for (int i = 0; i < 10; ++i) {
    timers.push_back(std::make_unique<TestTimer>(i));
    queue.push(timers.back().get(), at(100 - i * 10));  // 9 is the earliest
  }
  EXPECT_TRUE(queue.remove(timers[9].get()));  // the root
  EXPECT_TRUE(queue.remove(timers[0].get()));  // the latest
  EXPECT_TRUE(queue.remove(timers[5].get()));  // somewhere inside
  EXPECT_FALSE(timers[5]->scheduled());
  EXPECT_FALSE(queue.remove(timers[5].get()));  // not scheduled any more
  EXPECT_EQ(queue.size(), 7u);
  EXPECT_EQ(drain(queue, at(1000)), (std::vector<int>{8, 7, 6, 4, 3, 2, 1}));
}

TEST(TimerQueue, ReinsertAfterRemoval) {
  TimerQueue queue;
  TestTimer a(1), b(2);
  queue.push(&a, at(10));
  queue.push(&b, at(20));
  queue.remove(&a);
  queue.push(&a, at(30));
  EXPECT_EQ(a.deadline(), at(30));
  EXPECT_EQ(drain(queue, at(100)), (std::vector<int>{2, 1}));
}

TEST(TimerQueue, PopAnyDrainsEverything) {
  TimerQueue queue;
  std::vector<std::unique_ptr<TestTimer>> timers;
  for (int i = 0; i < 20; ++i) {
    timers.push_back(std::make_unique<TestTimer>(i));
    queue.push(timers.back().get(), at(i * 7 % 13));
  }
  std::vector<int> popped;
  while (TimerBase* t = queue.pop_any()) {
    EXPECT_FALSE(t->scheduled());
    popped.push_back(static_cast<TestTimer*>(t)->id);
  }
  std::sort(popped.begin(), popped.end());
  ASSERT_EQ(popped.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(popped[i], i);
  EXPECT_TRUE(queue.empty());
}

// --- The wheel: deadlines far apart, in the same tick, and beyond the wheel. ---

TimePoint at_ns(int64_t ns) { return TimePoint{} + std::chrono::nanoseconds(ns); }

// The randomised tests' oracle: a TimerQueue driven alongside a plain list of (deadline,
// push sequence, id), whose minimum is what the queue must hand out next.
class CheckedQueue {
 public:
  explicit CheckedQueue(int timers) {
    for (int i = 0; i < timers; ++i) timers_.push_back(std::make_unique<TestTimer>(i));
  }
  TestTimer* timer(int id) { return timers_[id].get(); }

  void push(int id, int64_t deadline_ns) {
    queue_.push(timer(id), at_ns(deadline_ns));
    reference_.emplace_back(deadline_ns, seq_++, id);
  }
  void remove(int id) {
    bool in = timer(id)->scheduled();
    ASSERT_EQ(queue_.remove(timer(id)), in);
    if (!in) return;
    auto it = std::find_if(reference_.begin(), reference_.end(),
                           [&](const Key& k) { return std::get<2>(k) == id; });
    ASSERT_NE(it, reference_.end());
    reference_.erase(it);
  }
  // One pop_due (or, with `all`, until it returns nullptr), checked.
  void pop_due(int64_t now_ns, bool all) {
    do {
      TimerBase* popped = queue_.pop_due(at_ns(now_ns));
      auto smallest = std::min_element(reference_.begin(), reference_.end());
      if (smallest == reference_.end() || std::get<0>(*smallest) > now_ns) {
        ASSERT_EQ(popped, nullptr);
        return;
      }
      ASSERT_NE(popped, nullptr);
      ASSERT_EQ(static_cast<TestTimer*>(popped)->id, std::get<2>(*smallest));
      ASSERT_FALSE(popped->scheduled());
      reference_.erase(smallest);
    } while (all);
  }
  void check_size(bool and_next_deadline) {
    ASSERT_EQ(queue_.size(), reference_.size());
    if (and_next_deadline && !reference_.empty()) {
      ASSERT_EQ(queue_.next_deadline(),
                at_ns(std::get<0>(*std::min_element(reference_.begin(), reference_.end()))));
    }
  }
  // Everything left comes out in (deadline, push order).
  void drain_all() {
    std::sort(reference_.begin(), reference_.end());
    std::vector<int> expected;
    for (const Key& k : reference_) expected.push_back(std::get<2>(k));
    EXPECT_EQ(drain(queue_, TimePoint::max()), expected);
  }

 private:
  using Key = std::tuple<int64_t, int, int>;  // deadline ns, seq, id
  TimerQueue queue_;
  std::vector<std::unique_ptr<TestTimer>> timers_;
  std::vector<Key> reference_;
  int seq_ = 0;
};

TEST(TimerQueue, RandomisedAgainstASortedReference) {
  // Random pushes, removals and pops against a clock that jumps back and forth, with few
  // distinct deadlines (many ties).
  std::mt19937 rng(12345);
  constexpr int kTimers = 500;
  CheckedQueue q(kTimers);
  for (int round = 0; round < 5000; ++round) {
    int op = static_cast<int>(rng() % 10);
    int id = static_cast<int>(rng() % kTimers);
    if (op < 5) {
      if (q.timer(id)->scheduled()) continue;
      q.push(id, static_cast<int64_t>(rng() % 50) * 1'000'000);
    } else if (op < 8) {
      q.remove(id);
    } else {
      q.pop_due(static_cast<int64_t>(rng() % 50) * 1'000'000, /*all=*/false);
    }
    q.check_size(/*and_next_deadline=*/true);
  }
  q.drain_all();
}

TEST(TimerQueue, OrdersToTheNanosecondInsideOneTick) {
  // A tick is about a millisecond: timers 1 ns apart in one tick still come out in order.
  TimerQueue queue;
  std::vector<std::unique_ptr<TestTimer>> timers;
  const int64_t base = int64_t{1} << 40;  // far from the epoch: a realistic clock value
  for (int i = 0; i < 50; ++i) {
    timers.push_back(std::make_unique<TestTimer>(i));
    queue.push(timers.back().get(), at_ns(base + (49 - i)));  // pushed latest first
  }
  EXPECT_EQ(queue.next_deadline(), at_ns(base));
  EXPECT_EQ(drain(queue, at_ns(base + 9)), (std::vector<int>{49, 48, 47, 46, 45, 44, 43, 42, 41, 40}));
  EXPECT_EQ(queue.next_deadline(), at_ns(base + 10));
  EXPECT_EQ(queue.size(), 40u);
}

TEST(TimerQueue, FarTimersCascadeAndComeOutInOrder) {
  // Deadlines from a microsecond to a year out land on every level of the wheel; pops
  // against a clock that jumps from deadline to deadline see them in order and on time.
  TimerQueue queue;
  const TimePoint start = at_ns(int64_t{5} << 40);
  std::vector<int64_t> offsets = {1'000,          999'999,          1'048'576,
                                  67'000'000,     4'000'000'000,    300'000'000'000,
                                  3'600'000'000'000, 86'400'000'000'000, 31'536'000'000'000'000};
  std::vector<std::unique_ptr<TestTimer>> timers;
  for (size_t i = 0; i < offsets.size(); ++i) {
    timers.push_back(std::make_unique<TestTimer>(static_cast<int>(i)));
  }
  // Push in a scrambled order.
  for (size_t i : {5, 0, 8, 3, 1, 7, 2, 6, 4}) {
    queue.push(timers[i].get(), start + std::chrono::nanoseconds(offsets[i]));
  }
  for (size_t i = 0; i < offsets.size(); ++i) {
    const TimePoint due = start + std::chrono::nanoseconds(offsets[i]);
    ASSERT_EQ(queue.next_deadline(), due);
    EXPECT_EQ(queue.pop_due(due - std::chrono::nanoseconds(1)), nullptr) << "early: " << i;
    TimerBase* t = queue.pop_due(due);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(static_cast<TestTimer*>(t)->id, static_cast<int>(i));
  }
  EXPECT_TRUE(queue.empty());
}

TEST(TimerQueue, TiesKeepPushOrderAcrossLevels) {
  // The first timer is pushed an hour out (a high level), the second for the same deadline
  // once the clock is close (level 0, or the heap): the first still comes out first.
  TimerQueue queue;
  const TimePoint start = at_ns(int64_t{7} << 40);
  const TimePoint due = start + 1h;
  TestTimer early(1), late(2), filler(3);
  queue.push(&early, due);
  queue.push(&filler, due - 1s);
  EXPECT_EQ(queue.pop_due(due - 1s), &filler);  // the clock is now a second from `due`
  queue.push(&late, due);
  EXPECT_EQ(drain(queue, due), (std::vector<int>{1, 2}));
}

TEST(TimerQueue, BeyondTheWheelsSpan) {
  // The wheel spans about two years; later deadlines (up to TimePoint::max) still work.
  TimerQueue queue;
  const TimePoint start = at_ns(int64_t{3} << 40);
  TestTimer near(1), far(2), forever(3);
  queue.push(&forever, TimePoint::max());
  queue.push(&far, start + std::chrono::hours(24 * 365 * 5));
  queue.push(&near, start + 1ms);
  EXPECT_EQ(queue.next_deadline(), start + 1ms);
  EXPECT_EQ(drain(queue, start + std::chrono::hours(24 * 365 * 4)), std::vector<int>{1});
  EXPECT_EQ(queue.next_deadline(), start + std::chrono::hours(24 * 365 * 5));
  EXPECT_TRUE(queue.remove(&far));
  EXPECT_EQ(queue.next_deadline(), TimePoint::max());
  EXPECT_EQ(drain(queue, TimePoint::max()), std::vector<int>{3});
}

TEST(TimerQueue, RemoveFromTheWheelAndTheHeap) {
  TimerQueue queue;
  const TimePoint start = at_ns(int64_t{9} << 40);
  TestTimer a(1), b(2), c(3), d(4);
  queue.push(&a, start + 10s);   // a high level
  queue.push(&b, start + 10s);   // the same slot as a
  queue.push(&c, start + 10ms);  // level 0 or 1
  queue.push(&d, start + 10ms);
  EXPECT_EQ(queue.next_deadline(), start + 10ms);  // c and d are in the heap now
  EXPECT_TRUE(queue.remove(&c));
  EXPECT_TRUE(queue.remove(&a));
  EXPECT_FALSE(a.scheduled());
  EXPECT_FALSE(queue.remove(&a));
  EXPECT_EQ(queue.size(), 2u);
  EXPECT_EQ(drain(queue, start + 1min), (std::vector<int>{4, 2}));
  // The slot a and b shared is empty again: a new timer there is found.
  queue.push(&a, start + 2min);
  EXPECT_EQ(queue.next_deadline(), start + 2min);
}

TEST(TimerQueue, AnIdleWheelStartsWhereTheFirstTimerIs) {
  // A clock value far from zero (a machine up for months) must not leave the first timer to
  // cascade through every level: it is found, and due, on time.
  TimerQueue queue;
  const TimePoint start = at_ns(int64_t{1} << 55);  // over a year of uptime
  TestTimer a(1);
  queue.push(&a, start + 5ms);
  EXPECT_EQ(queue.pop_due(start), nullptr);
  EXPECT_EQ(queue.next_deadline(), start + 5ms);
  EXPECT_EQ(queue.pop_due(start + 5ms), &a);
}

TEST(TimerQueue, RandomisedLikeALoopAgainstASortedReference) {
  // What a loop does: a clock that moves forward by small and large steps, timers pushed
  // relative to it (a few in the past) from nanoseconds to hours out, removals, and pops of
  // what is due.
  std::mt19937_64 rng(777);
  constexpr int kTimers = 2000;
  CheckedQueue q(kTimers);
  int64_t now = int64_t{123456789} << 20;
  const int64_t spans[] = {1'000, 1'000'000, 50'000'000, 5'000'000'000, 7'200'000'000'000};
  for (int round = 0; round < 40000; ++round) {
    int op = static_cast<int>(rng() % 16);
    int id = static_cast<int>(rng() % kTimers);
    if (op < 7) {
      if (q.timer(id)->scheduled()) continue;
      int64_t span = spans[rng() % 5];
      int64_t deadline = now - span / 10 + static_cast<int64_t>(rng() % span);
      if (rng() % 4 == 0) deadline -= deadline % 1'000'000;  // round: many ties
      q.push(id, deadline);
    } else if (op < 9) {
      q.remove(id);
    } else if (op < 12) {
      // The clock moves: usually a little, sometimes a lot.
      now += rng() % 8 == 0 ? static_cast<int64_t>(rng() % 3'000'000'000'000)
                            : static_cast<int64_t>(rng() % 3'000'000);
    } else {
      q.pop_due(now, /*all=*/true);
    }
    q.check_size(/*and_next_deadline=*/round % 7 == 0);
  }
  q.drain_all();
}

}  // namespace
}  // namespace weft::internal
