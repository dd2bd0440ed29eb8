#include "scheduler/cpu_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loop/weft.h"
#include "scheduler/concurrent_future.h"
#include "scheduler/executor_call.h"
#include "tests/scheduler/loop_thread.h"

namespace weft {
namespace {

using testing::Notification;

long sum_to(long n) {
  long s = 0;
  for (long i = 1; i <= n; ++i) s += i;
  return s;
}

TEST(CpuExecutor, RunCpuReturnsTheValueFromAnotherThread) {
  auto main = []() -> Coro<bool> {
    EXPECT_EQ(co_await run_cpu(sum_to, 1000), 500500);
    std::thread::id loop_thread = std::this_thread::get_id();
    std::thread::id call_thread = co_await run_cpu([] { return std::this_thread::get_id(); });
    co_return call_thread != loop_thread;
  };
  EXPECT_TRUE(run(main()));
}

TEST(CpuExecutor, ExceptionIsRethrown) {
  auto main = []() -> Coro<std::string> {
    try {
      co_await run_cpu([]() -> int { throw std::domain_error("overflow"); });
    } catch (const std::domain_error& e) {
      co_return e.what();
    }
    co_return "";
  };
  EXPECT_EQ(run(main()), "overflow");
}

TEST(CpuExecutor, MaxConcurrencyBoundsTheCallsRunningAtOnce) {
  CpuExecutor cpu({.max_concurrency = 1});
  EXPECT_EQ(cpu.max_concurrency(), 1);
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  auto main = [&]() -> Coro<long> {
    std::vector<ExecutorCall<long>> calls;
    for (int i = 0; i < 50; ++i) {
      calls.push_back(run_in_executor(cpu, [&, i] {
        int now = ++running;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        long v = sum_to(i);
        --running;
        return v;
      }));
    }
    long total = 0;
    for (auto& c : calls) total += co_await c;
    co_return total;
  };
  long expected = 0;
  for (int i = 0; i < 50; ++i) expected += sum_to(i);
  EXPECT_EQ(run(main()), expected);
  EXPECT_EQ(most.load(), 1);
}

TEST(CpuExecutor, ManyCallsAllCorrect) {
  constexpr int kCalls = 2000;
  auto main = []() -> Coro<long> {
    std::vector<ExecutorCall<long>> calls;
    for (int i = 0; i < kCalls; ++i) calls.push_back(run_cpu([i] { return static_cast<long>(i) * i; }));
    long total = 0;
    for (auto& c : calls) total += co_await c;
    co_return total;
  };
  long expected = 0;
  for (long i = 0; i < kCalls; ++i) expected += i * i;
  EXPECT_EQ(run(main()), expected);
}

TEST(CpuExecutor, ShutdownWaitsForAcceptedCallsAndRefusesNewOnes) {
  CpuExecutor cpu({.max_concurrency = 2});
  Notification release;
  std::atomic<int> ran{0};
  std::vector<ExecutorCall<void>> calls;
  calls.push_back(run_in_executor(cpu, [&] {
    release.wait();
    ++ran;
  }));
  for (int i = 0; i < 20; ++i) calls.push_back(run_in_executor(cpu, [&] { ++ran; }));
  cpu.shutdown(/*wait=*/false);
  EXPECT_THROW((void)run_in_executor(cpu, [] {}), RuntimeError);
  release.notify();
  cpu.shutdown(/*wait=*/true);
  EXPECT_EQ(ran.load(), 21);
  EXPECT_EQ(cpu.stats().pending, 0u);
  EXPECT_EQ(cpu.stats().tasks_run, 21u);
}

TEST(CpuExecutor, CancellingTheAwaitingTaskDropsTheResult) {
  CpuExecutor cpu({.max_concurrency = 1});
  ConcurrentFuture<void> entered;
  Notification release;
  auto awaits_call = [&]() -> Coro<int> {
    co_return co_await run_in_executor(cpu, [&] {
      entered.set_result();
      release.wait();
      return 1;
    });
  };
  auto main = [&]() -> Coro<bool> {
    Task<int> waiter = create_task(awaits_call());
    co_await entered;  // the call is running
    waiter.cancel();
    bool cancelled = false;
    try {
      co_await waiter;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    release.notify();
    co_return cancelled;
  };
  EXPECT_TRUE(run(main()));
  cpu.shutdown();
  EXPECT_EQ(cpu.stats().tasks_run, 1u);
}

}  // namespace
}  // namespace weft

namespace weft {
namespace {

// Every slot of the arena runs a call at once (the submitting loop never joins the arena,
// so oneTBB must provide a worker thread per slot).
TEST(CpuExecutor, AllSlotsRunAtOnce) {
  CpuExecutor small({.max_concurrency = 1});  // must not limit the default executor
  const int slots = default_cpu_executor().max_concurrency();
  ASSERT_GE(slots, 1);
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  auto main = [&]() -> Coro<int> {
    std::vector<ExecutorCall<int>> calls;
    for (int i = 0; i < slots; ++i) {
      calls.push_back(run_cpu([&] {
        std::unique_lock<std::mutex> lock(mu);
        if (++arrived == slots) cv.notify_all();
        cv.wait(lock, [&] { return arrived == slots; });
        return 1;
      }));
    }
    int n = 0;
    for (auto& c : calls) n += co_await c;
    co_return n;
  };
  EXPECT_EQ(run(main()), slots);
}

}  // namespace
}  // namespace weft
