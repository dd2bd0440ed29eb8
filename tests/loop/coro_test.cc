// Tests for Coro<T>: laziness, inline co_await, results of every kind (void, values,
// references, move-only), exception propagation, deep chains, and misuse (awaiting twice,
// moved-from, never awaited in debug mode).
//
// Foreign awaitables inside a Coro: foreign_awaitable_test.cc.

#include "loop/coro.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <coroutine>
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
using loop_test::HandlerLog;

Coro<void> set_flag(bool& flag) {
  flag = true;
  co_return;
}

Coro<int> add(int a, int b) { co_return a + b; }

Coro<int> nested(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await nested(depth - 1);
}

Coro<int&> ref_to(int& x) { co_return x; }

Coro<std::unique_ptr<int>> make_unique_int(int v) { co_return std::make_unique<int>(v); }

Coro<std::string> append_after_yield(std::string s) {
  co_await sleep(0s);
  co_return s + "!";
}

struct CustomError : std::runtime_error {
  explicit CustomError(int c) : std::runtime_error("custom"), code(c) {}
  int code;
};

Coro<int> throws_at_depth(int depth) {
  if (depth == 0) throw CustomError(depth + 42);
  co_return co_await throws_at_depth(depth - 1);
}

Coro<int> throws_after_suspending() {
  co_await sleep(0s);
  throw CustomError(7);
}

TEST(Coro, IsLazyNothingRunsBeforeAwait) {
  bool ran = false;
  auto main = [](bool& r) -> Coro<void> {
    Coro<void> c = set_flag(r);
    EXPECT_FALSE(r);
    co_await sleep(0s);  // a whole loop step: still nothing
    EXPECT_FALSE(r);
    co_await c;
    EXPECT_TRUE(r);
  };
  run(main(ran));
  EXPECT_TRUE(ran);
}

TEST(Coro, CreatingOneOutsideALoopRunsNothing) {
  bool ran = false;
  {
    Coro<void> c = set_flag(ran);
    EXPECT_TRUE(c);
  }
  EXPECT_FALSE(ran);
}

TEST(Coro, CoAwaitRunsInlineWithoutATripThroughTheLoop) {
  std::vector<std::string> log;
  auto inner = [](std::vector<std::string>& l) -> Coro<int> {
    l.push_back("inner");
    co_return 1;
  };
  auto main = [&]() -> Coro<void> {
    EventLoop::current().call_soon([&] { log.push_back("callback"); });
    int v = co_await inner(log);
    log.push_back("after inner");
    EXPECT_EQ(v, 1);
    co_await sleep(0s);
    log.push_back("after yield");
  };
  run(main());
  // The callback was queued first, but the inline await did not give the loop a turn.
  EXPECT_THAT(log, ElementsAre("inner", "after inner", "callback", "after yield"));
}

TEST(Coro, VoidValueAndReferenceResults) {
  int outside = 1;
  auto main = [&]() -> Coro<void> {
    bool flag = false;
    co_await set_flag(flag);
    EXPECT_TRUE(flag);
    EXPECT_EQ(co_await add(20, 22), 42);
    int& r = co_await ref_to(outside);
    EXPECT_EQ(&r, &outside);
    r = 5;
  };
  run(main());
  EXPECT_EQ(outside, 5);
}

TEST(Coro, ReferenceResultThroughATask) {
  int outside = 3;
  auto main = [&]() -> Coro<int*> {
    Task<int&> t = create_task(ref_to(outside));
    int& r = co_await t;
    co_return &r;
  };
  EXPECT_EQ(run(main()), &outside);
}

TEST(Coro, MoveOnlyResults) {
  auto main = []() -> Coro<int> {
    std::unique_ptr<int> a = co_await make_unique_int(4);
    std::unique_ptr<int> b = co_await create_task(make_unique_int(5));
    Task<std::unique_ptr<int>> t = create_task(make_unique_int(6));
    std::unique_ptr<int> c = co_await std::move(t);
    co_return *a + *b + *c;
  };
  EXPECT_EQ(run(main()), 15);
  // A move-only result can also be main's own result.
  EXPECT_EQ(*run(make_unique_int(9)), 9);
}

struct NoDefault {
  explicit NoDefault(int v) : value(v) {}
  int value;
};

TEST(Coro, ResultTypeWithoutDefaultConstructor) {
  auto make = [](int v) -> Coro<NoDefault> {
    co_await sleep(0s);
    co_return NoDefault(v);
  };
  auto main = [&]() -> Coro<int> {
    NoDefault a = co_await make(1);
    NoDefault b = co_await create_task(make(2));
    Future<NoDefault> f = EventLoop::current().create_future<NoDefault>();
    f.set_result(NoDefault(3));
    NoDefault c = co_await f;
    co_return a.value + b.value + c.value;
  };
  EXPECT_EQ(run(main()), 6);
}

TEST(Coro, ResultsAfterSuspending) {
  auto main = []() -> Coro<std::string> {
    std::string a = co_await append_after_yield("a");
    co_return a + co_await append_after_yield("b");
  };
  EXPECT_EQ(run(main()), "a!b!");
}

TEST(Coro, ExceptionsPropagateThroughNestedCoros) {
  auto main = []() -> Coro<int> {
    try {
      co_await throws_at_depth(10);
    } catch (const CustomError& e) {
      co_return e.code;
    }
    co_return -1;
  };
  EXPECT_EQ(run(main()), 42);
}

TEST(Coro, ExceptionsPropagateThroughTasksAndCoros) {
  // main -> Coro -> Task -> Coro -> Coro that throws after suspending.
  auto via_task = []() -> Coro<int> { co_return co_await create_task(throws_after_suspending()); };
  auto wrapper = [&]() -> Coro<int> { co_return co_await via_task(); };
  auto main = [&]() -> Coro<int> {
    try {
      co_await wrapper();
    } catch (const CustomError& e) {
      co_return e.code;
    }
    co_return -1;
  };
  EXPECT_EQ(run(main()), 7);
}

TEST(Coro, ExceptionEscapingMainIsRethrownByRun) {
  EXPECT_THROW(run(throws_at_depth(3)), CustomError);
}

TEST(Coro, AfterACaughtExceptionTheCoroutineContinues) {
  auto main = []() -> Coro<int> {
    int caught = 0;
    for (int i = 0; i < 3; ++i) {
      try {
        co_await throws_after_suspending();
      } catch (const CustomError&) {
        ++caught;
      }
    }
    co_return caught + co_await add(1, 1);
  };
  EXPECT_EQ(run(main()), 5);
}

TEST(Coro, MillionLevelNestedChainDoesNotOverflowTheStack) {
  EXPECT_EQ(run(nested(1000000)), 1000000);
}

TEST(Coro, AwaitingTwiceRaises) {
  std::string error;
  auto main = [&]() -> Coro<int> {
    Coro<int> c = add(1, 2);
    int v = co_await c;
    try {
      co_await c;
    } catch (const RuntimeError& e) {
      error = e.what();
    }
    co_return v;
  };
  EXPECT_EQ(run(main()), 3);
  EXPECT_THAT(error, HasSubstr("'add'"));
  EXPECT_THAT(error, HasSubstr("already awaited"));
  EXPECT_THAT(error, HasSubstr("create_task"));
}

TEST(Coro, WrappingInATaskAfterAwaitingRaises) {
  std::string error;
  auto main = [&]() -> Coro<void> {
    Coro<int> c = add(1, 2);
    co_await c;
    try {
      create_task(std::move(c));
    } catch (const RuntimeError& e) {
      error = e.what();
    }
  };
  run(main());
  EXPECT_THAT(error, HasSubstr("already awaited or wrapped in a Task"));
}

TEST(Coro, MovedFromRaises) {
  std::string await_error, task_error;
  auto main = [&]() -> Coro<int> {
    Coro<int> a = add(2, 2);
    Coro<int> b = std::move(a);
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): testing the moved-from state
    EXPECT_TRUE(b);
    try {
      co_await a;  // NOLINT(bugprone-use-after-move)
    } catch (const RuntimeError& e) {
      await_error = e.what();
    }
    try {
      create_task(std::move(a));  // NOLINT(bugprone-use-after-move)
    } catch (const RuntimeError& e) {
      task_error = e.what();
    }
    co_return co_await b;
  };
  EXPECT_EQ(run(main()), 4);
  EXPECT_THAT(await_error, HasSubstr("empty"));
  EXPECT_THAT(task_error, HasSubstr("empty"));
}

// A minimal eager coroutine type that is not weft's: it runs at once and records the outcome.
struct Detached {
  struct promise_type {
    Detached get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
  };
};

Coro<int> sleeps_then_returns() {
  co_await sleep(0s);
  co_return 1;
}

TEST(Coro, WeftAwaitableOutsideATaskRaises) {
  // A Coro awaited from a coroutine that is not run by a weft Task has no task to suspend:
  // weft's own awaitables (sleep, Future, Task) raise a clear RuntimeError instead.
  std::string error;
  [](std::string& err) -> Detached {
    try {
      co_await sleeps_then_returns();
    } catch (const RuntimeError& e) {
      err = e.what();
    }
  }(error);
  EXPECT_THAT(error, HasSubstr("outside a weft Task"));
}

TEST(Coro, DefaultConstructedIsEmpty) {
  Coro<int> c;
  EXPECT_FALSE(c);
  EXPECT_STREQ(c.function_name(), "");
}

TEST(Coro, FunctionNameNamesTheCoroutineFunction) {
  Coro<int> c = add(1, 2);
  EXPECT_THAT(c.function_name(), HasSubstr("add"));
  EventLoop loop;
  EXPECT_EQ(loop.run_until_complete(std::move(c)), 3);
}

Coro<void> forgotten_coroutine() { co_return; }

TEST(Coro, NeverAwaitedIsReportedInDebugMode) {
  EventLoop loop;
  loop.set_debug(true);
  // Symbolising the stacks takes milliseconds (more under a sanitizer): not a slow step here.
  loop.set_slow_callback_duration(std::chrono::hours(1));
  HandlerLog log;
  log.install(loop);
  loop.run_until_complete([]() -> Coro<void> {
    { Coro<void> dropped = forgotten_coroutine(); }
    co_return;
  }());
  ASSERT_EQ(log.contexts.size(), 1u);
  const ExceptionContext& ctx = log.contexts[0];
  EXPECT_THAT(ctx.message, HasSubstr("coroutine '"));
  EXPECT_THAT(ctx.message, HasSubstr("forgotten_coroutine"));
  EXPECT_THAT(ctx.message, HasSubstr("was never awaited"));
  // The report says where the coroutine is defined.
  EXPECT_THAT(ctx.source, HasSubstr("coro_test.cc"));
}

TEST(Coro, NeverAwaitedIsReportedFromACallbackInDebugMode) {
  EventLoop loop;
  loop.set_debug(true);
  HandlerLog log;
  log.install(loop);
  loop.call_soon([&] {
    { Coro<void> dropped = forgotten_coroutine(); }
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(log.count("was never awaited"), 1);
}

TEST(Coro, NeverAwaitedIsNotReportedOutsideDebugMode) {
  EventLoop loop;
  HandlerLog log;
  log.install(loop);
  loop.run_until_complete([]() -> Coro<void> {
    { Coro<void> dropped = forgotten_coroutine(); }
    co_return;
  }());
  EXPECT_TRUE(log.contexts.empty());
}

TEST(Coro, AwaitedOrWrappedCorosAreNotReportedInDebugMode) {
  EventLoop loop;
  loop.set_debug(true);
  HandlerLog log;
  log.install(loop);
  loop.run_until_complete([]() -> Coro<void> {
    co_await forgotten_coroutine();
    Task<void> t = create_task(forgotten_coroutine());
    co_await t;
    Coro<void> moved = forgotten_coroutine();
    Coro<void> target = std::move(moved);  // only the frame's final owner counts
    co_await target;
  }());
  EXPECT_TRUE(log.contexts.empty()) << log.contexts[0].message;
}

TEST(Coro, MoveAssignmentDestroysThePreviousFrame) {
  auto owned = std::make_shared<int>(0);
  auto holder = [](std::shared_ptr<int> p) -> Coro<int> { co_return *p; };
  Coro<int> c = holder(owned);
  EXPECT_EQ(owned.use_count(), 2);  // the frame holds a copy
  c = add(1, 2);
  EXPECT_EQ(owned.use_count(), 1);
  EventLoop loop;
  EXPECT_EQ(loop.run_until_complete(std::move(c)), 3);
}

TEST(Coro, FrameIsDestroyedAfterCompletion) {
  auto owned = std::make_shared<int>(0);
  auto holder = [](std::shared_ptr<int> p) -> Coro<void> {
    co_await sleep(0s);
    co_return;
  };
  auto main = [&]() -> Coro<void> {
    co_await holder(owned);
    EXPECT_EQ(owned.use_count(), 1);
  };
  run(main());
}

}  // namespace
}  // namespace weft
