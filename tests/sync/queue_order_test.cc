#include "sync/internal/queue_order.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace weft::internal {
namespace {

TEST(RingBufferTest, KeepsOrderAcrossWrapAroundAndGrowth) {
  RingBuffer<int> ring;
  int next_in = 0, next_out = 0;
  // Push and pop at different rates so that head moves around the ring while it grows.
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 7; ++i) ring.push_back(next_in++);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(ring.pop_front(), next_out++);
  }
  while (!ring.empty()) EXPECT_EQ(ring.pop_front(), next_out++);
  EXPECT_EQ(next_out, next_in);
}

TEST(RingBufferTest, PushFrontAndPopBack) {
  RingBuffer<std::string> ring;
  ring.push_back("b");
  ring.push_front("a");
  ring.push_back("c");
  EXPECT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring.pop_back(), "c");
  EXPECT_EQ(ring.pop_front(), "a");
  EXPECT_EQ(ring.pop_front(), "b");
  EXPECT_TRUE(ring.empty());
}

TEST(RingBufferTest, DestroysWhatItHolds) {
  auto counter = std::make_shared<int>(0);
  {
    RingBuffer<std::shared_ptr<int>> ring;
    for (int i = 0; i < 40; ++i) ring.push_back(std::shared_ptr<int>(counter));
    for (int i = 0; i < 10; ++i) ring.pop_front();
    EXPECT_EQ(counter.use_count(), 31);
  }
  EXPECT_EQ(counter.use_count(), 1);
}

TEST(QueueOrderTest, FifoUnpopIsNext) {
  FifoOrder<int> order;
  for (int i = 1; i <= 3; ++i) order.push(int{i});
  int first = order.pop();
  order.unpop(std::move(first));
  EXPECT_EQ(order.pop(), 1);
  EXPECT_EQ(order.pop(), 2);
}

TEST(QueueOrderTest, LifoUnpopIsNext) {
  LifoOrder<int> order;
  for (int i = 1; i <= 3; ++i) order.push(int{i});
  int top = order.pop();
  EXPECT_EQ(top, 3);
  order.unpop(std::move(top));
  EXPECT_EQ(order.pop(), 3);
  EXPECT_EQ(order.pop(), 2);
}

TEST(QueueOrderTest, PriorityLowestFirstAndUnpop) {
  PriorityOrder<int> order;
  for (int v : {5, 1, 4, 2, 3}) order.push(int{v});
  int low = order.pop();
  EXPECT_EQ(low, 1);
  order.unpop(std::move(low));
  for (int want = 1; want <= 5; ++want) EXPECT_EQ(order.pop(), want);
}

TEST(QueueOrderTest, PriorityWithCustomLessAndMoveOnly) {
  struct ByValueDesc {
    bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const {
      return *a > *b;
    }
  };
  PriorityOrder<std::unique_ptr<int>, ByValueDesc> order;
  for (int v : {2, 9, 4}) order.push(std::make_unique<int>(v));
  EXPECT_EQ(*order.pop(), 9);
  EXPECT_EQ(*order.pop(), 4);
  EXPECT_EQ(*order.pop(), 2);
}

}  // namespace
}  // namespace weft::internal
