// Creation sites in debug mode (loop/creation_site.h): every report about a Handle says where
// it was scheduled, every report about a Future where it was created, and "never awaited"
// where the Coro was created ("Coroutine created at (most recent call last)"), not only
// where it was dropped. Outside debug mode, none of it.
#include "loop/creation_site.h"

#include <stdexcept>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loop/weft.h"
#include "tests/loop/test_util.h"

namespace weft {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

const std::string kFile = "tests/introspect/creation_site_test.cc";
std::string here(int line) { return kFile + ":" + std::to_string(line); }

// --- Coros: where created, where dropped. ---

Coro<int> forgotten() { co_return 1; }

__attribute__((noinline)) Coro<int> create_a_coro_here() { return forgotten(); }

__attribute__((noinline)) void drop_it_elsewhere(Coro<int>&& c) {
  Coro<int> local = std::move(c);
}  // the mistake: it is dropped here, never awaited

TEST(CoroCreatedAt, NeverAwaitedNamesTheFunctionThatCreatedIt) {
  EventLoop loop;
  loop.set_debug(true);
  // Symbolising the stacks takes milliseconds (more under a sanitizer): not a slow step here.
  loop.set_slow_callback_duration(std::chrono::hours(1));
  loop_test::HandlerLog log;
  log.install(loop);
  auto body = []() -> Coro<void> {
    Coro<int> c = create_a_coro_here();
    drop_it_elsewhere(std::move(c));
    co_return;
  };
  loop.run_until_complete(body());
  ASSERT_EQ(log.contexts.size(), 1u);
  const ExceptionContext& ctx = log.contexts[0];
  EXPECT_EQ(ctx.message, "coroutine 'forgotten' was never awaited");
  // Created by create_a_coro_here, dropped by drop_it_elsewhere: each stack names its own.
  EXPECT_THAT(ctx.source_traceback, HasSubstr("create_a_coro_here"));
  EXPECT_THAT(ctx.source_traceback, Not(HasSubstr("drop_it_elsewhere")));
  EXPECT_THAT(ctx.stack, HasSubstr("drop_it_elsewhere"));
  // Most recent call last: the creating function comes after the test body that called it.
  size_t creator = ctx.source_traceback.find("create_a_coro_here");
  size_t body_frame = ctx.source_traceback.find("CoroCreatedAt_NeverAwaited");
  if (body_frame != std::string::npos) EXPECT_LT(body_frame, creator);
  EXPECT_THAT(ctx.to_string(), HasSubstr("Coroutine created at (most recent call last):\n    #"));
  RecordProperty("report", ctx.to_string());  // in test.xml, for the docs
}

TEST(CoroCreatedAt, NoStackForACoroCreatedOutsideDebugMode) {
  EventLoop loop;
  loop_test::HandlerLog log;
  log.install(loop);
  auto body = [&loop]() -> Coro<void> {
    Coro<int> c = create_a_coro_here();  // debug mode off: nothing captured
    loop.set_debug(true);
    drop_it_elsewhere(std::move(c));
    co_return;
  };
  loop.run_until_complete(body());
  loop.set_debug(false);
  ASSERT_EQ(log.contexts.size(), 1u);
  EXPECT_EQ(log.contexts[0].source_traceback, "");
  EXPECT_THAT(log.contexts[0].stack, HasSubstr("drop_it_elsewhere"));
  EXPECT_THAT(log.contexts[0].to_string(), Not(HasSubstr("created at (most recent")));
}

TEST(CoroCreatedAt, TheCaptureCounterFollowsDebugMode) {
  int before = internal::g_debug_reasons.load();
  {
    EventLoop loop;
    loop.set_debug(true);
    EXPECT_EQ(internal::g_debug_reasons.load(), before + 1);
    loop.set_debug(true);  // no double count
    EXPECT_EQ(internal::g_debug_reasons.load(), before + 1);
  }  // a loop destroyed in debug mode stops counting
  EXPECT_EQ(internal::g_debug_reasons.load(), before);
}

// --- Handles: where scheduled. ---

TEST(HandleCreatedAt, SlowCallbackReportSaysWhereItWasScheduled) {
  EventLoop loop;
  loop.set_debug(true);
  loop.set_slow_callback_duration(Duration::zero());  // every callback is "slow"
  loop_test::HandlerLog log;
  log.install(loop);
  int line = 0;
  auto body = [&]() -> Coro<void> {
    line = __LINE__ + 1;
    EventLoop::current().call_soon([] {});
    co_await sleep(1ms);
  };
  loop.run_until_complete(body());
  bool found = false;
  for (const ExceptionContext& ctx : log.contexts) {
    if (ctx.handle.empty()) continue;  // the task's own steps
    found = true;
    EXPECT_EQ(ctx.handle, "<Handle created at " + here(line) + ">");
    EXPECT_EQ(ctx.source, here(line));
    EXPECT_THAT(ctx.message, HasSubstr("Executing <Handle created at " + here(line) + "> took"));
    EXPECT_THAT(ctx.to_string(), HasSubstr("created at: " + here(line)));
  }
  EXPECT_TRUE(found);
}

TEST(HandleCreatedAt, ExceptionInATimerCallbackSaysWhereItWasScheduled) {
  EventLoop loop;
  loop.set_debug(true);
  loop_test::HandlerLog log;
  log.install(loop);
  int line = 0;
  auto body = [&]() -> Coro<void> {
    line = __LINE__ + 1;
    EventLoop::current().call_later(1ms, [] { throw std::runtime_error("boom"); });
    co_await sleep(5ms);
  };
  loop.run_until_complete(body());
  ASSERT_EQ(log.contexts.size(), 1u);
  EXPECT_EQ(log.contexts[0].message, "Exception in callback");
  EXPECT_EQ(log.contexts[0].handle, "<Handle created at " + here(line) + ">");
  EXPECT_EQ(log.contexts[0].source, here(line));
}

TEST(HandleCreatedAt, NothingOutsideDebugMode) {
  EventLoop loop;
  loop.set_debug(false);
  loop_test::HandlerLog log;
  log.install(loop);
  loop.call_soon([] { throw std::runtime_error("boom"); });
  loop.call_soon([&loop] { loop.stop(); });
  loop.run_forever();
  ASSERT_EQ(log.contexts.size(), 1u);
  EXPECT_EQ(log.contexts[0].handle, "<Handle>");
  EXPECT_EQ(log.contexts[0].source, "");
}

// --- Futures: where created. ---

TEST(FutureCreatedAt, NeverRetrievedSaysWhereItWasCreated) {
  EventLoop loop;
  loop.set_debug(true);
  loop_test::HandlerLog log;
  log.install(loop);
  int line = 0;
  auto body = [&]() -> Coro<void> {
    line = __LINE__ + 1;
    Future<int> f = EventLoop::current().create_future<int>();
    EXPECT_EQ(f.base()->describe(), "<Future pending created at " + here(line) + ">");
    f.set_exception(std::make_exception_ptr(std::runtime_error("lost")));
    co_return;  // f goes, its exception never retrieved
  };
  loop.run_until_complete(body());
  ASSERT_EQ(log.contexts.size(), 1u);
  const ExceptionContext& ctx = log.contexts[0];
  EXPECT_EQ(ctx.message, "Future exception was never retrieved");
  EXPECT_EQ(ctx.future, "<Future finished exception created at " + here(line) + ">");
  EXPECT_EQ(ctx.source, here(line));
  EXPECT_THAT(ctx.to_string(), HasSubstr("created at: " + here(line)));
}

TEST(FutureCreatedAt, NothingOutsideDebugMode) {
  EventLoop loop;
  loop.set_debug(false);
  loop_test::HandlerLog log;
  log.install(loop);
  auto body = [&]() -> Coro<void> {
    Future<int> f = EventLoop::current().create_future<int>();
    EXPECT_EQ(f.base()->describe(), "<Future pending>");
    f.set_exception(std::make_exception_ptr(std::runtime_error("lost")));
    co_return;
  };
  loop.run_until_complete(body());
  ASSERT_EQ(log.contexts.size(), 1u);
  EXPECT_EQ(log.contexts[0].future, "<Future finished exception>");
  EXPECT_EQ(log.contexts[0].source, "");
}

// --- Tasks: where create_task / spawn was called. ---

Coro<int> failing_child() {
  throw std::runtime_error("lost");
  co_return 0;
}

TEST(TaskCreatedAt, NeverRetrievedSaysWhereTheTaskWasCreated) {
  EventLoop loop;
  loop.set_debug(true);
  loop.set_slow_callback_duration(std::chrono::hours(1));
  loop_test::HandlerLog log;
  log.install(loop);
  int line = 0;
  auto body = [&]() -> Coro<void> {
    line = __LINE__ + 1;
    Task<int> t = create_task(failing_child(), "child");
    EXPECT_THAT(t.base()->describe(), EndsWith(" created at " + here(line) + ">"));
    co_await sleep(0s);
    co_await sleep(0s);  // t has failed; its handle goes with this frame, never asked
    EXPECT_TRUE(t.done());
    co_return;
  };
  loop.run_until_complete(body());
  ASSERT_EQ(log.contexts.size(), 1u);
  const ExceptionContext& ctx = log.contexts[0];
  EXPECT_EQ(ctx.message, "Task exception was never retrieved");
  EXPECT_THAT(ctx.future, HasSubstr("name='child'"));
  EXPECT_THAT(ctx.future, EndsWith(" created at " + here(line) + ">"));
}

TEST(TaskCreatedAt, NothingOutsideDebugMode) {
  EventLoop loop;
  loop.set_debug(false);
  auto body = [&]() -> Coro<void> {
    Task<int> t = create_task(failing_child());
    EXPECT_THAT(t.base()->describe(), Not(HasSubstr("created at")));
    try {
      co_await t;
    } catch (const std::runtime_error&) {
    }
  };
  loop.run_until_complete(body());
}

}  // namespace
}  // namespace weft
