#include "scheduler/stealable_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "tests/sanitizers.h"
namespace weft::internal {
namespace {

constexpr uint32_t kItems = 400000 / (test_env::kSanitizerSlowdown * 2);

// The queue never dereferences what it holds: numbered fake pointers stand for tasks.
TaskBase* item(uintptr_t i) { return reinterpret_cast<TaskBase*>((i + 1) * 8); }
uintptr_t index_of(TaskBase* t) { return reinterpret_cast<uintptr_t>(t) / 8 - 1; }

TEST(StealableQueueTest, TakeIsOldestFirstAndPopBackNewestFirst) {
  StealableQueue q;
  for (uintptr_t i = 0; i < 6; ++i) ASSERT_TRUE(q.push(item(i)));
  EXPECT_EQ(q.size(), 6u);
  EXPECT_EQ(q.pop_back(), item(5));
  EXPECT_EQ(q.pop_back(), item(4));
  TaskBase* got[4];
  ASSERT_EQ(q.take(got, 4, /*half=*/true), 2u);  // half of 4
  EXPECT_EQ(got[0], item(0));
  EXPECT_EQ(got[1], item(1));
  ASSERT_TRUE(q.push(item(6)));
  EXPECT_EQ(q.pop_back(), item(6));
  EXPECT_EQ(q.pop_back(), item(3));
  ASSERT_EQ(q.take(got, 4, /*half=*/false), 1u);
  EXPECT_EQ(got[0], item(2));
  EXPECT_EQ(q.pop_back(), nullptr);
  EXPECT_EQ(q.take(got, 4, false), 0u);
  EXPECT_TRUE(q.empty());
}

TEST(StealableQueueTest, PopBackIfTakesTheNewestOnlyWhenItIsTheOneAskedFor) {
  StealableQueue q;
  EXPECT_FALSE(q.pop_back_if(item(0)));  // empty
  for (uintptr_t i = 0; i < 3; ++i) ASSERT_TRUE(q.push(item(i)));
  EXPECT_FALSE(q.pop_back_if(item(1)));  // queued, but not the newest
  EXPECT_EQ(q.size(), 3u);
  EXPECT_TRUE(q.pop_back_if(item(2)));
  EXPECT_TRUE(q.pop_back_if(item(1)));
  EXPECT_EQ(q.size(), 1u);
  TaskBase* got[2];
  ASSERT_EQ(q.take(got, 2, /*half=*/false), 1u);
  EXPECT_EQ(got[0], item(0));
}

TEST(StealableQueueTest, APushToAFullQueueFailsAndKeepsWhatItHolds) {
  StealableQueue q;
  for (uintptr_t i = 0; i < StealableQueue::kCapacity; ++i) ASSERT_TRUE(q.push(item(i)));
  EXPECT_FALSE(q.push(item(999)));
  EXPECT_EQ(q.size(), StealableQueue::kCapacity);
  EXPECT_EQ(q.pop_back(), item(StealableQueue::kCapacity - 1));
  EXPECT_TRUE(q.push(item(1000)));
  EXPECT_EQ(q.pop_back(), item(1000));
}

TEST(StealableQueueTest, WrapsAroundTheRing) {
  StealableQueue q;
  TaskBase* got[1];
  for (uintptr_t i = 0; i < 5 * StealableQueue::kCapacity; ++i) {
    ASSERT_TRUE(q.push(item(i)));
    ASSERT_EQ(q.take(got, 1, false), 1u);
    EXPECT_EQ(got[0], item(i));
  }
}

// The owner pushes and pops at the back (pop_back, pop_back_if) while two thieves take
// halves from the front: every item is taken exactly once, by one side or the other. The
// race the generation guards against (a pop, then a push into the same slot, under a thief
// that read it) comes up constantly here: the owner pops back most of what it pushes.
TEST(StealableQueueTest, OwnerAndThievesTakeEachItemExactlyOnce) {
  StealableQueue q;
  std::vector<std::atomic<int>> taken(kItems);
  std::atomic<bool> done{false};
  auto thief = [&] {
    TaskBase* got[StealableQueue::kCapacity / 2];
    while (!done.load(std::memory_order_acquire) || !q.empty()) {
      size_t n = q.take(got, StealableQueue::kCapacity / 2, /*half=*/true);
      for (size_t i = 0; i < n; ++i) taken[index_of(got[i])].fetch_add(1);
    }
  };
  std::thread t1(thief), t2(thief);
  uintptr_t next = 0;
  while (next < kItems) {
    // Bursts of 3 pushes and 2 pops: the queue stays short and its back keeps moving.
    for (int k = 0; k < 3 && next < kItems; ++k) {
      if (!q.push(item(next))) break;
      ++next;
    }
    for (int k = 0; k < 2; ++k) {
      if (TaskBase* t = q.pop_back()) taken[index_of(t)].fetch_add(1);
    }
    // And the fork-join case: the newest, if it is still the last one pushed.
    if (next > 0 && q.pop_back_if(item(next - 1))) taken[next - 1].fetch_add(1);
  }
  done.store(true, std::memory_order_release);
  t1.join();
  t2.join();
  while (TaskBase* t = q.pop_back()) taken[index_of(t)].fetch_add(1);
  for (uint32_t i = 0; i < kItems; ++i) ASSERT_EQ(taken[i].load(), 1) << "item " << i;
}

}  // namespace
}  // namespace weft::internal
