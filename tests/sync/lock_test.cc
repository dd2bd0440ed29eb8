#include "sync/lock.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "sync/sync.h"
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

TEST(LockTest, AcquireReleaseAndTryAcquire) {
  Lock lock;
  EXPECT_FALSE(lock.locked());
  run([](Lock& lock) -> Coro<void> {
    co_await lock.acquire();
    EXPECT_TRUE(lock.locked());
    EXPECT_FALSE(lock.try_acquire());
    lock.release();
    EXPECT_FALSE(lock.locked());
    EXPECT_TRUE(lock.try_acquire());
    lock.release();
  }(lock));
  EXPECT_FALSE(lock.locked());
}

TEST(LockTest, ReleasingAnUnlockedLockRaises) {
  Lock lock;
  EXPECT_THROW(lock.release(), RuntimeError);
  EXPECT_NE(error_of([&] { lock.release(); }).find("not acquired"), std::string::npos);
  EXPECT_FALSE(lock.locked());
}

Coro<void> take_and_record(Lock& lock, std::vector<int>& order, int id) {
  co_await lock.acquire();
  order.push_back(id);
  co_await yield_once();  // hold it across a suspension
  lock.release();
}

TEST(LockTest, WaitersGetTheLockInFifoOrder) {
  Lock lock;
  std::vector<int> order;
  run([](Lock& lock, std::vector<int>& order) -> Coro<void> {
    co_await lock.acquire();
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 5; ++i) tasks.push_back(create_task(take_and_record(lock, order, i)));
    co_await yield_once();
    EXPECT_TRUE(order.empty());
    lock.release();  // handed to task 0, which never lets a newcomer in between
    EXPECT_TRUE(lock.locked());
    EXPECT_FALSE(lock.try_acquire());
    for (auto& t : tasks) co_await t;
  }(lock, order));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(lock.locked());
}

Coro<void> guarded_then_throw(Lock& lock) {
  LockGuard guard = co_await lock.scoped();
  EXPECT_TRUE(lock.locked());
  throw std::logic_error("boom");
}

Coro<void> guarded_sleep(Lock& lock, bool& entered) {
  LockGuard guard = co_await lock.scoped();
  entered = true;
  co_await sleep(std::chrono::hours(1));
}

TEST(LockTest, ScopedGuardReleasesOnEveryExitPath) {
  Lock lock;
  run([](Lock& lock) -> Coro<void> {
    {
      LockGuard guard = co_await lock.scoped();
      EXPECT_TRUE(guard.owns());
      EXPECT_TRUE(lock.locked());
    }
    EXPECT_FALSE(lock.locked());
    // An exception.
    EXPECT_THROW(co_await guarded_then_throw(lock), std::logic_error);
    EXPECT_FALSE(lock.locked());
    // A cancellation while holding it.
    bool entered = false;
    Task<void> t = create_task(guarded_sleep(lock, entered));
    co_await yield_once();
    EXPECT_TRUE(entered);
    EXPECT_TRUE(lock.locked());
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_FALSE(lock.locked());
    // An early release by hand; a second one raises.
    LockGuard guard = co_await lock.scoped();
    guard.release();
    EXPECT_FALSE(guard.owns());
    EXPECT_FALSE(lock.locked());
    EXPECT_THROW(guard.release(), RuntimeError);
    // Moving hands the duty over.
    LockGuard a = co_await lock.scoped();
    LockGuard b = std::move(a);
    EXPECT_FALSE(a.owns());
    EXPECT_TRUE(b.owns());
  }(lock));
  EXPECT_FALSE(lock.locked());
}

TEST(LockTest, DetachedGuardLeavesTheReleaseToTheCaller) {
  Lock lock;
  run([](Lock& lock) -> Coro<void> {
    {
      LockGuard guard = co_await lock.scoped();
      EXPECT_EQ(guard.detach(), &lock);
      EXPECT_FALSE(guard.owns());
    }
    EXPECT_TRUE(lock.locked());  // the guard let go without releasing
    lock.release();
  }(lock));
  EXPECT_FALSE(lock.locked());
}

TEST(LockTest, ScopedGuardWorksWithAsyncWith) {
  Lock lock;
  int seen = run([](Lock& lock) -> Coro<int> {
    int r = co_await async_with(lock.scoped(), [&lock](LockGuard& g) -> Coro<int> {
      EXPECT_TRUE(g.owns());
      co_return lock.locked() ? 1 : 0;
    });
    EXPECT_FALSE(lock.locked());
    co_return r;
  }(lock));
  EXPECT_EQ(seen, 1);
}

TEST(LockTest, GuardReleasedBehindItsBackIsReported) {
  Lock lock;
  std::vector<std::string> reports;
  run([](Lock& lock, std::vector<std::string>& reports) -> Coro<void> {
    EventLoop::current().set_exception_handler(
        [&reports](EventLoop&, const ExceptionContext& c) { reports.push_back(c.message); });
    {
      LockGuard guard = co_await lock.scoped();
      lock.release();  // misuse: the guard's destructor has nothing left to release
    }
    co_return;
  }(lock, reports));
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("guard could not release"), std::string::npos) << reports[0];
}

Coro<void> acquire_only(Lock& lock) { co_await lock.acquire(); }

TEST(LockTest, CancelWhileWaitingPassesOverTheWaiter) {
  Lock lock;
  run([](Lock& lock) -> Coro<void> {
    co_await lock.acquire();
    Task<void> a = create_task(acquire_only(lock));
    Task<void> b = create_task(acquire_only(lock));
    co_await yield_once();
    a.cancel();
    EXPECT_THROW(co_await a, CancelledError);
    lock.release();  // to b
    co_await b;
    EXPECT_TRUE(lock.locked());  // b holds it
    lock.release();
    EXPECT_FALSE(lock.locked());
  }(lock));
}

TEST(LockTest, AcquireWithATimeout) {
  using namespace std::chrono_literals;
  Lock lock;
  run([](Lock& lock) -> Coro<void> {
    co_await lock.acquire();
    // Held: the timed acquisition gives up and leaves the queue.
    EXPECT_THROW(co_await wait_for(lock.acquire(), 1ms), TimeoutError);
    EXPECT_THROW(static_cast<void>(co_await wait_for(lock.scoped(), 1ms)), TimeoutError);
    lock.release();
    EXPECT_FALSE(lock.locked());  // nobody left in the queue to hand it to
    // Free: the guard comes out of wait_for and releases at the end of the scope.
    {
      LockGuard guard = co_await wait_for(lock.scoped(), 1s);
      EXPECT_TRUE(guard.owns());
      EXPECT_TRUE(lock.locked());
    }
    EXPECT_FALSE(lock.locked());
  }(lock));
}

TEST(LockTest, EveryWaiterCancelledLeavesTheLockFree) {
  Lock lock;
  run([](Lock& lock) -> Coro<void> {
    co_await lock.acquire();
    Task<void> a = create_task(acquire_only(lock));
    co_await yield_once();
    a.cancel();
    EXPECT_THROW(co_await a, CancelledError);
    lock.release();
    EXPECT_FALSE(lock.locked());
    EXPECT_TRUE(lock.try_acquire());
    lock.release();
  }(lock));
}

TEST(LockTest, GrantedThenCancelledPassesTheLockOn) {
  Lock lock;
  run([](Lock& lock) -> Coro<void> {
    co_await lock.acquire();
    Task<void> a = create_task(acquire_only(lock));
    Task<void> b = create_task(acquire_only(lock));
    co_await yield_once();
    lock.release();  // granted to a, which has not run yet
    a.cancel();      // a raises; its awaiter passes the lock to b
    EXPECT_THROW(co_await a, CancelledError);
    co_await b;
    EXPECT_TRUE(lock.locked());
    lock.release();
    // Same race with nobody behind: the lock ends free.
    co_await lock.acquire();
    Task<void> c = create_task(acquire_only(lock));
    co_await yield_once();
    lock.release();
    c.cancel();
    EXPECT_THROW(co_await c, CancelledError);
    EXPECT_FALSE(lock.locked());
  }(lock));
}

// --- Across loops. ---

struct Shared {
  Lock lock;
  Task<void> waiter;
};

Coro<void> start_waiter(Shared& s) {
  s.waiter = create_task(acquire_only(s.lock));
  co_return;
}

TEST(LockTest, ReleaseOnOneLoopWakesAWaiterOnAnother) {
  Runtime rt({.threads = 2});
  Shared s;
  ASSERT_TRUE(s.lock.try_acquire());  // held by this plain thread
  run_on(rt.loop(1), start_waiter(s));
  settle(rt.loop(1));  // the waiter has run its first step: it waits in the queue
  s.lock.release();    // from this thread: handed over, the wake crosses to loop 1
  EXPECT_FALSE(run_on(rt.loop(1), ended_cancelled(s.waiter)));
  EXPECT_TRUE(s.lock.locked());  // the waiter took it and did not release
  s.lock.release();
  EXPECT_FALSE(s.lock.locked());
}

TEST(LockTest, GrantedThenCancelledAcrossLoops) {
  Runtime rt({.threads = 2});
  Shared s;
  ASSERT_TRUE(s.lock.try_acquire());
  run_on(rt.loop(1), start_waiter(s));
  settle(rt.loop(1));
  {
    // Loop 1 is held; when let go, it cancels the waiter before processing the wake that
    // the release below queues: the grant was made, the cancellation comes after it.
    LoopHold hold(rt.loop(1), [&] { s.waiter.cancel(); });
    s.lock.release();
    EXPECT_TRUE(s.lock.locked());  // handed to the waiter, not free
  }
  EXPECT_TRUE(run_on(rt.loop(1), ended_cancelled(s.waiter)));
  EXPECT_FALSE(s.lock.locked());  // handed back: nobody else waited, so it is free
}

TEST(LockTest, CancelledThenReleasedAcrossLoops) {
  Runtime rt({.threads = 2});
  Shared s;
  ASSERT_TRUE(s.lock.try_acquire());
  run_on(rt.loop(1), start_waiter(s));
  settle(rt.loop(1));
  run_on(rt.loop(1), [](Shared& s) -> Coro<void> {
    s.waiter.cancel();  // leaves the queue at once
    co_return;
  }(s));
  s.lock.release();
  EXPECT_FALSE(s.lock.locked());
  EXPECT_TRUE(run_on(rt.loop(1), ended_cancelled(s.waiter)));
}

Coro<void> take_record_release(Lock& lock, std::vector<int>& order, int id) {
  co_await lock.acquire();
  order.push_back(id);  // under the lock
  lock.release();
}

TEST(LockTest, WaitersOnDifferentLoopsAreServedInArrivalOrder) {
  Runtime rt({.threads = 2});
  Lock lock;
  std::vector<int> order;
  ASSERT_TRUE(lock.try_acquire());
  std::vector<ConcurrentFuture<void>> fs;
  for (int id = 0; id < 6; ++id) {
    EventLoop& loop = rt.loop(id % 2 == 0 ? 1 : 0);
    fs.push_back(run_coroutine_threadsafe(take_record_release(lock, order, id), loop));
    settle(loop);  // queued before the next one starts
  }
  lock.release();
  for (auto& f : fs) f.get();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_FALSE(lock.locked());
}

// A plain counter incremented under the lock from tasks on every loop ends exact (and TSan
// sees every access ordered by the lock).
Coro<void> increment(Lock& lock, long& counter, int n) {
  for (int i = 0; i < n; ++i) {
    LockGuard guard = co_await lock.scoped();
    long v = counter;
    if (i % 7 == 0) co_await yield_once();  // hold the lock across a suspension now and then
    counter = v + 1;
  }
}

// Migratable tasks (weft::spawn) contending from whichever loop runs them.
Coro<void> spawn_incrementers(Lock& lock, long& counter, int tasks, int n) {
  std::vector<Task<void>> spawned;
  for (int i = 0; i < tasks; ++i) spawned.push_back(spawn(increment(lock, counter, n)));
  for (auto& t : spawned) co_await t;
}

TEST(LockTest, SpawnedTasksShareTheLock) {
  const int kTasks = 16, kIncrements = 500 / kScale;
  Runtime rt({.threads = 2});
  Lock lock;
  long counter = 0;
  rt.block_on(spawn_incrementers(lock, counter, kTasks, kIncrements));
  EXPECT_EQ(counter, long{kTasks} * kIncrements);
  EXPECT_FALSE(lock.locked());
}

Coro<void> start_incrementers(Lock& lock, long& counter, int tasks, int n,
                              std::vector<Task<void>>& out) {
  for (int i = 0; i < tasks; ++i) out.push_back(create_task(increment(lock, counter, n)));
  co_return;
}

Coro<void> await_all(std::vector<Task<void>>& tasks) {
  for (auto& t : tasks) co_await t;
}

TEST(LockTest, CounterFromEveryLoopEndsExact) {
  const int kTasks = 4, kIncrements = 5000 / kScale;
  Runtime rt({.threads = 2});
  Lock lock;
  long counter = 0;
  std::vector<Task<void>> on0, on1;
  auto f0 = run_coroutine_threadsafe(start_incrementers(lock, counter, kTasks, kIncrements, on0),
                                     rt.loop(0));
  auto f1 = run_coroutine_threadsafe(start_incrementers(lock, counter, kTasks, kIncrements, on1),
                                     rt.loop(1));
  f0.get();
  f1.get();
  run_on(rt.loop(0), await_all(on0));
  run_on(rt.loop(1), await_all(on1));
  EXPECT_EQ(counter, 2L * kTasks * kIncrements);
  EXPECT_FALSE(lock.locked());
}

// Bounded stress: tasks on both loops take the lock while a canceller on each loop cancels
// some of them at random points; whoever got the lock counts; at the end the lock is free,
// and the count matches the successes each task recorded.
struct StressTask {
  long successes = 0;
};

Coro<void> contend(Lock& lock, long& counter, StressTask& me, int n) {
  for (int i = 0; i < n; ++i) {
    // The guard: a cancellation may also land while the lock is held, at the yield.
    LockGuard guard = co_await lock.scoped();
    ++counter;
    ++me.successes;
    if (i % 3 == 0) co_await yield_once();
  }
}

Coro<void> start_contenders(Lock& lock, long& counter, std::vector<StressTask>& stats, int n,
                            std::vector<Task<void>>& out) {
  for (auto& st : stats) out.push_back(create_task(contend(lock, counter, st, n)));
  co_return;
}

Coro<void> cancel_every_other(std::vector<Task<void>>& tasks) {
  for (size_t i = 0; i < tasks.size(); i += 2) {
    for (int k = 0; k < 3; ++k) co_await yield_once();
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

TEST(LockTest, CancellationStressAcrossLoops) {
  const int kPerLoop = 6, kRounds = 2000 / kScale;
  Runtime rt({.threads = 2});
  Lock lock;
  long counter = 0;
  std::vector<StressTask> stats0(kPerLoop), stats1(kPerLoop);
  std::vector<Task<void>> on0, on1;
  run_on(rt.loop(0), start_contenders(lock, counter, stats0, kRounds, on0));
  run_on(rt.loop(1), start_contenders(lock, counter, stats1, kRounds, on1));
  auto c0 = run_coroutine_threadsafe(cancel_every_other(on0), rt.loop(0));
  auto c1 = run_coroutine_threadsafe(cancel_every_other(on1), rt.loop(1));
  c0.get();
  c1.get();
  run_on(rt.loop(0), settle_all(on0));
  run_on(rt.loop(1), settle_all(on1));
  long total = 0;
  for (auto& st : stats0) total += st.successes;
  for (auto& st : stats1) total += st.successes;
  EXPECT_EQ(counter, total);
  EXPECT_FALSE(lock.locked());
}

TEST(LockTest, FrameDestroyedWhileWaitingLeavesTheQueue) {
  Lock lock;
  ASSERT_TRUE(lock.try_acquire());
  {
    EventLoop loop;
    loop.set_exception_handler([](EventLoop&, const ExceptionContext&) {});
    Task<void> t = loop.create_task(acquire_only(lock));
    loop.run_until_complete(yield_once());
    loop.close();  // abandons t while it waits
  }
  lock.release();  // nobody waits any more: free
  EXPECT_FALSE(lock.locked());
}

TEST(LockTest, ClosingALoopWithTheHolderAndAWaiterFreesTheLock) {
  // The holder's guard releases as its frame is destroyed, handing the lock to the waiter
  // whose frame is destroyed next: the grant comes back and the lock ends free.
  Lock lock;
  bool entered = false;
  {
    EventLoop loop;
    loop.set_exception_handler([](EventLoop&, const ExceptionContext&) {});
    Task<void> holder = loop.create_task(guarded_sleep(lock, entered));
    Task<void> waiter = loop.create_task(acquire_only(lock));
    loop.run_until_complete(yield_once());
    EXPECT_TRUE(entered);
    EXPECT_TRUE(lock.locked());
    loop.close();
  }
  EXPECT_FALSE(lock.locked());
}

}  // namespace
}  // namespace weft
