// A task's name and cancel message (kept out of line in TaskBase: most tasks have neither).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "loop/weft.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

Coro<void> Nap() { co_await sleep(10s); }

TEST(TaskName, DefaultGivenAndChanged) {
  EventLoop loop;
  Task<void> unnamed = loop.create_task(Nap());
  Task<void> named = loop.create_task(Nap(), "fetcher");
  EXPECT_EQ(unnamed.get_name().rfind("Task-", 0), 0u) << unnamed.get_name();
  EXPECT_EQ(named.get_name(), "fetcher");
  unnamed.set_name("worker");
  EXPECT_EQ(unnamed.get_name(), "worker");
  named.set_name("");  // back to the default
  EXPECT_EQ(named.get_name().rfind("Task-", 0), 0u) << named.get_name();
  EXPECT_NE(named.get_name(), unnamed.get_name());
  unnamed.cancel();
  named.cancel();
  EXPECT_THROW(loop.run_until_complete(unnamed), CancelledError);
  EXPECT_THROW(loop.run_until_complete(named), CancelledError);
  loop.close();
}

TEST(TaskName, CancelMessageReachesTheAwaiter) {
  EventLoop loop;
  Task<void> t = loop.create_task(Nap(), "napper");
  t.cancel("shutting down");
  try {
    loop.run_until_complete(t);
    FAIL() << "expected CancelledError";
  } catch (const CancelledError& e) {
    EXPECT_EQ(e.message(), "shutting down");
  }
  EXPECT_EQ(t.get_name(), "napper");
  loop.close();
}

TEST(TaskName, CancelMessageAfterTheTaskStarted) {
  EventLoop loop;
  Task<void> t = loop.create_task(Nap());
  loop.call_soon([&] { t.cancel("late"); });
  try {
    loop.run_until_complete(t);
    FAIL() << "expected CancelledError";
  } catch (const CancelledError& e) {
    EXPECT_EQ(e.message(), "late");
  }
  loop.close();
}

}  // namespace
}  // namespace weft
