#include "scheduler/run_coroutine_threadsafe.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loop/weft.h"
#include "scheduler/concurrent_future.h"
#include "tests/scheduler/loop_thread.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using testing::LoopThread;
using testing::Notification;

Coro<int> add_on_loop(int a, int b) {
  co_await sleep(0s);
  co_return a + b;
}

Coro<int> await_value(const ConcurrentFuture<int>& f) { co_return co_await f; }

TEST(RunCoroutineThreadsafe, ResultReachesAPlainThread) {
  LoopThread lt;
  ConcurrentFuture<int> f = run_coroutine_threadsafe(add_on_loop(2, 3), lt.loop());
  EXPECT_EQ(f.get(), 5);
}

TEST(RunCoroutineThreadsafe, TheCoroutineRunsOnTheLoopThread) {
  LoopThread lt;
  auto where = []() -> Coro<std::thread::id> { co_return std::this_thread::get_id(); };
  std::thread::id loop_thread = run_coroutine_threadsafe(where(), lt.loop()).get();
  EXPECT_NE(loop_thread, std::this_thread::get_id());
}

TEST(RunCoroutineThreadsafe, VoidAndMoveOnly) {
  LoopThread lt;
  bool ran = false;
  auto v = [&]() -> Coro<void> {
    ran = true;
    co_return;
  };
  run_coroutine_threadsafe(v(), lt.loop()).get();
  EXPECT_TRUE(ran);
  auto p = []() -> Coro<std::unique_ptr<int>> { co_return std::make_unique<int>(11); };
  ConcurrentFuture<std::unique_ptr<int>> f = run_coroutine_threadsafe(p(), lt.loop());
  EXPECT_EQ(*f.get(), 11);
}

TEST(RunCoroutineThreadsafe, ExceptionIsTheFuturesAndIsNotReportedByTheLoop) {
  LoopThread lt;
  std::atomic<int> reports{0};
  lt.loop().call_soon_threadsafe([&] {
    lt.loop().set_exception_handler([&](EventLoop&, const ExceptionContext&) { ++reports; });
  });
  auto boom = []() -> Coro<int> {
    co_await sleep(0s);
    throw std::runtime_error("boom");
  };
  ConcurrentFuture<int> f = run_coroutine_threadsafe(boom(), lt.loop());
  EXPECT_THROW(f.get(), std::runtime_error);
  lt.stop();
  EXPECT_EQ(reports.load(), 0);
}

TEST(RunCoroutineThreadsafe, CancellingTheFutureCancelsTheTaskOnItsLoop) {
  LoopThread lt;
  Notification started;
  std::atomic<bool> saw_cancel{false};
  auto waits_forever = [&]() -> Coro<int> {
    started.notify();
    try {
      co_await sleep(1h);
    } catch (const CancelledError&) {
      saw_cancel = true;
      throw;
    }
    co_return 0;
  };
  ConcurrentFuture<int> f = run_coroutine_threadsafe(waits_forever(), lt.loop());
  started.wait();
  EXPECT_TRUE(f.cancel());
  EXPECT_THROW(f.get(), CancelledError);
  // The task's cleanup runs on its loop; wait for it by a round trip through that loop.
  auto nothing = []() -> Coro<void> {
    co_await sleep(0s);
    co_await sleep(0s);
  };
  run_coroutine_threadsafe(nothing(), lt.loop()).get();
  EXPECT_TRUE(saw_cancel.load());
}

TEST(RunCoroutineThreadsafe, TaskCancelledOnItsLoopCancelsTheFuture) {
  LoopThread lt;
  auto cancels_itself = []() -> Coro<int> {
    Task<void> inner = create_task([]() -> Coro<void> { co_await sleep(1h); }());
    co_await sleep(0s);
    inner.cancel();
    co_await inner;  // raises CancelledError into this coroutine
    co_return 1;
  };
  ConcurrentFuture<int> f = run_coroutine_threadsafe(cancels_itself(), lt.loop());
  EXPECT_THROW(f.get(), CancelledError);
  EXPECT_TRUE(f.cancelled());
}

TEST(RunCoroutineThreadsafe, ClosedLoopRaisesRuntimeError) {
  EventLoop loop;
  loop.close();
  EXPECT_THROW((void)run_coroutine_threadsafe(add_on_loop(1, 1), loop), RuntimeError);
}

TEST(RunCoroutineThreadsafe, LoopClosedBeforeTheTaskStartsCancelsTheFuture) {
  EventLoop loop;  // never runs
  ConcurrentFuture<int> f = run_coroutine_threadsafe(add_on_loop(1, 1), loop);
  EXPECT_FALSE(f.done());
  loop.close();
  EXPECT_TRUE(f.cancelled());
}

TEST(RunCoroutineThreadsafe, LoopClosedWithTheTaskPendingCancelsTheFuture) {
  auto loop = std::make_unique<EventLoop>();
  loop->set_exception_handler([](EventLoop&, const ExceptionContext&) {});  // "destroyed pending"
  ConcurrentFuture<int> f;
  auto starter = [&]() -> Coro<void> {
    f = run_coroutine_threadsafe([]() -> Coro<int> {
      co_await sleep(1h);
      co_return 0;
    }(), *loop);
    co_await sleep(0s);
    co_await sleep(0s);
  };
  loop->run_until_complete(starter());
  EXPECT_FALSE(f.done());
  loop.reset();  // closes the loop, dropping the pending task
  EXPECT_TRUE(f.cancelled());
}

TEST(RunCoroutineThreadsafe, FromTheLoopsOwnThread) {
  auto main = []() -> Coro<int> {
    ConcurrentFuture<int> f = run_coroutine_threadsafe(add_on_loop(4, 5), EventLoop::current());
    co_return co_await f;
  };
  EXPECT_EQ(run(main()), 9);
}

// Loop A awaits a coroutine running on loop B: both bridges at once.
TEST(RunCoroutineThreadsafe, AwaitedFromATaskOnAnotherLoop) {
  LoopThread b;
  auto main = [&]() -> Coro<int> {
    int sum = 0;
    for (int i = 0; i < 50; ++i) sum += co_await run_coroutine_threadsafe(add_on_loop(i, 1), b.loop());
    co_return sum;
  };
  EXPECT_EQ(run(main()), 50 * 49 / 2 + 50);
}

TEST(RunCoroutineThreadsafe, CancellingTheAwaitingTaskCancelsTheRemoteTask) {
  LoopThread b;
  ConcurrentFuture<void> remote_started;
  Notification remote_cancelled;
  auto remote = [&]() -> Coro<int> {
    remote_started.set_result();
    try {
      co_await sleep(1h);
    } catch (const CancelledError&) {
      remote_cancelled.notify();
      throw;
    }
    co_return 0;
  };
  ConcurrentFuture<int> f;
  auto main = [&]() -> Coro<bool> {
    f = run_coroutine_threadsafe(remote(), b.loop());
    Task<int> waiter = create_task(await_value(f));
    co_await sleep(0s);        // the waiter awaits f now
    co_await remote_started;   // and the remote task is inside its try block
    waiter.cancel();
    try {
      co_await waiter;
    } catch (const CancelledError&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(run(main()));
  remote_cancelled.wait();  // hangs (test timeout) if the cancellation never crossed
  EXPECT_TRUE(f.cancelled());
}

TEST(RunCoroutineThreadsafe, ManyThreadsSubmitToOneLoop) {
  LoopThread lt;
  std::vector<std::thread> threads;
  std::atomic<long> total{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<ConcurrentFuture<int>> fs;
      for (int i = 0; i < 250; ++i) fs.push_back(run_coroutine_threadsafe(add_on_loop(t, i), lt.loop()));
      for (auto& f : fs) total += f.get();
    });
  }
  for (auto& t : threads) t.join();
  long expected = 0;
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 250; ++i) expected += t + i;
  }
  EXPECT_EQ(total.load(), expected);
}

}  // namespace
}  // namespace weft
