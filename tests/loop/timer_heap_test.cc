// Tests for internal::TimerHeap: deadline order, ties in insertion order, eager removal
// from any position, pop_due against a clock value, pop_any for teardown.

#include "loop/timer_heap.h"

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
std::vector<int> drain(TimerHeap& heap, TimePoint now) {
  std::vector<int> out;
  while (TimerBase* t = heap.pop_due(now)) {
    EXPECT_FALSE(t->in_heap());
    out.push_back(static_cast<TestTimer*>(t)->id);
  }
  return out;
}

TEST(TimerHeap, StartsEmpty) {
  TimerHeap heap;
  EXPECT_TRUE(heap.empty());
  EXPECT_EQ(heap.size(), 0u);
  EXPECT_EQ(heap.pop_due(at(1000000)), nullptr);
  EXPECT_EQ(heap.pop_any(), nullptr);
}

TEST(TimerHeap, PopsInDeadlineOrder) {
  TimerHeap heap;
  TestTimer a(1), b(2), c(3);
  heap.push(&c, at(30));
  heap.push(&a, at(10));
  heap.push(&b, at(20));
  EXPECT_TRUE(a.in_heap());
  EXPECT_EQ(a.deadline(), at(10));
  EXPECT_EQ(heap.size(), 3u);
  EXPECT_EQ(heap.next_deadline(), at(10));
  EXPECT_EQ(drain(heap, at(100)), (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(heap.empty());
}

TEST(TimerHeap, PopDueStopsAtTimersNotYetDue) {
  TimerHeap heap;
  TestTimer a(1), b(2), c(3);
  heap.push(&a, at(10));
  heap.push(&b, at(20));
  heap.push(&c, at(30));
  EXPECT_EQ(drain(heap, at(9)), std::vector<int>{});
  EXPECT_EQ(drain(heap, at(20)), (std::vector<int>{1, 2}));  // a deadline equal to now is due
  EXPECT_EQ(heap.next_deadline(), at(30));
  EXPECT_TRUE(c.in_heap());
  EXPECT_EQ(drain(heap, at(30)), std::vector<int>{3});
}

TEST(TimerHeap, TiesPopInInsertionOrder) {
  TimerHeap heap;
  std::vector<std::unique_ptr<TestTimer>> timers;
  for (int i = 0; i < 100; ++i) {
    timers.push_back(std::make_unique<TestTimer>(i));
    heap.push(timers.back().get(), at(i % 3 == 0 ? 5 : 7));
  }
  std::vector<int> popped = drain(heap, at(10));
  std::vector<int> expected;
  for (int i = 0; i < 100; i += 3) expected.push_back(i);
  for (int i = 0; i < 100; ++i) {
    if (i % 3 != 0) expected.push_back(i);
  }
  EXPECT_EQ(popped, expected);
}

TEST(TimerHeap, RemoveFromAnyPosition) {
  TimerHeap heap;
  std::vector<std::unique_ptr<TestTimer>> timers;
  for (int i = 0; i < 10; ++i) {
    timers.push_back(std::make_unique<TestTimer>(i));
    heap.push(timers.back().get(), at(100 - i * 10));  // 9 is the earliest
  }
  EXPECT_TRUE(heap.remove(timers[9].get()));  // the root
  EXPECT_TRUE(heap.remove(timers[0].get()));  // the latest
  EXPECT_TRUE(heap.remove(timers[5].get()));  // somewhere inside
  EXPECT_FALSE(timers[5]->in_heap());
  EXPECT_FALSE(heap.remove(timers[5].get()));  // not in the heap any more
  EXPECT_EQ(heap.size(), 7u);
  EXPECT_EQ(drain(heap, at(1000)), (std::vector<int>{8, 7, 6, 4, 3, 2, 1}));
}

TEST(TimerHeap, ReinsertAfterRemoval) {
  TimerHeap heap;
  TestTimer a(1), b(2);
  heap.push(&a, at(10));
  heap.push(&b, at(20));
  heap.remove(&a);
  heap.push(&a, at(30));
  EXPECT_EQ(a.deadline(), at(30));
  EXPECT_EQ(drain(heap, at(100)), (std::vector<int>{2, 1}));
}

TEST(TimerHeap, PopAnyDrainsEverything) {
  TimerHeap heap;
  std::vector<std::unique_ptr<TestTimer>> timers;
  for (int i = 0; i < 20; ++i) {
    timers.push_back(std::make_unique<TestTimer>(i));
    heap.push(timers.back().get(), at(i * 7 % 13));
  }
  std::vector<int> popped;
  while (TimerBase* t = heap.pop_any()) {
    EXPECT_FALSE(t->in_heap());
    popped.push_back(static_cast<TestTimer*>(t)->id);
  }
  std::sort(popped.begin(), popped.end());
  ASSERT_EQ(popped.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(popped[i], i);
  EXPECT_TRUE(heap.empty());
}

TEST(TimerHeap, RandomisedAgainstASortedReference) {
  // Random pushes, removals and pops, checked against a sorted list of
  // (deadline, insertion sequence, id).
  std::mt19937 rng(12345);
  TimerHeap heap;
  constexpr int kTimers = 500;
  std::vector<std::unique_ptr<TestTimer>> timers;
  for (int i = 0; i < kTimers; ++i) timers.push_back(std::make_unique<TestTimer>(i));
  using Key = std::tuple<int, int, int>;  // deadline ms, seq, id
  std::vector<Key> reference;
  int seq = 0;
  for (int round = 0; round < 5000; ++round) {
    int op = static_cast<int>(rng() % 10);
    int id = static_cast<int>(rng() % kTimers);
    TestTimer* t = timers[id].get();
    if (op < 5) {
      if (t->in_heap()) continue;
      int deadline = static_cast<int>(rng() % 50);  // few distinct values: many ties
      heap.push(t, at(deadline));
      reference.emplace_back(deadline, seq++, id);
    } else if (op < 8) {
      bool in = t->in_heap();
      ASSERT_EQ(heap.remove(t), in);
      if (in) {
        auto it = std::find_if(reference.begin(), reference.end(),
                               [&](const Key& k) { return std::get<2>(k) == id; });
        ASSERT_NE(it, reference.end());
        reference.erase(it);
      }
    } else {
      int now = static_cast<int>(rng() % 50);
      TimerBase* popped = heap.pop_due(at(now));
      auto smallest = std::min_element(reference.begin(), reference.end());
      if (smallest == reference.end() || std::get<0>(*smallest) > now) {
        ASSERT_EQ(popped, nullptr);
      } else {
        ASSERT_NE(popped, nullptr);
        ASSERT_EQ(static_cast<TestTimer*>(popped)->id, std::get<2>(*smallest));
        reference.erase(smallest);
      }
    }
    ASSERT_EQ(heap.size(), reference.size());
    if (!reference.empty()) {
      ASSERT_EQ(heap.next_deadline(),
                at(std::get<0>(*std::min_element(reference.begin(), reference.end()))));
    }
  }
  std::sort(reference.begin(), reference.end());
  std::vector<int> expected;
  for (const Key& k : reference) expected.push_back(std::get<2>(k));
  EXPECT_EQ(drain(heap, at(1000)), expected);
}

}  // namespace
}  // namespace weft::internal
