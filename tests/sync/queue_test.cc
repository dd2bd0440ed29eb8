#include "sync/queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "tests/sync/queue_test_util.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using sync_test::create_task_on;
using sync_test::kSanitizerSlowdown;
using sync_test::outcome;

// Coroutine lambdas must not capture (the closure dies before the coroutine runs): these
// helpers take the queue as a parameter.
template <class Q>
Coro<typename Q::value_type> get_one(Q& q) {
  co_return co_await q.get();
}

template <class Q>
Coro<void> put_one(Q& q, typename Q::value_type item) {
  co_await q.put(std::move(item));
}

template <class Q>
Coro<void> join_queue(Q& q) {
  co_await q.join();
}

// Lets every task that is ready run until it blocks (each turn is one step of the loop).
Coro<void> let_others_run(int turns = 3) {
  for (int i = 0; i < turns; ++i) co_await sleep(0s);
}

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
  EXPECT_THROW(q.task_done(), ValueError);
  q.put_nowait(1);
  q.get_nowait();
  q.task_done();
  try {
    q.task_done();
    FAIL() << "a second task_done for one item must raise";
  } catch (const ValueError& e) {
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
  EXPECT_THROW(q.task_done(), ValueError);
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
  EXPECT_THROW(q.task_done(), ValueError);
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

// --- Waiting on one loop. ---

TEST(QueueWaitTest, GetWaitsForAPut) {
  auto main = []() -> Coro<int> {
    Queue<int> q;
    Task<int> getter = create_task(get_one(q));
    co_await let_others_run();
    EXPECT_FALSE(getter.done());
    co_await q.put(7);
    co_return co_await getter;
  };
  EXPECT_EQ(run(main()), 7);
}

// Cancels its own task, then puts and gets without needing to wait: neither suspends, so
// neither raises the pending CancelledError (asyncio does not yield there either); the next
// real suspension does.
Coro<void> put_get_while_cancelled(Queue<int>& q, Task<void>* const* self, int* steps) {
  (*self)->cancel();
  co_await q.put(1);
  ++*steps;
  EXPECT_EQ(co_await q.get(), 1);
  ++*steps;
  co_await sleep(0s);
  ++*steps;  // never reached
}

TEST(QueueWaitTest, GetAndPutDoNotSuspendWhenTheyNeedNot) {
  auto main = []() -> Coro<void> {
    Queue<int> q(1);
    int steps = 0;
    Task<void>* self = nullptr;
    Task<void> t = create_task(put_get_while_cancelled(q, &self, &steps));
    self = &t;
    EXPECT_EQ(co_await outcome(t), "cancelled");
    EXPECT_EQ(steps, 2);
  };
  run(main());
}

TEST(QueueWaitTest, PutWaitsWhileFull) {
  auto main = []() -> Coro<void> {
    Queue<int> q(1);
    co_await q.put(1);
    Task<void> putter = create_task(put_one(q, 2));
    co_await let_others_run();
    EXPECT_FALSE(putter.done());
    EXPECT_TRUE(q.full());
    EXPECT_THROW(q.put_nowait(3), QueueFull);
    EXPECT_EQ(co_await q.get(), 1);
    // The slot is now promised to the waiting putter: still full for anyone else.
    EXPECT_TRUE(q.full());
    co_await putter;
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_EQ(co_await q.get(), 2);
  };
  run(main());
}

TEST(QueueWaitTest, GettersAreServedInArrivalOrder) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    std::vector<Task<int>> getters;
    for (int i = 0; i < 4; ++i) {
      getters.push_back(create_task(get_one(q)));
      co_await let_others_run(1);  // each one waits before the next arrives
    }
    for (int i = 0; i < 4; ++i) q.put_nowait(i);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(co_await getters[i], i);
  };
  run(main());
}

TEST(QueueWaitTest, PuttersAreServedInArrivalOrder) {
  auto main = []() -> Coro<void> {
    Queue<int> q(1);
    q.put_nowait(0);
    std::vector<Task<void>> putters;
    for (int i = 1; i <= 4; ++i) {
      putters.push_back(create_task(put_one(q, i)));
      co_await let_others_run(1);
    }
    for (int i = 0; i <= 4; ++i) EXPECT_EQ(co_await q.get(), i);
    for (auto& p : putters) co_await p;
  };
  run(main());
}

TEST(QueueWaitTest, PutHandsTheItemToAWaitingGetter) {
  auto main = []() -> Coro<void> {
    Queue<std::unique_ptr<int>> q(1);
    Task<std::unique_ptr<int>> getter = create_task(get_one(q));
    co_await let_others_run();
    q.put_nowait(std::make_unique<int>(5));
    // Handed over: the storage stays empty and has room.
    EXPECT_EQ(q.qsize(), 0u);
    EXPECT_FALSE(q.full());
    std::unique_ptr<int> got = co_await std::move(getter);
    EXPECT_EQ(*got, 5);
  };
  run(main());
}

TEST(QueueWaitTest, PriorityAndLifoQueuesWait) {
  auto main = []() -> Coro<void> {
    PriorityQueue<int> pq(2);
    Task<int> pget = create_task(get_one(pq));
    co_await let_others_run();
    co_await pq.put(9);
    EXPECT_EQ(co_await pget, 9);
    co_await pq.put(5);
    co_await pq.put(3);
    Task<void> pput = create_task(put_one(pq, 4));
    co_await let_others_run();
    EXPECT_EQ(co_await pq.get(), 3);
    co_await pput;
    EXPECT_EQ(co_await pq.get(), 4);
    EXPECT_EQ(co_await pq.get(), 5);

    LifoQueue<int> lq(2);
    co_await lq.put(1);
    co_await lq.put(2);
    Task<void> lput = create_task(put_one(lq, 3));
    co_await let_others_run();
    EXPECT_EQ(co_await lq.get(), 2);
    co_await lput;
    EXPECT_EQ(co_await lq.get(), 3);
    EXPECT_EQ(co_await lq.get(), 1);
  };
  run(main());
}

TEST(QueueWaitTest, JoinWaitsForEveryTaskDone) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    co_await q.join();  // nothing put: returns at once
    q.put_nowait(1);
    q.put_nowait(2);
    Task<void> joiner = create_task(join_queue(q));
    Task<void> joiner2 = create_task(join_queue(q));
    co_await let_others_run();
    q.get_nowait();
    q.get_nowait();
    q.task_done();
    co_await let_others_run();
    EXPECT_FALSE(joiner.done());
    q.task_done();
    co_await joiner;
    co_await joiner2;
  };
  run(main());
}

// A loop closed by hand destroys the frames of its pending tasks: their waits leave the
// queue, which must not hand anything to them afterwards.
TEST(QueueWaitTest, WaitersOfADestroyedFrameLeaveTheQueue) {
  Queue<int> q;
  Queue<int> full(1);
  full.put_nowait(0);
  {
    EventLoop loop;
    int reports = 0;
    loop.set_exception_handler([&](EventLoop&, const ExceptionContext&) { ++reports; });
    Task<int> getter = loop.create_task(get_one(q));
    Task<void> putter = loop.create_task(put_one(full, 1));
    loop.run_until_complete(let_others_run());
    loop.close();
    EXPECT_EQ(reports, 2);  // "Task was destroyed but it is pending!"
  }
  q.put_nowait(1);
  EXPECT_EQ(q.qsize(), 1u);  // stored, not handed to the dead getter
  EXPECT_EQ(full.get_nowait(), 0);
  EXPECT_FALSE(full.full());  // no slot reserved for the dead putter
  EXPECT_TRUE(full.empty());
}

// --- Cancellation, driven deterministically on one loop. ---

TEST(QueueCancelTest, CancelledWaitingGetterTakesNothing) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    Task<int> first = create_task(get_one(q));
    Task<int> second = create_task(get_one(q));
    co_await let_others_run();
    first.cancel("stop");
    EXPECT_EQ(co_await outcome(first), "cancelled");
    q.put_nowait(1);
    EXPECT_EQ(co_await second, 1);
    EXPECT_TRUE(q.empty());
  };
  run(main());
}

TEST(QueueCancelTest, GetterCancelledWhenGrantedPutsTheItemBackInFront) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    Task<int> getter = create_task(get_one(q));
    co_await let_others_run();
    q.put_nowait(1);  // handed to the getter, which is now scheduled to resume...
    getter.cancel();  // ...but is cancelled before it runs
    q.put_nowait(2);
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_EQ(co_await outcome(getter), "cancelled");
    // 1 is back, in front of 2.
    EXPECT_EQ(q.qsize(), 2u);
    EXPECT_EQ(q.get_nowait(), 1);
    EXPECT_EQ(q.get_nowait(), 2);
  };
  run(main());
}

TEST(QueueCancelTest, GrantedGetterCancelledPassesTheItemToTheNextGetter) {
  auto main = []() -> Coro<void> {
    Queue<std::unique_ptr<int>> q;
    Task<std::unique_ptr<int>> first = create_task(get_one(q));
    Task<std::unique_ptr<int>> second = create_task(get_one(q));
    co_await let_others_run();
    q.put_nowait(std::make_unique<int>(1));  // to `first`
    first.cancel();
    EXPECT_EQ(co_await outcome(first), "cancelled");
    std::unique_ptr<int> got = co_await std::move(second);
    EXPECT_EQ(*got, 1);
    EXPECT_TRUE(q.empty());
  };
  run(main());
}

TEST(QueueCancelTest, LifoGetterCancelledWhenGrantedPutsTheItemBackOnTop) {
  auto main = []() -> Coro<void> {
    LifoQueue<int> q;
    Task<int> getter = create_task(get_one(q));
    co_await let_others_run();
    q.put_nowait(1);
    getter.cancel();
    q.put_nowait(2);
    EXPECT_EQ(co_await outcome(getter), "cancelled");
    EXPECT_EQ(q.get_nowait(), 1);  // the item given back is the next one out
    EXPECT_EQ(q.get_nowait(), 2);
  };
  run(main());
}

TEST(QueueCancelTest, CancelledWaitingPutterPutsNothing) {
  auto main = []() -> Coro<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    Task<void> putter = create_task(put_one(q, 2));
    co_await let_others_run();
    putter.cancel();
    EXPECT_EQ(co_await outcome(putter), "cancelled");
    EXPECT_EQ(q.get_nowait(), 1);
    EXPECT_TRUE(q.empty());
    EXPECT_FALSE(q.full());
    q.task_done();
    EXPECT_THROW(q.task_done(), ValueError);  // 2 was never counted
  };
  run(main());
}

TEST(QueueCancelTest, PutterCancelledWhenGrantedPassesTheSlotOn) {
  auto main = []() -> Coro<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    Task<void> first = create_task(put_one(q, 2));
    Task<void> second = create_task(put_one(q, 3));
    co_await let_others_run();
    EXPECT_EQ(q.get_nowait(), 1);  // grants the slot to `first`, which is scheduled...
    first.cancel();                // ...and cancelled before it runs
    EXPECT_EQ(co_await outcome(first), "cancelled");
    co_await second;  // the slot went on to `second`
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_EQ(q.get_nowait(), 3);  // 2 was never put (asyncio: a cancelled put did not put)
    q.task_done();
    q.task_done();
    EXPECT_THROW(q.task_done(), ValueError);
  };
  run(main());
}

TEST(QueueCancelTest, CancelledJoinLeavesTheOthers) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    q.put_nowait(1);
    Task<void> a = create_task(join_queue(q));
    Task<void> b = create_task(join_queue(q));
    co_await let_others_run();
    a.cancel();
    EXPECT_EQ(co_await outcome(a), "cancelled");
    q.get_nowait();
    q.task_done();
    co_await b;
  };
  run(main());
}

// --- shutdown() with waiters (asyncio 3.13). ---

TEST(QueueShutdownTest, WakesWaitingGettersAndPutters) {
  auto main = []() -> Coro<void> {
    Queue<int> empty_q;
    Task<int> g1 = create_task(get_one(empty_q));
    Task<int> g2 = create_task(get_one(empty_q));
    Queue<int> full_q(1);
    full_q.put_nowait(1);
    Task<void> p1 = create_task(put_one(full_q, 2));
    co_await let_others_run();
    empty_q.shutdown();
    full_q.shutdown();
    EXPECT_EQ(co_await outcome(g1), "shutdown");
    EXPECT_EQ(co_await outcome(g2), "shutdown");
    EXPECT_EQ(co_await outcome(p1), "shutdown");
    // Gets drain what is left, then raise; puts raise.
    EXPECT_EQ(co_await full_q.get(), 1);
    Task<int> g3 = create_task(get_one(full_q));
    EXPECT_EQ(co_await outcome(g3), "shutdown");
    Task<void> p2 = create_task(put_one(full_q, 3));
    EXPECT_EQ(co_await outcome(p2), "shutdown");
  };
  run(main());
}

TEST(QueueShutdownTest, PutterGrantedASlotBeforeShutdownRaises) {
  auto main = []() -> Coro<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    Task<void> putter = create_task(put_one(q, 2));
    co_await let_others_run();
    EXPECT_EQ(q.get_nowait(), 1);  // slot granted to the putter
    q.shutdown();                  // before it resumes: its put raises, as in asyncio
    EXPECT_EQ(co_await outcome(putter), "shutdown");
    EXPECT_TRUE(q.empty());
  };
  run(main());
}

TEST(QueueShutdownTest, ImmediateReleasesJoin) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    for (int i = 0; i < 3; ++i) q.put_nowait(i);
    EXPECT_EQ(q.get_nowait(), 0);
    q.task_done();
    Task<void> joiner = create_task(join_queue(q));
    co_await let_others_run();
    EXPECT_FALSE(joiner.done());
    q.shutdown(/*immediate=*/true);
    co_await joiner;  // the two dropped items count as done
    EXPECT_TRUE(q.empty());
    EXPECT_THROW(q.get_nowait(), QueueShutDown);
  };
  run(main());
}

TEST(QueueShutdownTest, ImmediateDoesNotReleaseJoinWhileGotItemsAreUnfinished) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    q.put_nowait(1);
    q.put_nowait(2);
    q.get_nowait();  // got, not task_done
    Task<void> joiner = create_task(join_queue(q));
    co_await let_others_run();
    q.shutdown(true);
    co_await let_others_run();
    EXPECT_FALSE(joiner.done());
    q.task_done();
    co_await joiner;
  };
  run(main());
}

TEST(QueueShutdownTest, ItemHandedToAGetterBeforeImmediateShutdownIsItsToKeep) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    Task<int> getter = create_task(get_one(q));
    co_await let_others_run();
    q.put_nowait(1);
    q.shutdown(true);
    EXPECT_EQ(co_await getter, 1);
  };
  run(main());
}

TEST(QueueShutdownTest, ItemGivenBackAfterImmediateShutdownIsDroppedAndDone) {
  auto main = []() -> Coro<void> {
    Queue<std::shared_ptr<int>> q;
    auto counter = std::make_shared<int>(0);
    Task<std::shared_ptr<int>> getter = create_task(get_one(q));
    co_await let_others_run();
    q.put_nowait(counter);
    Task<void> joiner = create_task(join_queue(q));
    getter.cancel();
    q.shutdown(true);
    EXPECT_EQ(co_await outcome(getter), "cancelled");
    EXPECT_EQ(counter.use_count(), 1);  // dropped, not queued
    EXPECT_TRUE(q.empty());
    co_await joiner;  // and counted done
  };
  run(main());
}

// --- Across the loops of a Runtime. ---

TEST(QueueCrossLoopTest, GetterAndPutterOnDifferentLoops) {
  Runtime rt({.threads = 2});
  auto main = [](Runtime& rt) -> Coro<void> {
    Queue<int> q(2);
    Task<int> getter = co_await create_task_on(rt.loop(1), get_one(q));
    for (int i = 0; i < 3; ++i) co_await q.put(i);  // the third waits unless the getter took one
    EXPECT_EQ(co_await getter, 0);
    EXPECT_EQ(co_await q.get(), 1);
    EXPECT_EQ(co_await q.get(), 2);
  };
  rt.block_on(main(rt));
}

Coro<long> consume_n(Queue<long>& q, long n) {
  long sum = 0;
  for (long i = 0; i < n; ++i) {
    sum += co_await q.get();
    q.task_done();
  }
  co_return sum;
}

TEST(QueueCrossLoopTest, JoinOnOneLoopTaskDoneOnAnother) {
  Runtime rt({.threads = 2});
  auto main = [](Runtime& rt) -> Coro<long> {
    Queue<long> q(4);
    const long n = 2000;
    Task<long> consumer = co_await create_task_on(rt.loop(1), consume_n(q, n));
    for (long i = 1; i <= n; ++i) co_await q.put(i);
    co_await q.join();
    co_return co_await consumer;
  };
  EXPECT_EQ(rt.block_on(main(rt)), 2000L * 2001 / 2);
}

// A getter on loop 1 is handed an item from loop 0 and cancelled from loop 0 at once: the
// cancel and the wake race across threads. Whatever wins, the item is delivered exactly once:
// to the getter, or back in the queue.
TEST(QueueCrossLoopTest, GetterCancelledAroundTheGrantNeverLosesTheItem) {
  Runtime rt({.threads = 2});
  const int rounds = 2000 / static_cast<int>(kSanitizerSlowdown);
  auto main = [](Runtime& rt, int rounds) -> Coro<void> {
    Queue<int> q;
    int delivered = 0, given_back = 0;
    for (int i = 0; i < rounds; ++i) {
      Task<int> getter = co_await create_task_on(rt.loop(1), get_one(q));
      if (i % 2) co_await sleep(0s);  // vary who is ahead
      q.put_nowait(i);
      getter.cancel();
      if (co_await outcome(getter) == "ok") {
        EXPECT_EQ(getter.result(), i);
        ++delivered;
      } else {
        EXPECT_EQ(q.get_nowait(), i);
        ++given_back;
      }
      EXPECT_TRUE(q.empty());
    }
    EXPECT_EQ(delivered + given_back, rounds);
  };
  rt.block_on(main(rt, rounds));
}

// A putter on loop 1 waits on a full queue; loop 0 takes an item (granting it the slot) and
// cancels it at once. Either the put happened (the item is in the queue) or it raised
// CancelledError and did not put: never both, never the item twice.
TEST(QueueCrossLoopTest, PutterCancelledAroundTheGrantPutsAtMostOnce) {
  Runtime rt({.threads = 2});
  const int rounds = 2000 / static_cast<int>(kSanitizerSlowdown);
  auto main = [](Runtime& rt, int rounds) -> Coro<void> {
    Queue<int> q(1);
    for (int i = 0; i < rounds; ++i) {
      q.put_nowait(-1);
      Task<void> putter = co_await create_task_on(rt.loop(1), put_one(q, i));
      if (i % 2) co_await sleep(0s);
      EXPECT_EQ(q.get_nowait(), -1);
      q.task_done();
      putter.cancel();
      if (co_await outcome(putter) == "ok") {
        EXPECT_EQ(q.get_nowait(), i);
        q.task_done();
      }
      EXPECT_TRUE(q.empty());
      EXPECT_FALSE(q.full());
    }
    co_await q.join();  // nothing counted that was not put
  };
  rt.block_on(main(rt, rounds));
}

// The same two races in a forced order: loop 1 is held while the test's thread grants, and
// the cancel runs on loop 1 before the wake that is already in its inbox.
TEST(QueueCrossLoopTest, GetterGrantedFromAnotherThreadThenCancelledGivesTheItemBack) {
  Runtime rt({.threads = 2});
  Queue<int> q;
  Task<int> getter = sync_test::run_on(rt.loop(1), sync_test::create_task_here(get_one(q)));
  sync_test::settle(rt.loop(1));  // the getter waits
  {
    sync_test::LoopHold hold(rt.loop(1), [&] { getter.cancel(); });
    q.put_nowait(1);  // handed to the getter; its wake waits in loop 1's inbox
    q.put_nowait(2);
  }
  EXPECT_EQ(sync_test::run_on(rt.loop(0), outcome(getter)), "cancelled");
  EXPECT_EQ(q.get_nowait(), 1);  // back in front
  EXPECT_EQ(q.get_nowait(), 2);
}

TEST(QueueCrossLoopTest, PutterGrantedFromAnotherThreadThenCancelledPassesTheSlotOn) {
  Runtime rt({.threads = 2});
  Queue<int> q(1);
  q.put_nowait(0);
  Task<void> first = sync_test::run_on(rt.loop(1), sync_test::create_task_here(put_one(q, 1)));
  sync_test::settle(rt.loop(1));
  Task<void> second = sync_test::run_on(rt.loop(1), sync_test::create_task_here(put_one(q, 2)));
  sync_test::settle(rt.loop(1));  // both wait, in this order
  {
    sync_test::LoopHold hold(rt.loop(1), [&] { first.cancel(); });
    EXPECT_EQ(q.get_nowait(), 0);  // the slot goes to `first`, whose wake waits
  }
  EXPECT_EQ(sync_test::run_on(rt.loop(0), outcome(first)), "cancelled");
  EXPECT_EQ(sync_test::run_on(rt.loop(0), outcome(second)), "ok");
  EXPECT_EQ(q.get_nowait(), 2);  // 1 was never put
  EXPECT_TRUE(q.empty());
}

// Getters waiting on different loops are served in the order they started waiting.
TEST(QueueCrossLoopTest, GettersOnDifferentLoopsAreServedInArrivalOrder) {
  Runtime rt({.threads = 2});
  Queue<int> q;
  std::vector<Task<int>> getters;
  for (int i = 0; i < 4; ++i) {
    EventLoop& loop = rt.loop(i % 2);
    getters.push_back(sync_test::run_on(loop, sync_test::create_task_here(get_one(q))));
    sync_test::settle(loop);  // waiting before the next one starts
  }
  for (int i = 0; i < 4; ++i) q.put_nowait(i);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(sync_test::run_on(rt.loop(0), outcome(getters[i])), "ok");
    EXPECT_EQ(getters[i].result(), i);
  }
}

// put_nowait and shutdown from a plain thread wake tasks on the loops.
TEST(QueueCrossLoopTest, PlainThreadFeedsAndShutsDown) {
  Runtime rt({.threads = 2});
  Queue<long> q(2);
  Task<long> consumer = sync_test::run_on(
      rt.loop(1), sync_test::create_task_here(consume_n(q, 3)));
  sync_test::settle(rt.loop(1));  // the consumer waits for its first item
  std::thread feeder([&] {
    for (long i = 1; i <= 3; ++i) {
      while (true) {
        try {
          q.put_nowait(i);
          break;
        } catch (const QueueFull&) {
          std::this_thread::yield();
        }
      }
    }
  });
  feeder.join();
  EXPECT_EQ(sync_test::run_on(rt.loop(0), outcome(consumer)), "ok");
  EXPECT_EQ(consumer.result(), 6);
  Task<long> last = sync_test::run_on(rt.loop(1), sync_test::create_task_here(get_one(q)));
  sync_test::settle(rt.loop(1));
  std::thread([&] { q.shutdown(); }).join();
  EXPECT_EQ(sync_test::run_on(rt.loop(0), outcome(last)), "shutdown");
}

TEST(QueueCrossLoopTest, ShutdownWakesWaitersOnOtherLoops) {
  Runtime rt({.threads = 2});
  auto main = [](Runtime& rt) -> Coro<void> {
    Queue<int> q;
    Queue<int> full(1);
    full.put_nowait(0);
    Task<int> getter = co_await create_task_on(rt.loop(1), get_one(q));
    Task<void> putter = co_await create_task_on(rt.loop(1), put_one(full, 1));
    q.shutdown();
    full.shutdown(true);
    EXPECT_EQ(co_await outcome(getter), "shutdown");
    EXPECT_EQ(co_await outcome(putter), "shutdown");
  };
  rt.block_on(main(rt));
}

}  // namespace
}  // namespace weft
