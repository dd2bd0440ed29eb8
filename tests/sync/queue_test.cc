#include "sync/queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

namespace weft {
namespace {

// --- What never waits: storage, the *_nowait forms, task_done, shutdown. ---

TEST(QueueNowaitTest, FifoOrder) {
  Queue<int> q;
  for (int i = 0; i < 5; ++i) q.put_nowait(i);
  EXPECT_EQ(q.qsize(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(q.get_nowait(), i);
  EXPECT_TRUE(q.empty());
}

TEST(QueueNowaitTest, LifoOrder) {
  LifoQueue<int> q;
  for (int i = 0; i < 5; ++i) q.put_nowait(i);
  for (int i = 4; i >= 0; --i) EXPECT_EQ(q.get_nowait(), i);
}

TEST(QueueNowaitTest, PriorityOrderLowestFirst) {
  PriorityQueue<std::pair<int, std::string>> q;
  q.put_nowait({3, "c"});
  q.put_nowait({1, "a"});
  q.put_nowait({2, "b"});
  EXPECT_EQ(q.get_nowait().second, "a");
  EXPECT_EQ(q.get_nowait().second, "b");
  EXPECT_EQ(q.get_nowait().second, "c");
}

TEST(QueueNowaitTest, PriorityWithCustomComparison) {
  PriorityQueue<int, std::greater<int>> q(0, std::greater<int>());
  for (int v : {1, 3, 2}) q.put_nowait(v);
  EXPECT_EQ(q.get_nowait(), 3);
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_EQ(q.get_nowait(), 1);
}

TEST(QueueNowaitTest, MoveOnlyItems) {
  Queue<std::unique_ptr<int>> q(2);
  q.put_nowait(std::make_unique<int>(1));
  q.put_nowait(std::make_unique<int>(2));
  EXPECT_EQ(*q.get_nowait(), 1);
  EXPECT_EQ(*q.get_nowait(), 2);
  LifoQueue<std::unique_ptr<int>> lifo;
  lifo.put_nowait(std::make_unique<int>(7));
  EXPECT_EQ(*lifo.get_nowait(), 7);
}

TEST(QueueNowaitTest, FullAndEmptyRaise) {
  Queue<int> q(2);
  EXPECT_EQ(q.maxsize(), 2u);
  EXPECT_FALSE(q.full());
  q.put_nowait(1);
  q.put_nowait(2);
  EXPECT_TRUE(q.full());
  try {
    q.put_nowait(3);
    FAIL() << "put_nowait on a full queue must raise";
  } catch (const QueueFull& e) {
    EXPECT_NE(std::string(e.what()).find("full (maxsize 2)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(q.qsize(), 2u);
  q.get_nowait();
  q.get_nowait();
  try {
    q.get_nowait();
    FAIL() << "get_nowait on an empty queue must raise";
  } catch (const QueueEmpty& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
}

TEST(QueueNowaitTest, ZeroMaxsizeIsUnbounded) {
  Queue<int> q;
  EXPECT_EQ(q.maxsize(), 0u);
  for (int i = 0; i < 10000; ++i) q.put_nowait(i);
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.qsize(), 10000u);
}

TEST(QueueNowaitTest, TaskDoneTooOftenRaises) {
  Queue<int> q;
  EXPECT_THROW(q.task_done(), InvalidStateError);
  q.put_nowait(1);
  q.get_nowait();
  q.task_done();
  try {
    q.task_done();
    FAIL() << "a second task_done for one item must raise";
  } catch (const InvalidStateError& e) {
    EXPECT_NE(std::string(e.what()).find("too many times"), std::string::npos) << e.what();
  }
}

TEST(QueueNowaitTest, ShutdownLetsGetsDrainThenRaises) {
  Queue<int> q;
  q.put_nowait(1);
  q.put_nowait(2);
  q.shutdown();
  EXPECT_THROW(q.put_nowait(3), QueueShutDown);
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_THROW(q.get_nowait(), QueueShutDown);
  // The two items are still unfinished: task_done works twice, then raises.
  q.task_done();
  q.task_done();
  EXPECT_THROW(q.task_done(), InvalidStateError);
}

TEST(QueueNowaitTest, ShutdownImmediateDropsItemsAndCountsThemDone) {
  auto counter = std::make_shared<int>(0);
  Queue<std::shared_ptr<int>> q;
  for (int i = 0; i < 3; ++i) q.put_nowait(counter);
  std::shared_ptr<int> taken = q.get_nowait();  // one item got but not task_done yet
  EXPECT_EQ(counter.use_count(), 4);
  q.shutdown(/*immediate=*/true);
  EXPECT_EQ(counter.use_count(), 2);  // the two queued ones were destroyed
  EXPECT_TRUE(q.empty());
  EXPECT_THROW(q.get_nowait(), QueueShutDown);
  q.task_done();  // the one that was got is still unfinished
  EXPECT_THROW(q.task_done(), InvalidStateError);
}

TEST(QueueNowaitTest, ShutdownIsIdempotent) {
  Queue<int> q;
  q.put_nowait(1);
  q.shutdown();
  q.shutdown();
  EXPECT_EQ(q.qsize(), 1u);
  q.shutdown(true);
  EXPECT_EQ(q.qsize(), 0u);
}

}  // namespace
}  // namespace weft
