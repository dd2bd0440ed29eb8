#include "sync/event.h"

#include <gtest/gtest.h>

#include <vector>

#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "tests/sync/sync_test_util.h"

namespace weft {
namespace {

using sync_test::ended_cancelled;
using sync_test::kScale;
using sync_test::LoopHold;
using sync_test::run_on;
using sync_test::settle;
using sync_test::yield_once;

Coro<void> wait_and_record(Event& e, std::vector<int>& order, int id) {
  co_await e.wait();
  order.push_back(id);
}

TEST(EventTest, SetClearIsSet) {
  Event e;
  EXPECT_FALSE(e.is_set());
  e.set();
  EXPECT_TRUE(e.is_set());
  e.set();  // idempotent
  EXPECT_TRUE(e.is_set());
  e.clear();
  EXPECT_FALSE(e.is_set());
}

TEST(EventTest, WaitOnASetEventReturnsAtOnce) {
  Event e;
  e.set();
  run([](Event& e) -> Coro<void> {
    co_await e.wait();
    co_await e.wait();
  }(e));
}

TEST(EventTest, SetWakesEveryWaiterInOrder) {
  Event e;
  std::vector<int> order;
  run([](Event& e, std::vector<int>& order) -> Coro<void> {
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 4; ++i) tasks.push_back(create_task(wait_and_record(e, order, i)));
    co_await yield_once();
    EXPECT_TRUE(order.empty());
    e.set();
    e.clear();  // the tasks woken by set() still return (asyncio)
    for (auto& t : tasks) co_await t;
    EXPECT_FALSE(e.is_set());
  }(e, order));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(EventTest, ClearMakesLaterWaitsWait) {
  Event e;
  std::vector<int> order;
  run([](Event& e, std::vector<int>& order) -> Coro<void> {
    e.set();
    e.clear();
    Task<void> t = create_task(wait_and_record(e, order, 1));
    co_await yield_once();
    EXPECT_FALSE(t.done());
    e.set();
    co_await t;
  }(e, order));
  EXPECT_EQ(order, (std::vector<int>{1}));
}

TEST(EventTest, CancelWhileWaiting) {
  Event e;
  std::vector<int> order;
  run([](Event& e, std::vector<int>& order) -> Coro<void> {
    Task<void> a = create_task(wait_and_record(e, order, 1));
    Task<void> b = create_task(wait_and_record(e, order, 2));
    co_await yield_once();
    a.cancel();
    EXPECT_THROW(co_await a, CancelledError);
    e.set();
    co_await b;
  }(e, order));
  EXPECT_EQ(order, (std::vector<int>{2}));
}

TEST(EventTest, SetThenCancelledRaisesAndTheEventStaysSet) {
  Event e;
  std::vector<int> order;
  run([](Event& e, std::vector<int>& order) -> Coro<void> {
    Task<void> a = create_task(wait_and_record(e, order, 1));
    co_await yield_once();
    e.set();
    a.cancel();
    EXPECT_THROW(co_await a, CancelledError);
    EXPECT_TRUE(e.is_set());
  }(e, order));
  EXPECT_TRUE(order.empty());
}

struct Shared {
  Event event;
  std::vector<int> order;
  Task<void> waiter;
};

Coro<void> start_waiter(Shared& s) {
  s.waiter = create_task(wait_and_record(s.event, s.order, 7));
  co_return;
}

TEST(EventTest, SetFromAnotherThreadWakesTheWaiter) {
  Runtime rt({.threads = 2});
  Shared s;
  run_on(rt.loop(1), start_waiter(s));
  settle(rt.loop(1));
  s.event.set();
  EXPECT_FALSE(run_on(rt.loop(1), ended_cancelled(s.waiter)));
  EXPECT_EQ(s.order, (std::vector<int>{7}));
}

TEST(EventTest, SetThenCancelledAcrossLoops) {
  Runtime rt({.threads = 2});
  Shared s;
  run_on(rt.loop(1), start_waiter(s));
  settle(rt.loop(1));
  {
    LoopHold hold(rt.loop(1), [&] { s.waiter.cancel(); });
    s.event.set();
  }
  EXPECT_TRUE(run_on(rt.loop(1), ended_cancelled(s.waiter)));
  EXPECT_TRUE(s.order.empty());
  EXPECT_TRUE(s.event.is_set());
}

// Rounds of set/clear between loops: a task on loop 0 waits for `ping` set from loop 1 and
// answers on `pong`, many times; every round completes (no lost wake-up).
Coro<void> pinger(Event& ping, Event& pong, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    co_await ping.wait();
    ping.clear();
    pong.set();
  }
}

Coro<void> ponger(Event& ping, Event& pong, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    pong.clear();
    ping.set();
    co_await pong.wait();
  }
}

TEST(EventTest, PingPongAcrossLoops) {
  const int kRounds = 5000 / kScale;
  Runtime rt({.threads = 2});
  Event ping, pong;
  auto a = run_coroutine_threadsafe(pinger(ping, pong, kRounds), rt.loop(0));
  auto b = run_coroutine_threadsafe(ponger(ping, pong, kRounds), rt.loop(1));
  a.get();
  b.get();
  EXPECT_TRUE(pong.is_set());
}

}  // namespace
}  // namespace weft
