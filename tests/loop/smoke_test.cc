#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "loop/weft.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

Coro<int> add(int a, int b) { co_return a + b; }

Coro<int> nested(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await nested(depth - 1);
}

TEST(Smoke, RunReturnsValue) { EXPECT_EQ(run(add(2, 3)), 5); }

TEST(Smoke, DeepChain) { EXPECT_EQ(run(nested(1000000)), 1000000); }

Coro<std::string> sleeper(std::vector<std::string>& log, std::string name, Duration d) {
  co_await sleep(d);
  log.push_back(name);
  co_return name;
}

TEST(Smoke, TasksAndSleep) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<int> {
    auto a = create_task(sleeper(log, "a", 20ms));
    auto b = create_task(sleeper(log, "b", 10ms));
    std::string ra = co_await a;
    std::string rb = co_await b;
    EXPECT_EQ(ra, "a");
    EXPECT_EQ(rb, "b");
    co_return 7;
  };
  EXPECT_EQ(run(main()), 7);
  EXPECT_EQ(log, (std::vector<std::string>{"b", "a"}));
}

TEST(Smoke, Cancel) {
  auto main = []() -> Coro<bool> {
    bool cleaned = false;
    auto t = create_task([](bool& c) -> Coro<void> {
      try {
        co_await sleep(10s);
      } catch (const CancelledError&) {
        c = true;
        throw;
      }
    }(cleaned));
    co_await sleep(0s);
    t.cancel("stop");
    try {
      co_await t;
    } catch (const CancelledError& e) {
      EXPECT_EQ(e.message(), "stop");
    }
    EXPECT_TRUE(t.cancelled());
    co_return cleaned;
  };
  EXPECT_TRUE(run(main()));
}

TEST(Smoke, Exceptions) {
  auto boom = []() -> Coro<int> {
    co_await sleep(0s);
    throw std::runtime_error("boom");
  };
  auto main = [&]() -> Coro<int> {
    auto t = create_task(boom());
    try {
      co_await t;
    } catch (const std::runtime_error& e) {
      co_return 1;
    }
    co_return 0;
  };
  EXPECT_EQ(run(main()), 1);
}

TEST(Smoke, MoveOnly) {
  auto make = []() -> Coro<std::unique_ptr<int>> { co_return std::make_unique<int>(4); };
  auto main = [&]() -> Coro<int> {
    auto p = co_await make();
    auto q = co_await create_task(make());
    co_return *p + *q;
  };
  EXPECT_EQ(run(main()), 8);
}

}  // namespace
}  // namespace weft
