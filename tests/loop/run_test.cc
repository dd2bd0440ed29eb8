// Tests for weft::run: the result or exception of main, the asyncio.run-style shutdown
// (pending tasks are cancelled and run their cleanup, errors during shutdown go to the
// exception handler), and misuse.

#include "loop/run.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "loop/weft.h"
#include "tests/loop/test_util.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using loop_test::HandlerLog;

Coro<int> add(int a, int b) {
  co_await sleep(0s);
  co_return a + b;
}

TEST(Run, ReturnsMainsResult) {
  EXPECT_EQ(run(add(2, 3)), 5);
  EXPECT_EQ(run([]() -> Coro<std::string> { co_return "text"; }()), "text");
  EXPECT_EQ(*run([]() -> Coro<std::unique_ptr<int>> { co_return std::make_unique<int>(3); }()), 3);
}

TEST(Run, VoidMain) {
  bool ran = false;
  run([](bool& r) -> Coro<void> {
    co_await sleep(0s);
    r = true;
  }(ran));
  EXPECT_TRUE(ran);
}

TEST(Run, ReferenceResult) {
  int outside = 0;
  int& r = run([](int& o) -> Coro<int&> { co_return o; }(outside));
  EXPECT_EQ(&r, &outside);
}

TEST(Run, RethrowsMainsException) {
  try {
    run([]() -> Coro<int> {
      co_await sleep(0s);
      throw std::domain_error("main failed");
    }());
    FAIL();
  } catch (const std::domain_error& e) {
    EXPECT_STREQ(e.what(), "main failed");
  }
}

TEST(Run, RaisesCancelledErrorIfMainEndsCancelled) {
  // Main awaits a future that another task cancels: the CancelledError escapes main, whose
  // task then ends cancelled, and run() raises it.
  try {
    run([]() -> Coro<void> {
      Future<int> f = EventLoop::current().create_future<int>();
      create_task([](Future<int> fut) -> Coro<void> {
        co_await sleep(0s);
        fut.cancel("cancelled from outside");
      }(f));
      co_await f;
    }());
    FAIL();
  } catch (const CancelledError& e) {
    EXPECT_EQ(e.message(), "cancelled from outside");
  }
}

TEST(Run, RunsOnAFreshLoopEachTimeAndLeavesNoLoopRunning) {
  EventLoop* first = nullptr;
  EventLoop* second = nullptr;
  run([](EventLoop*& out) -> Coro<void> {
    out = &EventLoop::current();
    co_return;
  }(first));
  EXPECT_EQ(EventLoop::current_or_null(), nullptr);
  run([](EventLoop*& out) -> Coro<void> {
    out = &EventLoop::current();
    co_return;
  }(second));
  EXPECT_NE(first, nullptr);
  EXPECT_NE(second, nullptr);
  EXPECT_EQ(EventLoop::current_or_null(), nullptr);
}

TEST(Run, DebugOption) {
  EXPECT_TRUE(run([]() -> Coro<bool> { co_return EventLoop::current().get_debug(); }(),
                  RunOptions{.debug = true}));
  EXPECT_FALSE(run([]() -> Coro<bool> { co_return EventLoop::current().get_debug(); }(),
                   RunOptions{.debug = false}));
}

TEST(Run, InsideARunningLoopRaises) {
  std::string error;
  bool inner_ran = false;
  run([](std::string& err, bool& ran) -> Coro<void> {
    try {
      run([](bool& r) -> Coro<void> {
        r = true;
        co_return;
      }(ran));
    } catch (const RuntimeError& e) {
      err = e.what();
    }
    co_return;
  }(error, inner_ran));
  EXPECT_THAT(error, HasSubstr("weft::run"));
  EXPECT_THAT(error, HasSubstr("running event loop"));
  EXPECT_FALSE(inner_ran);
}

TEST(Run, InsideALoopRunningOnThisThreadRaises) {
  EventLoop loop;
  std::string error;
  loop.call_soon([&] {
    try {
      run(add(1, 2));
    } catch (const RuntimeError& e) {
      error = e.what();
    }
    loop.stop();
  });
  loop.run_forever();
  EXPECT_THAT(error, HasSubstr("running event loop"));
}

// --- shutdown ---

TEST(RunShutdown, PendingTasksAreCancelledAndRunTheirCleanup) {
  std::vector<std::string> log;
  int result = run([](std::vector<std::string>& l) -> Coro<int> {
    auto worker = [](std::vector<std::string>& lg, std::string name) -> Coro<void> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
        lg.push_back(name + " cancelled");
        throw;
      }
    };
    create_task(worker(l, "a"));
    create_task(worker(l, "b"));
    co_await sleep(0s);  // both are now sleeping
    co_return 1;
  }(log));
  EXPECT_EQ(result, 1);
  EXPECT_THAT(log, ElementsAre("a cancelled", "b cancelled"));
}

TEST(RunShutdown, CleanupThatAwaitsRunsToCompletion) {
  std::vector<std::string> log;
  run([](std::vector<std::string>& l) -> Coro<void> {
    auto worker = [](std::vector<std::string>& lg) -> Coro<void> {
      std::exception_ptr cancelled;
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
        cancelled = std::current_exception();
      }
      if (cancelled) {
        lg.push_back("cleanup start");
        co_await sleep(1ms);
        co_await add(1, 1);
        lg.push_back("cleanup done");
        std::rethrow_exception(cancelled);
      }
    };
    create_task(worker(l));
    co_await sleep(0s);
  }(log));
  EXPECT_THAT(log, ElementsAre("cleanup start", "cleanup done"));
}

TEST(RunShutdown, TasksNotYetStartedAreCancelledToo) {
  bool ran = false;
  run([](bool& r) -> Coro<void> {
    create_task([](bool& rr) -> Coro<void> {
      rr = true;
      co_return;
    }(r));
    co_return;  // main ends before the task's first step
  }(ran));
  EXPECT_FALSE(ran);  // asyncio: cancelled before it started, it never runs
}

TEST(RunShutdown, TaskThatSwallowsCancellationStillLetsRunReturn) {
  bool finished = false;
  run([](bool& f) -> Coro<void> {
    create_task([](bool& ff) -> Coro<void> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
      }
      co_await sleep(1ms);
      ff = true;
    }(f));
    co_await sleep(0s);
  }(finished));
  EXPECT_TRUE(finished);
}

TEST(RunShutdown, ErrorsRaisedDuringShutdownGoToTheHandler) {
  auto log = std::make_shared<HandlerLog>();
  run([](std::shared_ptr<HandlerLog> hl) -> Coro<void> {
    hl->install_current();
    create_task(
        []() -> Coro<void> {
          try {
            co_await sleep(1h);
          } catch (const CancelledError&) {
            throw std::runtime_error("cleanup failed");
          }
        }(),
        "bad-cleanup");
    co_await sleep(0s);
  }(log));
  ASSERT_EQ(log->contexts.size(), 1u);
  const ExceptionContext& ctx = log->contexts[0];
  EXPECT_THAT(ctx.message, HasSubstr("shutdown"));
  EXPECT_EQ(loop_test::what(ctx.exception), "cleanup failed");
  EXPECT_EQ(ctx.task, "bad-cleanup");
}

TEST(RunShutdown, MainsExceptionStillShutsDownAndCleansUp) {
  std::vector<std::string> log;
  EXPECT_THROW(run([](std::vector<std::string>& l) -> Coro<void> {
                 create_task([](std::vector<std::string>& lg) -> Coro<void> {
                   try {
                     co_await sleep(1h);
                   } catch (const CancelledError&) {
                     lg.push_back("cleaned");
                     throw;
                   }
                 }(l));
                 co_await sleep(0s);
                 throw std::runtime_error("main failed");
               }(log)),
               std::runtime_error);
  EXPECT_THAT(log, ElementsAre("cleaned"));
}

TEST(RunShutdown, PendingTimersAndCallbacksDoNotDelayReturn) {
  // An hour-long timer and a pending future must not keep run() from returning.
  int v = run([]() -> Coro<int> {
    EventLoop& loop = EventLoop::current();
    loop.call_later(1h, [] {});
    Future<int> never = loop.create_future<int>();
    create_task([](Future<int> f) -> Coro<int> { co_return co_await f; }(never));
    co_await sleep(0s);
    co_return 3;
  }());
  EXPECT_EQ(v, 3);
}

TEST(RunShutdown, NothingIsReportedOnANormalShutdown) {
  auto log = std::make_shared<HandlerLog>();
  run([](std::shared_ptr<HandlerLog> hl) -> Coro<void> {
    hl->install_current();
    for (int i = 0; i < 5; ++i) create_task([]() -> Coro<void> { co_await sleep(1h); }());
    co_await sleep(0s);
  }(log));
  EXPECT_TRUE(log->contexts.empty()) << log->contexts[0].message;
}

TEST(RunShutdown, TaskAwaitingAnotherPendingTaskIsCancelledCleanly) {
  std::vector<std::string> log;
  auto log_ptr = std::make_shared<HandlerLog>();
  run([](std::vector<std::string>& l, std::shared_ptr<HandlerLog> hl) -> Coro<void> {
    hl->install_current();
    auto leaf = [](std::vector<std::string>& lg) -> Coro<int> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
        lg.push_back("leaf");
        throw;
      }
      co_return 0;
    };
    auto waiter = [](Task<int> t, std::vector<std::string>& lg) -> Coro<void> {
      try {
        co_await t;
      } catch (const CancelledError&) {
        lg.push_back("waiter");
        throw;
      }
    };
    Task<int> t = create_task(leaf(l));
    create_task(waiter(t, l));
    co_await sleep(0s);
  }(log, log_ptr));
  EXPECT_THAT(log, UnorderedElementsAre("leaf", "waiter"));
  EXPECT_TRUE(log_ptr->contexts.empty()) << log_ptr->contexts[0].message;
}

}  // namespace
}  // namespace weft
