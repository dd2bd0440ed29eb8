#include "loop/wait_for.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "loop/weft.h"
#include "tests/loop/test_util.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using testing::HandlerLog;

Coro<int> value_after(int v, Duration d) {
  co_await sleep(d);
  co_return v;
}

// Sleeps for `d`; when cancelled, spends `cleanup` before re-raising, logging both.
Coro<int> slow(Duration d, Duration cleanup, std::vector<std::string>* log) {
  try {
    co_await sleep(d);
  } catch (const CancelledError&) {
    log->push_back("inner cancelled");
  }
  co_await sleep(cleanup);
  log->push_back("inner cleaned up");
  throw CancelledError();
}

Coro<int> swallow_cancel(int v) {
  try {
    co_await sleep(1h);
  } catch (const CancelledError&) {
  }
  co_return v;
}

TEST(WaitFor, ReturnsTheResultInTime) {
  auto main = []() -> Coro<void> {
    EXPECT_EQ(co_await wait_for(value_after(3, 0s), 1h), 3);
    Task<int> t = create_task(value_after(4, 1ms));
    EXPECT_EQ(co_await wait_for(t, 1h), 4);
    EXPECT_EQ(t.result(), 4);  // an lvalue Task keeps its value
    EXPECT_EQ(co_await wait_for(value_after(5, 1ms), std::nullopt), 5);
    auto make = []() -> Coro<std::unique_ptr<int>> { co_return std::make_unique<int>(6); };
    EXPECT_EQ(*co_await wait_for(make(), 1h), 6);
    co_await wait_for(sleep(0s), 1h);  // void
  };
  run(main());
}

TEST(WaitFor, TimeoutCancelsTheInnerAndWaitsForItsCleanup) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    try {
      co_await wait_for(slow(1h, 2ms, &log), 1ms);
      ADD_FAILURE();
    } catch (const TimeoutError&) {
      log.push_back("timeout");
    }
    EXPECT_EQ(internal::current_task_or_null()->cancelling(), 0);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"inner cancelled", "inner cleaned up", "timeout"}));
}

TEST(WaitFor, InnerThatSwallowsTheTimeoutCancellationGivesItsValue) {
  auto main = []() -> Coro<void> {
    Task<int> inner = create_task(swallow_cancel(42));
    EXPECT_EQ(co_await wait_for(inner, 1ms), 42);  // asyncio 3.12 does the same
    EXPECT_FALSE(inner.cancelled());
  };
  run(main());
}

TEST(WaitFor, InnerFailingDuringItsCleanupPropagatesThatError) {
  auto main = []() -> Coro<void> {
    auto inner = []() -> Coro<int> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
      }
      throw std::runtime_error("cleanup failed");
    };
    try {
      co_await wait_for(inner(), 1ms);
      ADD_FAILURE();
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "cleanup failed");
    }
  };
  run(main());
}

TEST(WaitFor, ZeroOrNegativeTimeout) {
  auto main = []() -> Coro<void> {
    // Done already: the result.
    Task<int> done = create_task(value_after(1, 0s));
    while (!done.done()) co_await sleep(0s);
    EXPECT_EQ(co_await wait_for(done, 0s), 1);
    EXPECT_EQ(co_await wait_for(done, -1s), 1);
    // A coroutine is cancelled before it ever runs (CPython
    // test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started).
    bool started = false;
    auto flag = [](bool* s) -> Coro<int> {
      *s = true;
      co_return 0;
    };
    EXPECT_THROW(co_await wait_for(flag(&started), 0s), TimeoutError);
    EXPECT_FALSE(started);
    // A future is cancelled on the spot.
    Future<int> f = EventLoop::current().create_future<int>();
    EXPECT_THROW(co_await wait_for(f, -1ms), TimeoutError);
    EXPECT_TRUE(f.cancelled());
  };
  run(main());
}

TEST(WaitFor, FutureTimesOut) {
  auto main = []() -> Coro<void> {
    Future<int> f = EventLoop::current().create_future<int>();
    EXPECT_THROW(co_await wait_for(f, 1ms), TimeoutError);
    EXPECT_TRUE(f.cancelled());
  };
  run(main());
}

TEST(WaitFor, CancellingTheOuterCancelsAndAwaitsTheInner) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    Task<int> outer = create_task(wait_for(slow(1h, 1ms, &log), 1h));
    co_await sleep(0s);
    co_await sleep(0s);
    outer.cancel("outer");
    try {
      co_await outer;
      ADD_FAILURE();
    } catch (const CancelledError& e) {
      EXPECT_EQ(e.message(), "outer");
      log.push_back("outer cancelled");
    }
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"inner cancelled", "inner cleaned up",
                                           "outer cancelled"}));
}

TEST(WaitFor, OuterCancellationIsNotLostWhenTheInnerSwallowsIt) {
  auto main = []() -> Coro<void> {
    Task<int> inner = create_task(swallow_cancel(7));
    Task<int> outer = create_task(wait_for(inner, 1h));
    co_await sleep(0s);
    outer.cancel();
    bool raised = false;
    try {
      co_await outer;
    } catch (const CancelledError&) {
      raised = true;  // asyncio 3.12 returns 7 here and the cancellation is gone
    }
    EXPECT_TRUE(raised);
    EXPECT_EQ(co_await inner, 7);
  };
  run(main());
}

// gh-86296: the outer is cancelled after the inner has completed but before the outer has
// resumed. Old asyncio returned the result and dropped the cancellation.
TEST(WaitFor, OuterCancellationRacingWithCompletionIsNotLost) {
  auto main = []() -> Coro<void> {
    Task<int> outer;
    auto inner = [](Task<int>* outer) -> Coro<int> {
      co_await sleep(1ms);
      // Runs after this step, before the outer (woken by our completion) resumes.
      EventLoop::current().call_soon([outer] { outer->cancel("racing"); });
      co_return 1;
    };
    outer = create_task(wait_for(inner(&outer), 1h));
    bool raised = false;
    try {
      co_await outer;
    } catch (const CancelledError& e) {
      raised = true;
      EXPECT_EQ(e.message(), "racing");
    }
    EXPECT_TRUE(raised);
  };
  run(main());
}

TEST(WaitFor, InnerFailingWhileTheOuterIsCancelledIsReported) {
  HandlerLog handler;
  auto main = [&]() -> Coro<void> {
    handler.install();
    auto inner = []() -> Coro<int> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
      }
      co_await sleep(0s);
      throw std::runtime_error("inner broke");
    };
    Task<int> outer = create_task(wait_for(inner(), 1h));
    co_await sleep(0s);
    co_await sleep(0s);
    outer.cancel();
    EXPECT_THROW(co_await outer, CancelledError);
  };
  run(main());
  EXPECT_EQ(handler.count("wait_for() was cancelled"), 1u) << handler.dump();
}

TEST(WaitFor, ShieldInsideWaitForTimesOutAndTheShieldedWorkGoesOn) {
  auto main = []() -> Coro<void> {
    Future<int> gate = EventLoop::current().create_future<int>();
    Task<int> work = create_task(testing::value_when(gate));
    EXPECT_THROW(co_await wait_for(shield(work), 1ms), TimeoutError);
    EXPECT_FALSE(work.done());
    EXPECT_FALSE(work.cancelled());
    gate.set_result(9);
    EXPECT_EQ(co_await work, 9);
  };
  run(main());
}

TEST(WaitFor, NestedWaitForsTimeOutInnermostFirst) {
  auto main = []() -> Coro<void> {
    auto middle = []() -> Coro<int> {
      try {
        co_return co_await wait_for(value_after(1, 1h), 1ms);
      } catch (const TimeoutError&) {
        co_return -1;
      }
    };
    EXPECT_EQ(co_await wait_for(middle(), 1h), -1);
  };
  run(main());
}

// CPython test_wait_for_self_cancellation: the inner holds up the timeout's cancellation;
// the outer must still be cancellable, and the inner keeps its own result.
TEST(WaitFor, CPythonSelfCancellation) {
  auto main = []() -> Coro<void> {
    // Only cancellations wake the inner: the first can only be the timeout's, and the outer
    // is cancelled once the inner has ignored it (CPython's 3 ms / 2 ms sleeps would race
    // with the 1 ms timeout on a stalled machine).
    int ignored = 0;
    auto inner = [](int* ignored) -> Coro<int> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
        // First cancellation (the timeout): ignored.
        ++*ignored;
      }
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
        // Second (the outer's): ignored too.
        ++*ignored;
      }
      co_await sleep(1ms);
      co_return 42;
    };
    Task<int> inner_task = create_task(inner(&ignored));
    Task<int> outer = create_task(wait_for(inner_task, 1ms));
    while (ignored < 1) co_await sleep(0s);
    EXPECT_FALSE(outer.done());  // the timeout's cancellation was held up by the inner
    outer.cancel();
    EXPECT_THROW(co_await outer, CancelledError);
    EXPECT_EQ(co_await inner_task, 42);
    EXPECT_EQ(ignored, 2);
  };
  run(main());
}

// CPython test_wait_for_race_condition: the inner completes exactly as the timeout is due;
// its result wins.
TEST(WaitFor, CPythonRaceCondition) {
  auto main = []() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    Future<int> f = loop.create_future<int>();
    // The same deadline: the callback is queued first, so it fires first.
    loop.call_later(1ms, [f]() mutable { f.set_result(10); });
    EXPECT_EQ(co_await wait_for(f, 1ms), 10);
  };
  run(main());
}

}  // namespace
}  // namespace weft
