#include "scheduler/to_thread.h"

#include <gtest/gtest.h>
#include <dirent.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loop/weft.h"
#include "scheduler/blocking_pool.h"
#include "scheduler/executor_call.h"
#include "scheduler/run_coroutine_threadsafe.h"
#include "scheduler/runtime.h"
#include "tests/scheduler/loop_thread.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using testing::Notification;

std::string thread_name() {
  char name[32] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

int twice(int x) { return 2 * x; }

TEST(ToThread, ReturnsTheValueAndRunsOnAPoolThread) {
  auto main = []() -> Coro<bool> {
    int v = co_await to_thread(twice, 21);
    EXPECT_EQ(v, 42);
    std::thread::id loop_thread = std::this_thread::get_id();
    std::thread::id call_thread = co_await to_thread([] { return std::this_thread::get_id(); });
    EXPECT_NE(call_thread, loop_thread);
    std::string name = co_await to_thread(thread_name);
    EXPECT_EQ(name, "weft-blocking");
    co_return true;
  };
  EXPECT_TRUE(run(main()));
}

TEST(ToThread, VoidMoveOnlyAndReferenceResults) {
  int target = 0;
  auto main = [&]() -> Coro<int> {
    co_await to_thread([&] { target = 1; });
    std::unique_ptr<int> p = co_await to_thread(
        [](std::unique_ptr<int> in) {
          *in += 1;
          return in;
        },
        std::make_unique<int>(9));
    int& ref = co_await to_thread([&]() -> int& { return target; });
    ref += 5;
    co_return *p;
  };
  EXPECT_EQ(run(main()), 10);
  EXPECT_EQ(target, 6);
}

TEST(ToThread, ArgumentsAreCopiedUnlessWrappedInStdRef) {
  auto main = []() -> Coro<std::string> {
    std::string s = "a";
    std::string copy = co_await to_thread(
        [](std::string local) {
          local += "x";
          return local;
        },
        s);
    co_await to_thread([](std::string& shared) { shared += "b"; }, std::ref(s));
    co_return copy + "," + s;
  };
  EXPECT_EQ(run(main()), "ax,ab");
}

TEST(ToThread, ExceptionIsRethrownAtTheAwait) {
  auto main = []() -> Coro<std::string> {
    try {
      co_await to_thread([]() -> int { throw std::invalid_argument("bad input"); });
    } catch (const std::invalid_argument& e) {
      co_return e.what();
    }
    co_return "";
  };
  EXPECT_EQ(run(main()), "bad input");
}

int count_threads() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

Coro<int> answer() { co_return 42; }

// asyncio's default executor belongs to the loop, and asyncio.run shuts it down: weft::run's
// loop gets a pool of its own on its first call, and run joins that pool's threads.
TEST(ToThread, WeftRunOwnsItsDefaultPoolAndJoinsItsThreads) {
  EXPECT_EQ(run(answer()), 42);  // the process-wide threads a first loop starts (watchdog)
  const uint64_t process_pool_calls = default_blocking_pool().stats().tasks_run;
  const int threads = count_threads();
  BlockingPool* run_pool = nullptr;
  auto main = [&]() -> Coro<std::string> {
    run_pool = &current_blocking_pool();
    EXPECT_NE(run_pool, &default_blocking_pool());
    co_return co_await run_in_executor(thread_name);
  };
  EXPECT_EQ(run(main()), "weft-blocking");
  EXPECT_EQ(default_blocking_pool().stats().tasks_run, process_pool_calls);
  // At most: the process-wide pool's threads (other tests') may retire meanwhile.
  EXPECT_LE(count_threads(), threads);
  EXPECT_EQ(&current_blocking_pool(), &default_blocking_pool());  // outside any run
}

// A call still running when weft::run ends is waited for while the loop runs, so that it can
// still hand work to the loop (asyncio's shutdown_default_executor joins on another thread).
TEST(ToThread, WeftRunWaitsForARunningCallWhileItsLoopRuns) {
  std::atomic<int> got{0};
  auto main = [&]() -> Coro<void> {
    EventLoop* loop = &EventLoop::current();
    BlockingPool* pool = &current_blocking_pool();
    // Dropped: the call runs on, awaited by nobody.
    (void)to_thread([&got, loop, pool] {
      // Until run has begun shutting the pool down (a bounded wait: main returns at once).
      while (!pool->is_shut_down()) std::this_thread::yield();
      got = run_coroutine_threadsafe(answer(), *loop).get();
    });
    co_return;
  };
  run(main());
  EXPECT_EQ(got.load(), 42);
}

// asyncio's spelling: loop.run_in_executor(executor, fn, *args).
TEST(ToThread, LoopRunInExecutorRunsOnTheGivenExecutor) {
  BlockingPool pool({.max_threads = 1});
  auto main = [&]() -> Coro<int> {
    EventLoop& loop = EventLoop::current();
    int v = co_await loop.run_in_executor(pool, twice, 21);
    std::string name = co_await loop.run_in_executor(pool, thread_name);
    EXPECT_EQ(name, "weft-blocking");
    co_return v;
  };
  EXPECT_EQ(run(main()), 42);
  EXPECT_EQ(pool.stats().tasks_run, 2u);
}

TEST(ToThread, AwaitingTwiceRaises) {
  auto main = []() -> Coro<bool> {
    ExecutorCall<int> call = to_thread([] { return 1; });
    EXPECT_EQ(co_await call, 1);
    EXPECT_FALSE(static_cast<bool>(call));
    try {
      co_await call;
    } catch (const RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find("already awaited"), std::string::npos);
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(run(main()));
}

TEST(ToThread, SubmittingNeedsNoLoop) {
  ExecutorCall<int> call = to_thread([] { return 5; });  // no loop runs on this thread
  auto main = [&]() -> Coro<int> { co_return co_await std::move(call); };
  EXPECT_EQ(run(main()), 5);
}

TEST(ToThread, SubmittedFromAPlainThreadAwaitedOnALoop) {
  ExecutorCall<int> call;
  std::thread submitter([&] { call = to_thread([] { return 77; }); });
  submitter.join();
  auto main = [&]() -> Coro<int> { co_return co_await call; };
  EXPECT_EQ(run(main()), 77);
}

TEST(ToThread, CancellingTheAwaitingTaskDoesNotInterruptTheCall) {
  BlockingPool pool;
  Notification entered;
  Notification release;
  std::atomic<bool> finished{false};
  int reports = 0;
  // Coroutine lambdas given to create_task live at test scope: a coroutine reads its
  // lambda's captures through the closure object, which must outlive the task.
  auto awaits_call = [&]() -> Coro<int> {
    co_return co_await run_in_executor(pool, [&]() -> int {
      entered.notify();
      release.wait();
      finished = true;
      throw std::runtime_error("dropped: must not be reported");
    });
  };
  auto main = [&]() -> Coro<bool> {
    EventLoop::current().set_exception_handler(
        [&](EventLoop&, const ExceptionContext&) { ++reports; });
    Task<int> waiter = create_task(awaits_call());
    co_await to_thread([&] { entered.wait(); });  // the call is running now
    waiter.cancel();
    bool cancelled = false;
    try {
      co_await waiter;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    EXPECT_FALSE(finished.load());  // the task ended while the call still runs
    release.notify();
    co_return cancelled;
  };
  EXPECT_TRUE(run(main()));
  pool.shutdown();  // waits for the call
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(reports, 0);
  EXPECT_EQ(pool.stats().tasks_run, 1u);
}

TEST(ToThread, CallCancelledBeforeItStartsIsSkipped) {
  BlockingPool pool({.max_threads = 1});
  Notification release;
  std::atomic<bool> second_ran{false};
  auto awaits_second = [&]() -> Coro<void> {
    co_await run_in_executor(pool, [&] { second_ran = true; });  // queued behind `first`
  };
  auto main = [&]() -> Coro<void> {
    ExecutorCall<void> first = run_in_executor(pool, [&] { release.wait(); });
    Task<void> waiter = create_task(awaits_second());
    co_await sleep(0s);
    waiter.cancel();
    try {
      co_await waiter;
    } catch (const CancelledError&) {
    }
    release.notify();
    co_await first;
  };
  run(main());
  pool.shutdown();
  EXPECT_FALSE(second_ran.load());
  EXPECT_EQ(pool.stats().tasks_run, 2u);  // run, and skipped
}

TEST(ToThread, ADroppedCallStillRuns) {
  BlockingPool pool;
  std::atomic<bool> ran{false};
  (void)run_in_executor(pool, [&] { ran = true; });
  pool.shutdown();
  EXPECT_TRUE(ran.load());
}

// weft::run returns (cancelling the task, destroying the loop) while the call runs; the
// call's completion must not touch the loop.
TEST(ToThread, LoopShutdownWhileACallIsInFlight) {
  BlockingPool pool;
  Notification entered;
  Notification release;
  std::atomic<bool> finished{false};
  auto awaits_call = [&]() -> Coro<void> {
    co_await run_in_executor(pool, [&] {
      entered.notify();
      release.wait();
      finished = true;
      return std::string(1000, 'x');
    });
  };
  auto main = [&]() -> Coro<void> {
    create_task(awaits_call());
    co_await to_thread([&] { entered.wait(); });
  };
  run(main());
  release.notify();
  pool.shutdown();
  EXPECT_TRUE(finished.load());
}

// The same, racing: the completion may arrive just as the loop shuts down.
TEST(ToThread, CompletionRacingWithLoopShutdown) {
  BlockingPool pool;
  std::atomic<int> ran{0};
  auto awaits_call = [&]() -> Coro<void> { co_await run_in_executor(pool, [&] { ++ran; }); };
  for (int i = 0; i < 300; ++i) {
    auto main = [&]() -> Coro<void> {
      for (int k = 0; k < 4; ++k) create_task(awaits_call());
      co_await sleep(0s);
      co_return;
    };
    run(main());
  }
  pool.shutdown();
  EXPECT_EQ(pool.stats().tasks_run, 1200u);  // each call run, or skipped if cancelled first
}

TEST(ToThread, StressManyTasksManyCalls) {
  constexpr int kTasks = 100;
  constexpr int kCallsPerTask = 200;  // 20,000 calls
  auto worker = [](int t) -> Coro<long> {
    long sum = 0;
    for (int i = 0; i < kCallsPerTask; ++i) {
      sum += co_await to_thread([](int a, int b) { return static_cast<long>(a) * 1000 + b; }, t, i);
    }
    co_return sum;
  };
  auto main = [&]() -> Coro<long> {
    std::vector<Task<long>> tasks;
    for (int t = 0; t < kTasks; ++t) tasks.push_back(create_task(worker(t)));
    long total = 0;
    for (auto& task : tasks) total += co_await task;
    co_return total;
  };
  long expected = 0;
  for (int t = 0; t < kTasks; ++t) {
    for (int i = 0; i < kCallsPerTask; ++i) expected += static_cast<long>(t) * 1000 + i;
  }
  EXPECT_EQ(run(main()), expected);
}

// The default pool is shared by every loop: tasks spread over a 2-loop Runtime all use it.
TEST(ToThread, SharedByTheLoopsOfARuntime) {
  constexpr int kTasks = 16;
  constexpr int kCalls = 100;
  auto worker = [&](int t) -> Coro<long> {
    long sum = 0;
    for (int i = 0; i < kCalls; ++i) sum += co_await to_thread([t, i] { return t * 1000L + i; });
    co_return sum;
  };
  auto main = [&]() -> Coro<long> {
    std::vector<Task<long>> tasks;
    for (int t = 0; t < kTasks; ++t) tasks.push_back(spawn(worker(t)));
    long total = 0;
    for (auto& task : tasks) total += co_await task;
    co_return total;
  };
  long expected = 0;
  for (int t = 0; t < kTasks; ++t) {
    for (int i = 0; i < kCalls; ++i) expected += t * 1000L + i;
  }
  EXPECT_EQ(run(main(), RunOptions{.threads = 2}), expected);
}

TEST(ToThread, StressSubmitAllThenAwaitAll) {
  constexpr int kCalls = 20000;
  auto main = []() -> Coro<long> {
    std::vector<ExecutorCall<int>> calls;
    calls.reserve(kCalls);
    for (int i = 0; i < kCalls; ++i) calls.push_back(to_thread([i] { return i; }));
    long sum = 0;
    for (auto& c : calls) sum += co_await c;
    co_return sum;
  };
  EXPECT_EQ(run(main()), static_cast<long>(kCalls) * (kCalls - 1) / 2);
}

}  // namespace
}  // namespace weft
