// Debug mode's checks: loop-bound operations from a wrong thread, slow callbacks and task
// steps; and shuffle mode.
#include <algorithm>
#include <chrono>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loop/weft.h"
#include "tests/loop/test_util.h"
#include "tests/scheduler/loop_thread.h"

namespace weft {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::string thread_text(std::thread::id id) {
  std::ostringstream os;
  os << id;
  return os.str();
}

// A debug-mode loop on its own thread, and a Future<int> of it.
class WrongThreadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::Notification ready;
    t_.loop().call_soon_threadsafe([&] {
      t_.loop().set_debug(true);
      future_ = t_.loop().create_future<int>();
      ready.notify();
    });
    ready.wait();
  }
  void TearDown() override {
    testing::Notification dropped;
    t_.loop().call_soon_threadsafe([&] {
      future_ = Future<int>();
      dropped.notify();
    });
    dropped.wait();
  }

  // Runs `op` on this (wrong) thread and checks the error names `what`, both threads, and
  // what to use instead.
  void expect_refused(const std::string& what, const std::function<void()>& op) {
    try {
      op();
      ADD_FAILURE() << what << " from another thread did not raise";
    } catch (const RuntimeError& e) {
      std::string msg = e.what();
      EXPECT_THAT(msg, HasSubstr(what + "() was called from thread " +
                                 thread_text(std::this_thread::get_id())));
      EXPECT_THAT(msg, HasSubstr("this loop runs on thread " + thread_text(t_.loop().thread_id())));
      EXPECT_THAT(msg, HasSubstr("call_soon_threadsafe"));
      EXPECT_THAT(msg, HasSubstr("run_coroutine_threadsafe"));
    }
  }

  testing::LoopThread t_;
  Future<int> future_;
};

Coro<int> answer() { co_return 42; }

TEST_F(WrongThreadTest, CallSoon) {
  expect_refused("call_soon", [&] { t_.loop().call_soon([] {}); });
}
TEST_F(WrongThreadTest, CallLater) {
  expect_refused("call_later", [&] { t_.loop().call_later(1s, [] {}); });
}
TEST_F(WrongThreadTest, CallAt) {
  expect_refused("call_at", [&] { t_.loop().call_at(t_.loop().time() + 1s, [] {}); });
}
TEST_F(WrongThreadTest, CreateTask) {
  expect_refused("create_task", [&] { (void)t_.loop().create_task(answer()); });
}
TEST_F(WrongThreadTest, CreateFuture) {
  expect_refused("create_future", [&] { (void)t_.loop().create_future<int>(); });
}
TEST_F(WrongThreadTest, FutureSetResult) {
  expect_refused("Future.set_result", [&] { future_.set_result(1); });
}
TEST_F(WrongThreadTest, FutureSetException) {
  expect_refused("Future.set_exception", [&] {
    future_.set_exception(std::make_exception_ptr(std::runtime_error("x")));
  });
}
TEST_F(WrongThreadTest, FutureCancel) {
  expect_refused("Future.cancel", [&] { future_.cancel(); });
}
TEST_F(WrongThreadTest, TheThreadsafeWaysStillWork) {
  testing::Notification done;
  t_.loop().call_soon_threadsafe([&] {
    future_.set_result(7);
    done.notify();
  });
  done.wait();
}

// Keeps its thread busy for `d`: the slow step under test (not a synchronisation).
void busy_for(Duration d) {
  TimePoint end = Clock::now() + d;
  while (Clock::now() < end) {
  }
}

Coro<void> slow_step() {
  busy_for(30ms);
  co_return;
}

TEST(SlowCallback, ReportsATaskStepOverTheDurationWithNameAndSite) {
  EventLoop loop;
  loop.set_debug(true);
  loop.set_slow_callback_duration(20ms);
  loop_test::HandlerLog log;
  log.install(loop);
  const int line = __LINE__ + 1;
  loop.run_until_complete(loop.create_task(slow_step(), "slowpoke"));
  ASSERT_EQ(log.count("Executing <Task"), 1) << ::testing::PrintToString(log.messages());
  const ExceptionContext& ctx = log.contexts[0];
  // Where the coroutine is defined, then where the task was created.
  EXPECT_THAT(ctx.message,
              ContainsRegex("^Executing <Task [a-z]+ name='slowpoke' coro=slow_step\\(\\) at "
                            "tests/introspect/debug_checks_test.cc:[0-9]+ created at "
                            "tests/introspect/debug_checks_test.cc:" +
                            std::to_string(line) + "> took 0\\.[0-9]{3} seconds$"));
  EXPECT_EQ(ctx.task, "slowpoke");
  EXPECT_THAT(ctx.source, HasSubstr("tests/introspect/debug_checks_test.cc:"));
  EXPECT_THAT(ctx.source, HasSubstr("in slow_step"));
}

TEST(SlowCallback, ReportsACallback) {
  EventLoop loop;
  loop.set_debug(true);
  loop.set_slow_callback_duration(20ms);
  loop_test::HandlerLog log;
  log.install(loop);
  loop.call_soon([&] {
    busy_for(30ms);
    loop.stop();
  });
  loop.run_forever();
  ASSERT_EQ(log.contexts.size(), 1u);
  // Where it was scheduled (creation_site_test.cc checks the text in detail).
  EXPECT_THAT(log.contexts[0].message,
              ContainsRegex("^Executing <Handle created at "
                            "tests/introspect/debug_checks_test.cc:[0-9]+> took 0\\.[0-9]{3} "
                            "seconds$"));
}

TEST(SlowCallback, NothingOutsideDebugMode) {
  EventLoop loop;
  loop.set_debug(false);
  loop.set_slow_callback_duration(1ms);
  loop_test::HandlerLog log;
  log.install(loop);
  loop.run_until_complete(loop.create_task(slow_step(), "slowpoke"));
  EXPECT_TRUE(log.contexts.empty());
}

// Eight tasks, three steps each; each step records the task's index.
std::vector<int> run_steps(std::optional<uint64_t> seed, int* total) {
  EventLoop loop;
  if (seed) loop.enable_shuffle(*seed);
  std::vector<int> order;
  *total = 0;
  auto worker = [&](int i) -> Coro<int> {
    for (int step = 0; step < 3; ++step) {
      order.push_back(i);
      co_await sleep(0s);
    }
    co_return i * i;
  };
  auto main_coro = [&]() -> Coro<void> {
    std::vector<Task<int>> tasks;
    for (int i = 0; i < 8; ++i) tasks.push_back(create_task(worker(i)));
    for (auto& t : tasks) *total += co_await t;
  };
  loop.run_until_complete(main_coro());
  loop.close();
  return order;
}

TEST(Shuffle, ChangesTheOrderNotTheResults) {
  int fifo_total = 0;
  std::vector<int> fifo = run_steps(std::nullopt, &fifo_total);
  EXPECT_EQ(fifo_total, 140);  // 0 + 1 + 4 + ... + 49
  bool some_order_differs = false;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    int total = 0;
    std::vector<int> order = run_steps(seed, &total);
    EXPECT_EQ(total, fifo_total) << "seed " << seed;
    std::vector<int> a = order, b = fifo;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_EQ(a, b) << "seed " << seed << ": every step ran, once";
    some_order_differs |= order != fifo;
  }
  EXPECT_TRUE(some_order_differs);
}

TEST(Shuffle, TheSameSeedReplaysTheSameOrder) {
  int t1 = 0, t2 = 0;
  EXPECT_EQ(run_steps(1234, &t1), run_steps(1234, &t2));
}

}  // namespace
}  // namespace weft
