// The reports about classic mistakes, one test per message: text, name, location.
//   "coroutine 'NAME' was never awaited" (debug mode), with a short symbolised stack;
//   "Task exception was never retrieved"; "Task was destroyed but it is pending!";
//   a task dump on SIGUSR1.
#include <csignal>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loop/weft.h"
#include "tests/loop/test_util.h"
#include "tests/scheduler/loop_thread.h"

namespace weft {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

Coro<int> forgotten() { co_return 1; }
int g_forgotten_line = __LINE__ - 1;

__attribute__((noinline)) void drop_a_coro_here() {
  (void)forgotten();  // the mistake: calling a coroutine function without co_await
}

TEST(NeverAwaited, NamesTheCoroutineWhereItIsDefinedAndWhereItWasDropped) {
  EventLoop loop;
  loop.set_debug(true);
  // Symbolising the stacks takes milliseconds (more under a sanitizer): not a slow step here.
  loop.set_slow_callback_duration(std::chrono::hours(1));
  loop_test::HandlerLog log;
  log.install(loop);
  auto body = []() -> Coro<void> {
    drop_a_coro_here();
    co_return;
  };
  loop.run_until_complete(body());
  ASSERT_EQ(log.contexts.size(), 1u);
  const ExceptionContext& ctx = log.contexts[0];
  EXPECT_EQ(ctx.message, "coroutine 'forgotten' was never awaited");
  EXPECT_EQ(ctx.coroutine, "forgotten");
  EXPECT_EQ(ctx.source, "tests/introspect/reports_test.cc:" + std::to_string(g_forgotten_line) +
                            " in forgotten");
  // The stack starts at the code that dropped the Coro, with symbol names.
  EXPECT_THAT(ctx.stack, StartsWith("#0 "));
  EXPECT_THAT(ctx.stack, HasSubstr("drop_a_coro_here"));
  EXPECT_THAT(ctx.to_string(), HasSubstr("stack (innermost first):\n    #0 "));
}

TEST(NeverAwaited, NothingOutsideDebugMode) {
  EventLoop loop;
  loop.set_debug(false);
  loop_test::HandlerLog log;
  log.install(loop);
  auto body = []() -> Coro<void> {
    drop_a_coro_here();
    co_return;
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(log.contexts.empty());
}

Coro<void> fails() {
  throw std::runtime_error("boom");
  co_return;
}

TEST(NeverRetrieved, NamesTheTaskItsCoroutineAndTheException) {
  EventLoop loop;
  loop_test::HandlerLog log;
  log.install(loop);
  auto body = []() -> Coro<void> {
    create_task(fails(), "doomed");  // the handle is dropped: nobody will look
    co_await sleep(0s);
    co_await sleep(0s);
  };
  loop.run_until_complete(body());
  ASSERT_EQ(log.count("Task exception was never retrieved"), 1);
  const ExceptionContext& ctx = log.contexts[0];
  EXPECT_EQ(ctx.task, "doomed");
  EXPECT_THAT(ctx.future, HasSubstr("name='doomed' coro=fails()"));
  EXPECT_THAT(ctx.source, StartsWith("tests/introspect/reports_test.cc:"));
  EXPECT_EQ(ctx.exception_text(), "std::runtime_error: boom");
}

Coro<void> waits_forever() { co_await sleep(1h); }

TEST(DestroyedPending, NamesTheTaskWhenALoopIsClosedByHand) {
  loop_test::HandlerLog log;
  {
    EventLoop loop;
    log.install(loop);
    loop.create_task(waits_forever(), "stranded");
    loop.run_until_complete([]() -> Coro<void> { co_await sleep(0s); }());
    loop.close();
  }
  ASSERT_EQ(log.count("Task was destroyed but it is pending!"), 1);
  EXPECT_EQ(log.contexts[0].task, "stranded");
  EXPECT_THAT(log.contexts[0].source, HasSubstr("in waits_forever"));
}

TEST(DumpOnSignal, SigUsr1PrintsEveryLoopsTasks) {
  testing::LoopThread t;
  testing::Notification created;
  t.loop().call_soon_threadsafe([&] {
    t.loop().create_task(waits_forever(), "sleeper");
    created.notify();
  });
  created.wait();
  std::mutex mu;
  std::string dump;
  testing::Notification dumped;
  enable_task_dump_on_signal(SIGUSR1, [&](const std::string& text) {
    std::lock_guard<std::mutex> lock(mu);
    if (!dumped.notified()) {
      dump = text;
      dumped.notify();
    }
  });
  std::raise(SIGUSR1);
  dumped.wait();
  disable_task_dump_on_signal(SIGUSR1);
  enable_task_dump_on_signal(SIGUSR2);  // the sink goes back to stderr; SIGUSR1 is default again
  disable_task_dump_on_signal(SIGUSR2);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(dump, StartsWith("weft: task dump (signal " + std::to_string(SIGUSR1) + ")\n"));
  EXPECT_THAT(dump, HasSubstr("* Task 'sleeper'"));
  EXPECT_THAT(dump, HasSubstr("waits_forever() at tests/introspect/reports_test.cc:"));
  EXPECT_THAT(dump, HasSubstr("+ Awaiting: sleep (due in"));
}

}  // namespace
}  // namespace weft
