#include "scheduler/blocking_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loop/weft.h"
#include "scheduler/executor_call.h"
#include "tests/scheduler/loop_thread.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using testing::Notification;

// Blocks each arriving thread until `n` threads have arrived: completes only if n calls run
// at the same time.
class Rendezvous {
 public:
  explicit Rendezvous(int n) : n_(n) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (++arrived_ == n_) cv_.notify_all();
    cv_.wait(lock, [this] { return arrived_ >= n_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_;
  int arrived_ = 0;
};

// Waits for a condition that another thread makes true eventually (not for time to pass):
// polls with a generous bound, and fails the test if it never holds.
template <class Cond>
bool eventually(Cond cond) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(BlockingPool, RunsCallsAndReturnsTheirValues) {
  BlockingPool pool;
  auto main = [&]() -> Coro<int> {
    int a = co_await run_in_executor(pool, [](int x, int y) { return x * y; }, 6, 7);
    std::string s = co_await run_in_executor(pool, [](std::string t) { return t + "!"; }, "hi");
    co_return a + static_cast<int>(s.size());
  };
  EXPECT_EQ(run(main()), 45);
}

TEST(BlockingPool, GrowsToOneThreadPerConcurrentBlockingCall) {
  constexpr int kCalls = 64;
  BlockingPool pool;
  Rendezvous all_running(kCalls);
  auto main = [&]() -> Coro<int> {
    std::vector<ExecutorCall<int>> calls;
    for (int i = 0; i < kCalls; ++i) {
      calls.push_back(run_in_executor(pool, [&all_running, i] {
        all_running.arrive_and_wait();  // returns only once all 64 run at once
        return i;
      }));
    }
    int sum = 0;
    for (auto& c : calls) sum += co_await c;
    co_return sum;
  };
  EXPECT_EQ(run(main()), kCalls * (kCalls - 1) / 2);
  BlockingPool::Stats s = pool.stats();
  EXPECT_GE(s.threads, static_cast<size_t>(kCalls));
  EXPECT_LE(s.threads, pool.options().max_threads);
  EXPECT_TRUE(eventually([&] { return pool.stats().tasks_run == kCalls; }));
}

TEST(BlockingPool, SleepingThreadsAreWokenBeforeNewOnesStart) {
  constexpr int kCalls = 16;
  BlockingPool pool({.keep_alive = 1h});
  auto round = [&]() -> Coro<void> {
    Rendezvous all_running(kCalls);
    std::vector<ExecutorCall<void>> calls;
    for (int i = 0; i < kCalls; ++i) {
      calls.push_back(run_in_executor(pool, [&] { all_running.arrive_and_wait(); }));
    }
    for (auto& c : calls) co_await c;
  };
  run(round());
  EXPECT_EQ(pool.stats().threads, static_cast<size_t>(kCalls));
  EXPECT_TRUE(eventually([&] { return pool.stats().idle == kCalls; }));
  run(round());  // the same number of blocked calls again: no thread is added
  EXPECT_EQ(pool.stats().threads, static_cast<size_t>(kCalls));
}

TEST(BlockingPool, NeverExceedsMaxThreads) {
  BlockingPool pool({.max_threads = 2});
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  auto main = [&]() -> Coro<void> {
    std::vector<ExecutorCall<void>> calls;
    for (int i = 0; i < 40; ++i) {
      calls.push_back(run_in_executor(pool, [&] {
        int now = ++running;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::yield();
        --running;
      }));
    }
    for (auto& c : calls) co_await c;
  };
  run(main());
  EXPECT_LE(most.load(), 2);
  EXPECT_LE(pool.stats().threads, 2u);
}

TEST(BlockingPool, SequentialCallsReuseThreads) {
  BlockingPool pool({.keep_alive = 1h});
  auto main = [&]() -> Coro<int> {
    int sum = 0;
    for (int i = 0; i < 200; ++i) {
      // The previous call's thread is back looking for work before the next call is
      // submitted (a loaded machine can keep it between its result and the queue for any
      // time; a call submitted meanwhile rightly gets a new thread).
      for (BlockingPool::Stats s = pool.stats(); s.idle != s.threads; s = pool.stats()) {
        co_await sleep(0s);
      }
      sum += co_await run_in_executor(pool, [i] { return i; });
    }
    co_return sum;
  };
  EXPECT_EQ(run(main()), 199 * 200 / 2);
  EXPECT_EQ(pool.stats().threads, 1u);
}

TEST(BlockingPool, IdleThreadsRetireAfterKeepAlive) {
  constexpr int kCalls = 8;
  BlockingPool pool({.keep_alive = 1ms, .spin = 0s});
  Rendezvous all_running(kCalls);
  auto main = [&]() -> Coro<void> {
    std::vector<ExecutorCall<void>> calls;
    for (int i = 0; i < kCalls; ++i) {
      calls.push_back(run_in_executor(pool, [&] { all_running.arrive_and_wait(); }));
    }
    for (auto& c : calls) co_await c;
  };
  run(main());
  EXPECT_TRUE(eventually([&] { return pool.stats().threads == 0; }))
      << "threads still alive: " << pool.stats().threads;
  // A retired pool starts threads again on demand.
  auto again = [&]() -> Coro<int> { co_return co_await run_in_executor(pool, [] { return 3; }); };
  EXPECT_EQ(run(again()), 3);
}

TEST(BlockingPool, StatsCountBusyAndIdleThreads) {
  BlockingPool pool({.keep_alive = 1h});
  Notification entered;
  Notification release;
  ExecutorCall<void> call = run_in_executor(pool, [&] {
    entered.notify();
    release.wait();
  });
  entered.wait();
  BlockingPool::Stats s = pool.stats();
  EXPECT_EQ(s.threads, 1u);
  EXPECT_EQ(s.idle, 0u);
  EXPECT_EQ(s.tasks_run, 0u);
  release.notify();
  EXPECT_TRUE(eventually([&] { return pool.stats().tasks_run == 1; }));
  s = pool.stats();
  EXPECT_EQ(s.idle, s.threads);
  EXPECT_TRUE(call.done());
}

TEST(BlockingPool, ShutdownRunsWhatIsQueuedAndJoinsEveryThread) {
  BlockingPool pool({.max_threads = 1});
  Notification release;
  std::atomic<int> ran{0};
  std::vector<ExecutorCall<void>> calls;
  calls.push_back(run_in_executor(pool, [&] {
    release.wait();
    ++ran;
  }));
  for (int i = 0; i < 9; ++i) calls.push_back(run_in_executor(pool, [&] { ++ran; }));
  pool.shutdown(/*wait=*/false);
  EXPECT_THROW((void)run_in_executor(pool, [] {}), RuntimeError);
  release.notify();
  pool.shutdown(/*wait=*/true);
  EXPECT_EQ(ran.load(), 10);
  BlockingPool::Stats s = pool.stats();
  EXPECT_EQ(s.threads, 0u);
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(s.tasks_run, 10u);
  for (auto& c : calls) EXPECT_TRUE(c.done());
}

TEST(BlockingPool, SubmitAfterShutdownSaysWhatToDo) {
  BlockingPool pool;
  pool.shutdown();
  try {
    (void)run_in_executor(pool, [] {});
    FAIL() << "expected RuntimeError";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("shut down"), std::string::npos) << e.what();
  }
}

TEST(BlockingPool, ShutdownWithWaitFromItsOwnThreadRaises) {
  BlockingPool pool;
  auto main = [&]() -> Coro<bool> {
    try {
      co_await run_in_executor(pool, [&] { pool.shutdown(/*wait=*/true); });
    } catch (const RuntimeError&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(run(main()));
}

TEST(BlockingPool, ZeroMaxThreadsIsRefused) {
  EXPECT_THROW(BlockingPool({.max_threads = 0}), RuntimeError);
}

TEST(BlockingPool, DestructorJoinsBusyThreads) {
  std::atomic<int> ran{0};
  {
    BlockingPool pool;
    for (int i = 0; i < 16; ++i) {
      (void)run_in_executor(pool, [&] {
        std::this_thread::yield();
        ++ran;
      });
    }
  }  // ~BlockingPool waits for the calls
  EXPECT_EQ(ran.load(), 16);
}

TEST(BlockingPool, ManySubmittersAtOnce) {
  BlockingPool pool;
  std::atomic<long> sum{0};
  std::vector<std::thread> submitters;
  for (int t = 0; t < 4; ++t) {
    submitters.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) (void)run_in_executor(pool, [&sum, i] { sum += i; });
    });
  }
  for (auto& t : submitters) t.join();
  pool.shutdown();
  EXPECT_EQ(sum.load(), 4L * 1999 * 2000 / 2);
  EXPECT_EQ(pool.stats().tasks_run, 8000u);
}

}  // namespace
}  // namespace weft
