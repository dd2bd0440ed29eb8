#include "sync/condition.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "tests/sync/sync_test_util.h"

namespace weft {
namespace {

using sync_test::error_of;
using sync_test::ended_cancelled;
using sync_test::kScale;
using sync_test::LoopHold;
using sync_test::run_on;
using sync_test::settle;
using sync_test::yield_once;

TEST(ConditionTest, NotifyWithoutTheLockRaises) {
  Condition cond;
  EXPECT_THROW(cond.notify(), RuntimeError);
  EXPECT_THROW(cond.notify_all(), RuntimeError);
  EXPECT_NE(error_of([&] { cond.notify(); }).find("not acquired"), std::string::npos);
}

TEST(ConditionTest, WaitWithoutTheLockRaises) {
  Condition cond;
  run([](Condition& cond) -> Coro<void> {
    EXPECT_THROW(co_await cond.wait(), RuntimeError);
    EXPECT_FALSE(cond.locked());
  }(cond));
}

TEST(ConditionTest, SharesAGivenLock) {
  Lock lock;
  Condition cond(lock);
  EXPECT_EQ(&cond.lock(), &lock);
  ASSERT_TRUE(lock.try_acquire());
  EXPECT_TRUE(cond.locked());
  cond.release();
  EXPECT_FALSE(lock.locked());
}

Coro<void> wait_and_record(Condition& cond, std::vector<int>& order, int id) {
  LockGuard guard = co_await cond.scoped();
  co_await cond.wait();
  EXPECT_TRUE(cond.locked());  // held again when wait() returns
  order.push_back(id);
}

TEST(ConditionTest, NotifyWakesTheOldestWaitersFirst) {
  Condition cond;
  std::vector<int> order;
  run([](Condition& cond, std::vector<int>& order) -> Coro<void> {
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 4; ++i) tasks.push_back(create_task(wait_and_record(cond, order, i)));
    co_await yield_once();
    EXPECT_FALSE(cond.locked());  // every waiter released it
    {
      LockGuard guard = co_await cond.scoped();
      cond.notify(2);
    }
    co_await tasks[0];
    co_await tasks[1];
    EXPECT_EQ(order, (std::vector<int>{0, 1}));
    EXPECT_FALSE(tasks[2].done());
    {
      LockGuard guard = co_await cond.scoped();
      cond.notify_all();
    }
    co_await tasks[2];
    co_await tasks[3];
  }(cond, order));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_FALSE(cond.locked());
}

Coro<int> wait_for_value(Condition& cond, int& value) {
  LockGuard guard = co_await cond.scoped();
  co_return co_await cond.wait_for([&value] { return value >= 3 ? value : 0; });
}

TEST(ConditionTest, WaitForChecksThePredicateAfterEveryWake) {
  Condition cond;
  int value = 0;
  int result = run([](Condition& cond, int& value) -> Coro<int> {
    Task<int> t = create_task(wait_for_value(cond, value));
    for (int i = 0; i < 5; ++i) {
      co_await yield_once();
      LockGuard guard = co_await cond.scoped();
      ++value;
      cond.notify();
    }
    co_return co_await t;
  }(cond, value));
  EXPECT_EQ(result, 3);
}

Coro<void> wait_expect_lock_held_on_cancel(Condition& cond, bool& held_when_raised) {
  LockGuard guard = co_await cond.scoped();
  try {
    co_await cond.wait();
  } catch (const CancelledError&) {
    held_when_raised = cond.locked();
    throw;
  }
}

TEST(ConditionTest, CancelledWaitReacquiresTheLockBeforeRaising) {
  Condition cond;
  bool held = false;
  run([](Condition& cond, bool& held) -> Coro<void> {
    Task<void> t = create_task(wait_expect_lock_held_on_cancel(cond, held));
    co_await yield_once();
    // Make the re-acquisition wait: the lock is held here while t is cancelled.
    co_await cond.acquire();
    t.cancel();
    co_await yield_once();
    EXPECT_FALSE(t.done());  // still waiting for the lock
    cond.release();
    EXPECT_THROW(co_await t, CancelledError);
  }(cond, held));
  EXPECT_TRUE(held);
  EXPECT_FALSE(cond.locked());
}

TEST(ConditionTest, NotifiedThenCancelledPassesTheNotificationOn) {
  Condition cond;
  std::vector<int> order;
  run([](Condition& cond, std::vector<int>& order) -> Coro<void> {
    Task<void> a = create_task(wait_and_record(cond, order, 1));
    Task<void> b = create_task(wait_and_record(cond, order, 2));
    co_await yield_once();
    {
      LockGuard guard = co_await cond.scoped();
      cond.notify(1);  // to a
      a.cancel();      // before a resumes: b gets the notification instead
    }
    EXPECT_THROW(co_await a, CancelledError);
    co_await b;
  }(cond, order));
  EXPECT_EQ(order, (std::vector<int>{2}));
  EXPECT_FALSE(cond.locked());
}

TEST(ConditionTest, CancelledWhileReacquiringPassesTheNotificationOn) {
  Condition cond;
  std::vector<int> order;
  run([](Condition& cond, std::vector<int>& order) -> Coro<void> {
    Task<void> a = create_task(wait_and_record(cond, order, 1));
    Task<void> b = create_task(wait_and_record(cond, order, 2));
    co_await yield_once();
    co_await cond.acquire();
    cond.notify(1);     // a is notified and goes on to wait for the lock we hold
    co_await yield_once();
    a.cancel();         // a was notified but cannot act: b must be notified instead
    co_await yield_once();
    cond.release();
    EXPECT_THROW(co_await a, CancelledError);
    co_await b;
  }(cond, order));
  EXPECT_EQ(order, (std::vector<int>{2}));
}

Coro<void> wait_forever(Condition& cond) {
  LockGuard guard = co_await cond.scoped();
  co_await cond.wait();
}

TEST(ConditionTest, FrameDestroyedWhileWaitingLeavesTheQueue) {
  Condition cond;
  {
    EventLoop loop;
    loop.set_exception_handler([](EventLoop&, const ExceptionContext&) {});
    Task<void> t = loop.create_task(wait_forever(cond));
    loop.run_until_complete(yield_once());
    EXPECT_FALSE(cond.locked());  // released by the waiting task
    loop.close();                 // abandons it while it waits for a notification
  }
  ASSERT_TRUE(cond.try_acquire());
  cond.notify_all();  // nobody left to notify
  cond.release();
  EXPECT_FALSE(cond.locked());
}

// --- Across loops. ---

struct Shared {
  Condition cond;
  std::vector<int> order;
  Task<void> waiter;
};

Coro<void> start_waiter(Shared& s) {
  s.waiter = create_task(wait_and_record(s.cond, s.order, 9));
  co_return;
}

TEST(ConditionTest, NotifyFromAnotherThreadWakesTheWaiter) {
  Runtime rt({.threads = 2});
  Shared s;
  run_on(rt.loop(1), start_waiter(s));
  settle(rt.loop(1));
  ASSERT_TRUE(s.cond.try_acquire());  // this plain thread holds the lock
  s.cond.notify();
  s.cond.release();  // handed over to the waiter if it already waits for it
  EXPECT_FALSE(run_on(rt.loop(1), ended_cancelled(s.waiter)));
  EXPECT_EQ(s.order, (std::vector<int>{9}));
  EXPECT_FALSE(s.cond.locked());
}

Coro<void> wait_for_nothing(Condition& cond) {
  LockGuard guard = co_await cond.scoped();
  co_await cond.wait();
}

TEST(ConditionTest, NotifiedThenCancelledAcrossLoops) {
  Runtime rt({.threads = 2});
  Shared s;
  run_on(rt.loop(1), start_waiter(s));
  settle(rt.loop(1));
  // A second waiter, on loop 0, queued behind the first.
  auto second = run_coroutine_threadsafe(wait_for_nothing(s.cond), rt.loop(0));
  settle(rt.loop(0));
  {
    LoopHold hold(rt.loop(1), [&] { s.waiter.cancel(); });
    ASSERT_TRUE(s.cond.try_acquire());
    s.cond.notify(1);  // to the loop-1 waiter, whose wake waits behind the hold
    s.cond.release();
  }
  EXPECT_TRUE(run_on(rt.loop(1), ended_cancelled(s.waiter)));
  second.get();  // woken by the notification passed on
  EXPECT_TRUE(s.order.empty());
  EXPECT_FALSE(s.cond.locked());
}

// Producer/consumer across loops through a deque guarded by the Condition: every item
// arrives once, in order.
Coro<void> produce(Condition& cond, std::deque<int>& items, int n) {
  for (int i = 0; i < n; ++i) {
    LockGuard guard = co_await cond.scoped();
    items.push_back(i);
    cond.notify();
  }
}

Coro<std::vector<int>> consume(Condition& cond, std::deque<int>& items, int n) {
  std::vector<int> got;
  while (static_cast<int>(got.size()) < n) {
    LockGuard guard = co_await cond.scoped();
    co_await cond.wait_for([&items] { return !items.empty(); });
    while (!items.empty()) {
      got.push_back(items.front());
      items.pop_front();
    }
  }
  co_return got;
}

TEST(ConditionTest, ProducerConsumerAcrossLoops) {
  const int kItems = 20000 / kScale;
  Runtime rt({.threads = 2});
  Condition cond;
  std::deque<int> items;
  auto consumer = run_coroutine_threadsafe(consume(cond, items, kItems), rt.loop(1));
  auto producer = run_coroutine_threadsafe(produce(cond, items, kItems), rt.loop(0));
  producer.get();
  std::vector<int> got = consumer.get();
  ASSERT_EQ(static_cast<int>(got.size()), kItems);
  for (int i = 0; i < kItems; ++i) ASSERT_EQ(got[i], i);
}

}  // namespace
}  // namespace weft
