#include "loop/shield.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <tuple>
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

Coro<int> fail_after(Duration d, std::string what) {
  co_await sleep(d);
  throw std::runtime_error(what);
}

TEST(Shield, PassesTheResultThrough) {
  auto main = []() -> Coro<void> {
    EXPECT_EQ(co_await shield(value_after(1, 1ms)), 1);
    Task<int> t = create_task(value_after(2, 1ms));
    EXPECT_EQ(co_await shield(t), 2);
    EXPECT_EQ(t.result(), 2);
    Future<int> f = EventLoop::current().create_future<int>();
    EventLoop::current().call_soon([f]() mutable { f.set_result(3); });
    EXPECT_EQ(co_await shield(f), 3);
    co_await shield(sleep(0s));
  };
  run(main());
}

TEST(Shield, PassesTheExceptionThrough) {
  auto main = []() -> Coro<void> {
    EXPECT_THROW(co_await shield(fail_after(1ms, "inner")), std::runtime_error);
  };
  run(main());
}

TEST(Shield, ShortcutForADoneTask) {
  auto main = []() -> Coro<void> {
    Task<int> t = create_task(value_after(4, 0s));
    co_await t;
    bool other_ran = false;
    Task<void> other = create_task([](bool* r) -> Coro<void> {
      *r = true;
      co_return;
    }(&other_ran));
    EXPECT_EQ(co_await shield(t), 4);
    EXPECT_FALSE(other_ran);  // no suspension
    co_await other;
  };
  run(main());
}

TEST(Shield, CancellingTheOuterLeavesTheInnerRunning) {
  auto main = []() -> Coro<void> {
    Future<int> gate = EventLoop::current().create_future<int>();
    Task<int> inner = create_task(testing::value_when(gate));
    Task<int> outer = create_task([](Task<int> inner) -> Coro<int> {
      co_return co_await shield(inner);
    }(inner));
    co_await sleep(0s);
    co_await sleep(0s);
    outer.cancel("outer only");
    try {
      co_await outer;
      ADD_FAILURE();
    } catch (const CancelledError& e) {
      EXPECT_EQ(e.message(), "outer only");
    }
    EXPECT_FALSE(inner.done());  // the cancellation did not reach it
    EXPECT_EQ(inner.cancelling(), 0);
    gate.set_result(5);
    EXPECT_EQ(co_await inner, 5);
  };
  run(main());
}

TEST(Shield, InnerCancelledBySomeoneElseRaisesCancelledError) {
  auto main = []() -> Coro<void> {
    Task<int> inner = create_task(value_after(6, 1h));
    Task<void> killer = create_task([](Task<int> t) -> Coro<void> {
      co_await sleep(1ms);
      t.cancel();
    }(inner));
    EXPECT_THROW(co_await shield(inner), CancelledError);
    co_await killer;
  };
  run(main());
}

TEST(Shield, LaterExceptionOfTheInnerIsNotReportedAsNeverRetrieved) {
  HandlerLog handler;
  auto main = [&]() -> Coro<void> {
    handler.install();
    auto fail_when = [](Future<int> gate) -> Coro<int> {
      co_await gate;
      throw std::runtime_error("nobody waits for me");
    };
    Future<int> gate = EventLoop::current().create_future<int>();
    Task<int> outer = create_task(shield(fail_when(gate)));
    co_await sleep(0s);
    outer.cancel();
    EXPECT_THROW(co_await outer, CancelledError);
    gate.set_result(0);
    co_await testing::run_briefly();  // the inner fails now
  };
  run(main());
  EXPECT_EQ(handler.size(), 0u) << handler.dump();
}

TEST(Shield, InsideWaitFor) {
  auto main = []() -> Coro<void> {
    std::vector<std::string> log;
    auto work = [](std::vector<std::string>* log, Future<int> gate) -> Coro<int> {
      int v = co_await gate;
      log->push_back("work done");
      co_return v;
    };
    Future<int> gate = EventLoop::current().create_future<int>();
    Task<int> t = create_task(work(&log, gate));
    try {
      co_await wait_for(shield(t), 1ms);
      ADD_FAILURE();
    } catch (const TimeoutError&) {
      log.push_back("timeout");
    }
    gate.set_result(7);
    EXPECT_EQ(co_await t, 7);
    EXPECT_EQ(log, (std::vector<std::string>{"timeout", "work done"}));
  };
  run(main());
}

// CPython test_shield_gather: a gather of shields, cancelled: the shields raise, the tasks
// run on.
TEST(Shield, CPythonShieldGather) {
  auto main = []() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    Future<int> a = loop.create_future<int>();
    Future<int> b = loop.create_future<int>();
    auto g = create_task(gather(shield(a), shield(b)));
    co_await sleep(0s);
    co_await sleep(0s);
    g.cancel();
    EXPECT_THROW(co_await g, CancelledError);
    EXPECT_FALSE(a.done());
    EXPECT_FALSE(b.done());
    a.set_result(1);
    b.set_result(2);
  };
  run(main());
}

// CPython test_gather_shield: shield(gather(...)) cancelled: the gather goes on.
TEST(Shield, CPythonGatherShield) {
  auto main = []() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    Future<int> a = loop.create_future<int>();
    Future<int> b = loop.create_future<int>();
    Task<std::tuple<int, int>> g = create_task(gather(a, b));
    Task<std::tuple<int, int>> outer = create_task(shield(g));
    co_await sleep(0s);
    outer.cancel();
    EXPECT_THROW(co_await outer, CancelledError);
    EXPECT_FALSE(g.done());
    a.set_result(1);
    b.set_result(2);
    auto [x, y] = co_await g;
    EXPECT_EQ(x + y, 3);
  };
  run(main());
}

}  // namespace
}  // namespace weft
