// Tests for the WEFT_DEBUG environment variable: it sets the default of every loop's debug
// mode. The variable is set by a static initialiser, before main() and before any loop
// reads it (the loop reads it once, when the first loop is created).

#include <stdlib.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "loop/weft.h"
#include "tests/loop/test_util.h"

namespace weft {
namespace {

using ::testing::HasSubstr;
using loop_test::HandlerLog;

const bool kEnvSet = setenv("WEFT_DEBUG", "1", /*overwrite=*/1) == 0;

Coro<void> never_awaited_in_env_test() { co_return; }

TEST(DebugEnvironment, WeftDebugTurnsDebugModeOnByDefault) {
  ASSERT_TRUE(kEnvSet);
  EXPECT_TRUE(internal::debug_from_environment());
  EventLoop loop;
  EXPECT_TRUE(loop.get_debug());
  loop.set_debug(false);  // still overridable per loop
  EXPECT_FALSE(loop.get_debug());
}

TEST(DebugEnvironment, RunUsesItUnlessTheOptionOverrides) {
  EXPECT_TRUE(run([]() -> Coro<bool> { co_return EventLoop::current().get_debug(); }()));
  EXPECT_FALSE(run([]() -> Coro<bool> { co_return EventLoop::current().get_debug(); }(),
                   RunOptions{.debug = false}));
}

TEST(DebugEnvironment, NeverAwaitedCoroutineIsReported) {
  EventLoop loop;
  HandlerLog log;
  log.install(loop);
  loop.run_until_complete([]() -> Coro<void> {
    { Coro<void> dropped = never_awaited_in_env_test(); }
    co_return;
  }());
  ASSERT_EQ(log.contexts.size(), 1u);
  EXPECT_THAT(log.contexts[0].message, HasSubstr("never_awaited_in_env_test"));
  EXPECT_THAT(log.contexts[0].message, HasSubstr("was never awaited"));
}

TEST(DebugEnvironment, NeverAwaitedOutsideAnyLoopIsPrinted) {
  ::testing::internal::CaptureStderr();
  { Coro<void> dropped = never_awaited_in_env_test(); }
  std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(out, HasSubstr("never_awaited_in_env_test"));
  EXPECT_THAT(out, HasSubstr("was never awaited"));
}

}  // namespace
}  // namespace weft
