#include "sync/semaphore.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "sync/errors.h"
#include "tests/sync/sync_test_util.h"

namespace weft {
namespace {

using sync_test::ended_cancelled;
using sync_test::kScale;
using sync_test::LoopHold;
using sync_test::run_on;
using sync_test::settle;
using sync_test::yield_once;

TEST(SemaphoreTest, CountsPermits) {
  Semaphore sem(2);
  EXPECT_EQ(sem.value(), 2);
  EXPECT_FALSE(sem.locked());
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_TRUE(sem.locked());
  EXPECT_FALSE(sem.try_acquire());
  sem.release();
  EXPECT_EQ(sem.value(), 1);
  sem.release();
  sem.release();  // a plain Semaphore may go above its initial value (asyncio)
  EXPECT_EQ(sem.value(), 3);
}

TEST(SemaphoreTest, NegativeValueRaises) {
  EXPECT_THROW(Semaphore(-1), ValueError);
  EXPECT_THROW(BoundedSemaphore(-1), ValueError);
}

TEST(SemaphoreTest, BoundedSemaphoreRaisesWhenReleasedTooOften) {
  BoundedSemaphore sem(1);
  EXPECT_TRUE(sem.try_acquire());
  sem.release();
  try {
    sem.release();
    ADD_FAILURE() << "no ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("released too many times"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(sem.value(), 1);
}

Coro<void> acquire_only(Semaphore& sem);

TEST(SemaphoreTest, BoundedSemaphoreOfZeroNeverReleases) {
  BoundedSemaphore sem(0);
  EXPECT_THROW(sem.release(), ValueError);
  run([](BoundedSemaphore& sem) -> Coro<void> {
    Task<void> waiter = create_task(acquire_only(sem));
    co_await yield_once();
    EXPECT_THROW(sem.release(), ValueError);  // even with a task waiting
    waiter.cancel();
    EXPECT_THROW(co_await waiter, CancelledError);
  }(sem));
  EXPECT_EQ(sem.value(), 0);
}

Coro<void> acquire_and_record(Semaphore& sem, std::vector<int>& order, int id) {
  co_await sem.acquire();
  order.push_back(id);
}

TEST(SemaphoreTest, WaitersGetPermitsInFifoOrderAndNobodyOvertakes) {
  Semaphore sem(0);
  std::vector<int> order;
  run([](Semaphore& sem, std::vector<int>& order) -> Coro<void> {
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 4; ++i) tasks.push_back(create_task(acquire_and_record(sem, order, i)));
    co_await yield_once();
    sem.release();  // handed to task 0 directly: the counter stays 0
    EXPECT_EQ(sem.value(), 0);
    EXPECT_FALSE(sem.try_acquire());  // a newcomer does not overtake the waiters
    sem.release();
    sem.release();
    co_await yield_once();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
    sem.release();
    for (auto& t : tasks) co_await t;
    EXPECT_EQ(sem.value(), 0);
  }(sem, order));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

Coro<void> scoped_hold(Semaphore& sem, int& inside, int& max_inside) {
  SemaphoreGuard permit = co_await sem.scoped();
  ++inside;
  max_inside = std::max(max_inside, inside);
  co_await yield_once();
  --inside;
}

TEST(SemaphoreTest, ScopedGuardBoundsConcurrency) {
  Semaphore sem(3);
  int inside = 0, max_inside = 0;
  run([](Semaphore& sem, int& inside, int& max_inside) -> Coro<void> {
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 10; ++i) tasks.push_back(create_task(scoped_hold(sem, inside, max_inside)));
    for (auto& t : tasks) co_await t;
  }(sem, inside, max_inside));
  EXPECT_EQ(max_inside, 3);
  EXPECT_EQ(sem.value(), 3);
}

Coro<void> acquire_only(Semaphore& sem) { co_await sem.acquire(); }

TEST(SemaphoreTest, CancelWhileWaitingConsumesNothing) {
  Semaphore sem(0);
  run([](Semaphore& sem) -> Coro<void> {
    Task<void> a = create_task(acquire_only(sem));
    co_await yield_once();
    a.cancel();
    EXPECT_THROW(co_await a, CancelledError);
    sem.release();
    EXPECT_EQ(sem.value(), 1);
  }(sem));
}

TEST(SemaphoreTest, GrantedThenCancelledReturnsThePermit) {
  BoundedSemaphore sem(1);
  run([](BoundedSemaphore& sem) -> Coro<void> {
    co_await sem.acquire();
    Task<void> a = create_task(acquire_only(sem));
    Task<void> b = create_task(acquire_only(sem));
    co_await yield_once();
    sem.release();  // to a, which has not run
    a.cancel();     // a raises; the permit goes on to b
    EXPECT_THROW(co_await a, CancelledError);
    co_await b;
    EXPECT_EQ(sem.value(), 0);
    Task<void> c = create_task(acquire_only(sem));
    co_await yield_once();
    sem.release();  // to c
    c.cancel();     // nobody behind c: back to the counter (no ValueError: it was held)
    EXPECT_THROW(co_await c, CancelledError);
    EXPECT_EQ(sem.value(), 1);
  }(sem));
}

struct Shared {
  Semaphore sem{0};
  Task<void> waiter;
};

Coro<void> start_waiter(Shared& s) {
  s.waiter = create_task(acquire_only(s.sem));
  co_return;
}

TEST(SemaphoreTest, ReleaseFromAnotherThreadWakesTheWaiter) {
  Runtime rt({.threads = 2});
  Shared s;
  run_on(rt.loop(1), start_waiter(s));
  settle(rt.loop(1));
  s.sem.release();
  EXPECT_FALSE(run_on(rt.loop(1), ended_cancelled(s.waiter)));
  EXPECT_EQ(s.sem.value(), 0);
}

TEST(SemaphoreTest, GrantedThenCancelledAcrossLoops) {
  Runtime rt({.threads = 2});
  Shared s;
  run_on(rt.loop(1), start_waiter(s));
  settle(rt.loop(1));
  {
    LoopHold hold(rt.loop(1), [&] { s.waiter.cancel(); });
    s.sem.release();  // granted; the wake waits behind the hold, the cancel runs first
    EXPECT_EQ(s.sem.value(), 0);
  }
  EXPECT_TRUE(run_on(rt.loop(1), ended_cancelled(s.waiter)));
  EXPECT_EQ(s.sem.value(), 1);  // the permit came back
}

// Tasks on both loops share 2 permits, with cancellations: never more than 2 inside, and
// every permit is back at the end.
struct Stress {
  Semaphore sem{2};
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::vector<Task<void>> tasks0, tasks1;
};

Coro<void> use_permits(Stress& s, int n) {
  for (int i = 0; i < n; ++i) {
    SemaphoreGuard permit = co_await s.sem.scoped();
    int now = s.inside.fetch_add(1) + 1;
    struct Leave {
      std::atomic<int>& inside;
      ~Leave() { inside.fetch_sub(1); }  // also when cancelled while inside
    } leave{s.inside};
    int seen = s.max_inside.load();
    while (now > seen && !s.max_inside.compare_exchange_weak(seen, now)) {
    }
    if (i % 2 == 0) co_await yield_once();
  }
}

Coro<void> start_users(Stress& s, std::vector<Task<void>>& out, int tasks, int n) {
  for (int i = 0; i < tasks; ++i) out.push_back(create_task(use_permits(s, n)));
  co_return;
}

Coro<void> cancel_some(std::vector<Task<void>>& tasks) {
  for (size_t i = 0; i < tasks.size(); i += 2) {
    co_await yield_once();
    co_await yield_once();
    tasks[i].cancel();
  }
}

Coro<void> settle_all(std::vector<Task<void>>& tasks) {
  for (auto& t : tasks) {
    try {
      co_await t;
    } catch (const CancelledError&) {
    }
  }
}

TEST(SemaphoreTest, StressAcrossLoopsWithCancellations) {
  const int kTasks = 6, kRounds = 2000 / kScale;
  Runtime rt({.threads = 2});
  Stress s;
  run_on(rt.loop(0), start_users(s, s.tasks0, kTasks, kRounds));
  run_on(rt.loop(1), start_users(s, s.tasks1, kTasks, kRounds));
  auto c0 = run_coroutine_threadsafe(cancel_some(s.tasks0), rt.loop(0));
  auto c1 = run_coroutine_threadsafe(cancel_some(s.tasks1), rt.loop(1));
  c0.get();
  c1.get();
  run_on(rt.loop(0), settle_all(s.tasks0));
  run_on(rt.loop(1), settle_all(s.tasks1));
  EXPECT_LE(s.max_inside.load(), 2);
  EXPECT_EQ(s.inside.load(), 0);
  EXPECT_EQ(s.sem.value(), 2);
}

}  // namespace
}  // namespace weft
