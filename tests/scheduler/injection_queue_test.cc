// Tests for internal::InjectionQueue: FIFO order over single pushes and batches, the stub's
// round trips (emptied and refilled many times), and many pushers against many pullers with
// nothing lost, nothing handed out twice, and each pusher's order kept.
#include "scheduler/injection_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/sanitizers.h"

namespace weft::internal {

// A Runnable the queue can link (the queue only ever touches the link).
class TestItem final : public Runnable {
 public:
  TestItem() = default;
  void run() override {}
  void discard() override {}
  uint32_t producer = 0;
  uint32_t seq = 0;
};

namespace {

TEST(InjectionQueueTest, PullsInPushOrderAcrossSinglesAndBatches) {
  InjectionQueue q;
  std::vector<TestItem> items(10);
  std::vector<TestItem*> ptrs;
  for (auto& i : items) ptrs.push_back(&i);
  EXPECT_TRUE(q.empty());
  q.push(&ptrs[0], 1);
  q.push(&ptrs[1], 3);  // 1, 2, 3
  q.push(&ptrs[4], 1);
  q.push(&ptrs[5], 5);  // 5..9
  EXPECT_FALSE(q.empty());
  TestItem* got[16];
  ASSERT_EQ(q.pull(got, 2), 2u);
  EXPECT_EQ(got[0], &items[0]);
  EXPECT_EQ(got[1], &items[1]);
  ASSERT_EQ(q.pull(got, 16), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(got[i], &items[i + 2]);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pull(got, 16), 0u);
}

TEST(InjectionQueueTest, EmptiedAndRefilledManyTimes) {
  // Each time the last item goes out, the stub goes back in: the queue must stay a queue.
  InjectionQueue q;
  std::vector<TestItem> items(3);
  TestItem* got[4];
  for (int round = 0; round < 1000; ++round) {
    TestItem* a = &items[round % 3];
    q.push(&a, 1);
    if (round % 2 == 0) {
      TestItem* b = &items[(round + 1) % 3];
      q.push(&b, 1);
      ASSERT_EQ(q.pull(got, 1), 1u);
      EXPECT_EQ(got[0], a);
      ASSERT_EQ(q.pull(got, 4), 1u);
      EXPECT_EQ(got[0], b);
    } else {
      ASSERT_EQ(q.pull(got, 4), 1u);
      EXPECT_EQ(got[0], a);
    }
    ASSERT_TRUE(q.empty());
    ASSERT_EQ(q.pull(got, 4), 0u);
  }
}

TEST(InjectionQueueTest, ManyPushersManyPullersLoseNothing) {
  // 3 pushers (single items and batches) against 2 pullers; every item comes out exactly
  // once, and each pusher's items come out in the order it pushed them (FIFO per pusher,
  // whichever puller takes them: pullers take under one lock, in queue order).
  constexpr uint32_t kPushers = 3;
  constexpr uint32_t kPerPusher = 60000 / test_env::kSanitizerSlowdown;
  InjectionQueue q;
  std::vector<std::vector<TestItem>> items(kPushers, std::vector<TestItem>(kPerPusher));
  std::vector<std::atomic<uint32_t>> taken(kPushers * kPerPusher);
  std::atomic<uint32_t> pulled{0};
  // Per pusher, the highest sequence number pulled so far: each pull must be above it. The
  // check happens under a lock of our own so that two pullers' reports cannot interleave
  // out of the order in which the queue handed the items out.
  std::mutex order_mu;
  std::vector<int64_t> last_seen(kPushers, -1);
  std::atomic<bool> out_of_order{false};

  std::vector<std::thread> threads;
  for (uint32_t p = 0; p < kPushers; ++p) {
    threads.emplace_back([&, p] {
      std::vector<TestItem*> batch;
      uint32_t i = 0;
      while (i < kPerPusher) {
        uint32_t n = (i % 7 == 0) ? std::min<uint32_t>(129, kPerPusher - i) : 1;
        batch.clear();
        for (uint32_t k = 0; k < n; ++k, ++i) {
          TestItem* item = &items[p][i];
          item->producer = p;
          item->seq = i;
          batch.push_back(item);
        }
        q.push(batch.data(), batch.size());
      }
    });
  }
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([&] {
      TestItem* got[32];
      while (pulled.load(std::memory_order_relaxed) < kPushers * kPerPusher) {
        std::lock_guard<std::mutex> lock(order_mu);
        size_t n = q.pull(got, 32);
        for (size_t k = 0; k < n; ++k) {
          TestItem* it = got[k];
          if (static_cast<int64_t>(it->seq) <= last_seen[it->producer]) out_of_order = true;
          last_seen[it->producer] = it->seq;
          taken[it->producer * kPerPusher + it->seq].fetch_add(1);
        }
        pulled.fetch_add(static_cast<uint32_t>(n), std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(out_of_order);
  for (uint32_t i = 0; i < kPushers * kPerPusher; ++i) {
    ASSERT_EQ(taken[i].load(), 1u) << "item " << i;
  }
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace weft::internal
