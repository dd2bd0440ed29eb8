#include "loop/wait.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "loop/weft.h"
#include "tests/loop/test_util.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using testing::holds;

Coro<int> value_after(int v, Duration d) {
  co_await sleep(d);
  co_return v;
}

Coro<int> fail_after(Duration d, std::string what) {
  co_await sleep(d);
  throw std::runtime_error(what);
}

std::vector<int> results(std::vector<Task<int>>& ts) {
  std::vector<int> out;
  for (Task<int>& t : ts) out.push_back(t.result());
  return out;
}

TEST(Wait, AllCompletedByDefault) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> ts = {create_task(value_after(1, 2ms)), create_task(value_after(2, 1ms)),
                                 create_task(value_after(3, 0s))};
    auto [done, pending] = co_await wait(ts);
    EXPECT_TRUE(pending.empty());
    EXPECT_EQ(results(done), (std::vector<int>{1, 2, 3}));  // input order
  };
  run(main());
}

TEST(Wait, FirstCompletedLeavesTheRestPendingAndRunning) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> ts = {create_task(value_after(1, 1h)), create_task(value_after(2, 1ms))};
    auto [done, pending] = co_await wait(ts, std::nullopt, FIRST_COMPLETED);
    CO_ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].result(), 2);
    CO_ASSERT_EQ(pending.size(), 1u);
    EXPECT_TRUE(pending[0] == ts[0]);
    EXPECT_FALSE(ts[0].cancelled());  // wait never cancels
    ts[0].cancel();
  };
  run(main());
}

TEST(Wait, FirstExceptionIgnoresCancellationsAndCountsExceptions) {
  auto main = []() -> Coro<void> {
    Future<int> gate = EventLoop::current().create_future<int>();
    Task<int> cancelled = create_task(value_after(0, 1h));
    Task<int> failing = create_task(testing::fail_when(gate, "boom"));
    Task<int> slow = create_task(value_after(1, 1h));
    // First the cancellation (which must not end the wait), then the failure (which must).
    Task<void> killer = create_task([](Task<int> t, Future<int> gate) -> Coro<void> {
      co_await sleep(0s);
      t.cancel();
      co_await testing::yield_times(3);
      gate.set_result(0);
    }(cancelled, gate));
    // (GCC 12 miscompiles an initializer_list temporary inside a co_await expression.)
    std::vector<Task<int>> ts = {cancelled, failing, slow};
    auto [done, pending] = co_await wait(ts, std::nullopt, FIRST_EXCEPTION);
    CO_ASSERT_EQ(done.size(), 2u);
    EXPECT_TRUE(done[0].cancelled());
    EXPECT_TRUE(holds<std::runtime_error>(done[1].exception()));
    CO_ASSERT_EQ(pending.size(), 1u);
    EXPECT_TRUE(pending[0] == slow);
    slow.cancel();
    co_await killer;
  };
  run(main());
}

TEST(Wait, FirstExceptionWithoutAnyExceptionWaitsForAll) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> ts = {create_task(value_after(1, 2ms)), create_task(value_after(2, 1ms))};
    auto [done, pending] = co_await wait(ts, std::nullopt, FIRST_EXCEPTION);
    EXPECT_EQ(done.size(), 2u);
    EXPECT_TRUE(pending.empty());
  };
  run(main());
}

TEST(Wait, TimeoutReturnsWhatIsDoneAndNeitherRaisesNorCancels) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> ts = {create_task(value_after(1, 0s)), create_task(value_after(2, 1h))};
    // The first is done before the 1 ms starts: it takes loop iterations of its own, which a
    // stalled machine could let outlast the timeout.
    while (!ts[0].done()) co_await sleep(0s);
    auto [done, pending] = co_await wait(ts, 1ms);
    CO_ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].result(), 1);
    CO_ASSERT_EQ(pending.size(), 1u);
    EXPECT_FALSE(pending[0].done());
    EXPECT_EQ(pending[0].cancelling(), 0);
    pending[0].cancel();
  };
  run(main());
}

TEST(Wait, ZeroTimeoutStillLetsTheLoopTurnOnce) {
  auto main = []() -> Coro<void> {
    // The first task finishes in its first step, which the loop runs before the wait
    // returns.
    auto immediate = []() -> Coro<int> { co_return 1; };
    std::vector<Task<int>> ts = {create_task(immediate()), create_task(value_after(2, 1h))};
    auto [done, pending] = co_await wait(ts, 0s);
    EXPECT_EQ(done.size(), 1u);
    EXPECT_EQ(pending.size(), 1u);
    ts[1].cancel();
  };
  run(main());
}

TEST(Wait, CancellingTheAwaiterRaisesAndLeavesTheTasksAlone) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> ts = {create_task(value_after(1, 2ms))};
    auto waiter = create_task([](std::vector<Task<int>> ts) -> Coro<int> {
      auto [done, pending] = co_await wait(ts);
      co_return static_cast<int>(done.size());
    }(ts));
    co_await sleep(0s);
    waiter.cancel("enough");
    try {
      co_await waiter;
      ADD_FAILURE();
    } catch (const CancelledError& e) {
      EXPECT_EQ(e.message(), "enough");
    }
    EXPECT_FALSE(ts[0].done());
    EXPECT_EQ(co_await ts[0], 1);
  };
  run(main());
}

TEST(Wait, EmptyInputIsAnError) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> none;
    EXPECT_THROW((void)wait(none), std::invalid_argument);
    co_return;
  };
  run(main());
}

TEST(Wait, DuplicatesAreDropped) {
  auto main = []() -> Coro<void> {
    Task<int> t = create_task(value_after(1, 0s));
    std::vector<Task<int>> ts = {t, t, t};
    auto [done, pending] = co_await wait(ts);
    EXPECT_EQ(done.size(), 1u);
    EXPECT_TRUE(pending.empty());
  };
  run(main());
}

TEST(Wait, ConditionAlreadyTrueReturnsWithoutSuspending) {
  auto main = []() -> Coro<void> {
    Task<int> t = create_task(value_after(1, 0s));
    co_await t;
    bool other_ran = false;
    Task<void> other = create_task([](bool* ran) -> Coro<void> {
      *ran = true;
      co_return;
    }(&other_ran));
    std::vector<Task<int>> ts = {t};
    auto [done, pending] = co_await wait(ts);
    EXPECT_EQ(done.size(), 1u);
    EXPECT_FALSE(other_ran);  // the loop did not turn
    co_await other;
  };
  run(main());
}

TEST(Wait, FuturesToo) {
  auto main = []() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    Future<int> a = loop.create_future<int>();
    Future<int> b = loop.create_future<int>();
    loop.call_later(1ms, [a]() mutable { a.set_result(1); });
    std::vector<Future<int>> fs = {a, b};
    auto [done, pending] = co_await wait(fs, std::nullopt, FIRST_COMPLETED);
    CO_ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].result(), 1);
    EXPECT_EQ(pending.size(), 1u);
  };
  run(main());
}

TEST(Wait, ExceptionsStayUnretrievedForTheOwner) {
  testing::HandlerLog log;
  auto main = [&]() -> Coro<void> {
    log.install();
    {
      std::vector<Task<int>> ts = {create_task(fail_after(0s, "mine to see"))};
      auto [done, pending] = co_await wait(ts, std::nullopt, FIRST_EXCEPTION);
      EXPECT_EQ(done.size(), 1u);
    }
    co_await sleep(0s);
  };
  run(main());
  // Nobody looked at the exception: it is reported when the last handle goes.
  EXPECT_EQ(log.count("never retrieved"), 1u) << log.dump();
}

// CPython test_wait_concurrent_complete: two tasks finish in the same loop iteration;
// FIRST_COMPLETED sees both done.
TEST(Wait, CPythonConcurrentComplete) {
  auto main = []() -> Coro<void> {
    // Both are woken by one callback, so they finish in the same iteration whatever the
    // machine's speed (two timers can fall due in different iterations).
    std::vector<Future<int>> gates = testing::make_gates(2);
    std::vector<Task<int>> ts = {create_task(testing::value_when(gates[0])),
                                 create_task(testing::value_when(gates[1]))};
    EventLoop::current().call_soon([gates]() mutable {
      gates[0].set_result(1);
      gates[1].set_result(2);
    });
    auto [done, pending] = co_await wait(ts, std::nullopt, FIRST_COMPLETED);
    EXPECT_EQ(done.size(), 2u);
    EXPECT_TRUE(pending.empty());
  };
  run(main());
}

// CPython test_wait_really_done: some tasks done before wait() is called.
TEST(Wait, CPythonReallyDone) {
  auto main = []() -> Coro<void> {
    Task<int> a = create_task(value_after(1, 0s));
    while (!a.done()) co_await sleep(0s);
    Task<int> b = create_task(value_after(2, 1ms));
    std::vector<Task<int>> ts = {a, b};
    auto [done, pending] = co_await wait(ts, std::nullopt, FIRST_COMPLETED);
    CO_ASSERT_EQ(done.size(), 1u);
    EXPECT_TRUE(done[0] == a);
    EXPECT_EQ(co_await b, 2);
  };
  run(main());
}

}  // namespace
}  // namespace weft
