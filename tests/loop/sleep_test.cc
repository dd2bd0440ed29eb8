// Tests for weft::sleep: timers ordered by duration (ties in the order the tasks slept),
// sleep(0) as a plain yield, cancellation removing the timer at once.
//
// Assertions are about order only; durations are small and distinct.

#include "loop/sleep.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "loop/weft.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using ::testing::ElementsAre;

Coro<void> sleep_then_log(std::vector<std::string>& log, std::string name, Duration d) {
  co_await sleep(d);
  log.push_back(std::move(name));
}

TEST(Sleep, TasksWakeInDurationOrder) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    // The longest is created first, so creation order cannot explain the result. Only an
    // hour is certain to outlast the time the later tasks take to start on a stalled
    // machine; the others start in increasing order for the same reason.
    Task<void> longest = create_task(sleep_then_log(log, "1h", 1h));
    Task<void> a = create_task(sleep_then_log(log, "1ms", 1ms));
    Task<void> b = create_task(sleep_then_log(log, "6ms", 6ms));
    Task<void> c = create_task(sleep_then_log(log, "12ms", 12ms));
    co_await c;
    EXPECT_TRUE(a.done());
    EXPECT_TRUE(b.done());
    EXPECT_FALSE(longest.done());
    longest.cancel();
    EXPECT_THROW(co_await longest, CancelledError);
  };
  run(main());
  EXPECT_THAT(log, ElementsAre("1ms", "6ms", "12ms"));
}

TEST(Sleep, EqualDurationsWakeInTheOrderTheTasksSlept) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 10; ++i) {
      tasks.push_back(create_task(sleep_then_log(log, std::to_string(i), 1ms)));
    }
    for (auto& t : tasks) co_await t;
  };
  run(main());
  EXPECT_THAT(log, ElementsAre("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"));
}

TEST(Sleep, SleepZeroIsAPlainYieldTasksAlternate) {
  std::vector<std::string> log;
  auto worker = [](std::vector<std::string>& l, std::string name) -> Coro<void> {
    for (int i = 0; i < 3; ++i) {
      l.push_back(name);
      co_await sleep(0s);
    }
  };
  auto main = [&]() -> Coro<void> {
    Task<void> a = create_task(worker(log, "A"));
    Task<void> b = create_task(worker(log, "B"));
    co_await a;
    co_await b;
  };
  run(main());
  EXPECT_THAT(log, ElementsAre("A", "B", "A", "B", "A", "B"));
}

TEST(Sleep, SleepZeroLetsCallbacksQueuedBeforeItRun) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    EventLoop::current().call_soon([&] { log.push_back("callback"); });
    log.push_back("before");
    co_await sleep(0s);
    log.push_back("after");
  };
  run(main());
  EXPECT_THAT(log, ElementsAre("before", "callback", "after"));
}

TEST(Sleep, NegativeDurationIsAYield) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    EventLoop::current().call_soon([&] { log.push_back("callback"); });
    co_await sleep(-5ms);
    log.push_back("after");
  };
  run(main());
  EXPECT_THAT(log, ElementsAre("callback", "after"));
}

TEST(Sleep, AcceptsAnyChronoDuration) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    // The shorter sleep starts first: two timers started in the other order would race on a
    // machine stalled for more than their difference. A 3000us mistaken for zero would be a
    // plain yield and log first: the order still catches it.
    Task<void> b = create_task([](std::vector<std::string>& l) -> Coro<void> {
      co_await sleep(std::chrono::duration<double, std::milli>(0.5));
      l.push_back("0.5ms");
    }(log));
    Task<void> a = create_task(sleep_then_log(log, "3000us", std::chrono::microseconds(3000)));
    co_await a;
    co_await b;
  };
  run(main());
  EXPECT_THAT(log, ElementsAre("0.5ms", "3000us"));
}

TEST(Sleep, SleepingTaskDoesNotBlockOthers) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    Task<void> sleeper = create_task(sleep_then_log(log, "sleeper", 1h));
    for (int i = 0; i < 3; ++i) {
      co_await sleep(0s);
      log.push_back("busy");
    }
    EXPECT_FALSE(sleeper.done());
    sleeper.cancel();
    EXPECT_THROW(co_await sleeper, CancelledError);
  };
  run(main());
  EXPECT_THAT(log, ElementsAre("busy", "busy", "busy"));
}

TEST(Sleep, TimersFireWhileOtherTasksKeepTheLoopBusy) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<int> {
    bool woke = false;
    Task<void> sleeper = create_task([](bool& w) -> Coro<void> {
      co_await sleep(1ms);
      w = true;
    }(woke));
    int n = 0;
    while (!woke && n < 10000000) {  // bounded: a starved timer fails, not hangs
      ++n;
      co_await sleep(0s);
    }
    co_await sleeper;
    co_return n;
  };
  EXPECT_LT(run(main()), 10000000);
}

TEST(Sleep, CancelRemovesTheTimerAtOnce) {
  EventLoop loop;
  Task<void> t = loop.create_task([]() -> Coro<void> { co_await sleep(1h); }());
  loop.run_until_complete([]() -> Coro<void> { co_await sleep(0s); }());
  EXPECT_EQ(loop.timer_queue().size(), 1u);
  t.cancel();
  EXPECT_EQ(loop.timer_queue().size(), 0u);
  EXPECT_THROW(loop.run_until_complete(t), CancelledError);
}

TEST(Sleep, ClosingTheLoopRemovesASleepingTasksTimer) {
  // The timer node lives in the sleeping coroutine's frame; when the loop closes with
  // the task pending, the frame is destroyed and the node must leave the queue with it
  // (ASan would report a use after free otherwise).
  EventLoop loop;
  loop.set_exception_handler([](EventLoop&, const ExceptionContext&) {});
  Task<void> t = loop.create_task([]() -> Coro<void> { co_await sleep(1h); }());
  loop.run_until_complete([]() -> Coro<void> { co_await sleep(0s); }());
  EXPECT_EQ(loop.timer_queue().size(), 1u);
  loop.close();
  EXPECT_EQ(loop.timer_queue().size(), 0u);
}

}  // namespace
}  // namespace weft
