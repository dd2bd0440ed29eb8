#include "loop/async_with.h"

#include <gtest/gtest.h>

#include <algorithm>
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

// A resource with asynchronous set-up and tear-down, like a network connection.
class Connection {
 public:
  Connection(std::vector<std::string>* log, bool fail_close = false)
      : log_(log), fail_close_(fail_close) {}
  Connection(Connection&& o) noexcept
      : log_(o.log_), fail_close_(o.fail_close_), open_(std::exchange(o.open_, false)) {}
  ~Connection() {
    if (open_) log_->push_back("LEAKED: destroyed while open");
  }
  Coro<std::string> request(std::string what) {
    co_await sleep(0s);
    log_->push_back("request " + what);
    co_return "reply to " + what;
  }
  Coro<void> aclose() {
    co_await sleep(0s);  // tear-down awaits
    open_ = false;
    log_->push_back("closed");
    if (fail_close_) throw std::runtime_error("close failed");
  }

 private:
  std::vector<std::string>* log_;
  bool fail_close_;
  bool open_ = true;
};

Coro<Connection> open_connection(std::vector<std::string>* log, bool fail_close = false) {
  co_await sleep(0s);
  log->push_back("opened");
  co_return Connection(log, fail_close);
}

TEST(AsyncWith, SetUpBodyTearDown) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    std::string reply =
        co_await async_with(open_connection(&log), [](Connection& c) -> Coro<std::string> {
          co_return co_await c.request("a");
        });
    EXPECT_EQ(reply, "reply to a");
    co_await async_with(open_connection(&log), [](Connection& c) -> Coro<void> {
      co_await c.request("b");
    });
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"opened", "request a", "closed", "opened", "request b",
                                           "closed"}));
}

TEST(AsyncWith, TearDownRunsWhenTheBodyThrows) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    EXPECT_THROW(co_await async_with(open_connection(&log), [](Connection&) -> Coro<void> {
      co_await sleep(0s);
      throw std::logic_error("body failed");
    }),
                 std::logic_error);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"opened", "closed"}));
}

TEST(AsyncWith, TearDownRunsWhenTheBodyIsCancelled) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    EXPECT_THROW(co_await timeout(1ms, async_with(open_connection(&log),
                                                  [](Connection&) -> Coro<void> {
                                                    co_await sleep(1h);
                                                  })),
                 TimeoutError);
    Task<void> t = create_task(async_with(open_connection(&log), [](Connection&) -> Coro<void> {
      co_await sleep(1h);
    }));
    // Cancel once the body runs: "opened" is logged right before it starts (set-up takes
    // loop iterations of its own, which a fixed sleep would not wait for on a slow machine).
    while (std::count(log.begin(), log.end(), "opened") < 2) co_await sleep(0s);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"opened", "closed", "opened", "closed"}));
}

TEST(AsyncWith, FailingTearDownAfterASuccessfulBodyPropagates) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    EXPECT_THROW(co_await async_with(open_connection(&log, /*fail_close=*/true),
                                     [](Connection&) -> Coro<int> { co_return 1; }),
                 std::runtime_error);
  };
  run(main());
}

TEST(AsyncWith, BodyErrorWinsOverTearDownErrorWhichIsReported) {
  std::vector<std::string> log;
  HandlerLog handler;
  auto main = [&]() -> Coro<void> {
    handler.install();
    EXPECT_THROW(co_await async_with(open_connection(&log, true), [](Connection&) -> Coro<void> {
      co_await sleep(0s);
      throw std::logic_error("body");
    }),
                 std::logic_error);
    // A cancellation is never replaced by the tear-down's error.
    Task<void> t = create_task(async_with(open_connection(&log, true),
                                          [](Connection&) -> Coro<void> { co_await sleep(1h); }));
    // Cancel once the body runs: "opened" is logged right before it starts.
    while (std::count(log.begin(), log.end(), "opened") < 2) co_await sleep(0s);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
  };
  run(main());
  EXPECT_EQ(handler.count("tear-down failed"), 2u) << handler.dump();
}

TEST(AsyncWith, FailedSetUpRunsNothingElse) {
  auto main = []() -> Coro<void> {
    bool body_ran = false;
    auto bad_setup = []() -> Coro<Connection> {
      co_await sleep(0s);
      throw std::runtime_error("cannot connect");
    };
    EXPECT_THROW(co_await async_with(bad_setup(), [&](Connection&) -> Coro<void> {
      body_ran = true;
      co_return;
    }),
                 std::runtime_error);
    EXPECT_FALSE(body_ran);
  };
  run(main());
}

TEST(AsyncWith, ExplicitTearDownPointerLikeAndPlainValueResources) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    // An explicit tear-down for a resource without aclose().
    int v = co_await async_with(
        []() -> Coro<int> { co_return 41; }(),
        [&](int& r) -> Coro<void> {
          log.push_back("released " + std::to_string(r));
          co_return;
        },
        [](int& r) -> Coro<int> { co_return r + 1; });
    EXPECT_EQ(v, 42);
    // A pointer-like resource: aclose() of the pointee.
    auto open_ptr = [](std::vector<std::string>* log) -> Coro<std::unique_ptr<Connection>> {
      co_return std::make_unique<Connection>(log);
    };
    co_await async_with(open_ptr(&log), [](std::unique_ptr<Connection>& c) -> Coro<void> {
      co_await c->request("p");
    });
    // A resource that is already there (no set-up to await).
    co_await async_with(Connection(&log), [](Connection& c) -> Coro<void> {
      co_await c.request("v");
    });
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"released 41", "request p", "closed", "request v",
                                           "closed"}));
}

}  // namespace
}  // namespace weft
