#include "loop/as_completed.h"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "loop/weft.h"
#include "tests/loop/test_util.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

Coro<int> value_after(int v, Duration d) {
  co_await sleep(d);
  co_return v;
}

Coro<int> fail_after(Duration d, std::string what) {
  co_await sleep(d);
  throw std::runtime_error(what);
}

TEST(AsCompleted, GivesTasksInCompletionOrder) {
  auto main = []() -> Coro<void> {
    std::vector<Future<int>> gates = testing::make_gates(3);
    std::vector<Task<int>> ts;
    for (int i = 0; i < 3; ++i) ts.push_back(create_task(testing::value_when(gates[i])));
    auto finished = as_completed(ts);
    EventLoop::current().call_soon([gates]() mutable {
      gates[1].set_result(2);
      gates[2].set_result(3);
      gates[0].set_result(1);
    });
    EXPECT_EQ(finished.remaining(), 3u);
    std::vector<int> order;
    while (std::optional<Task<int>> t = co_await finished.next()) {
      EXPECT_TRUE(t->done());
      order.push_back(co_await *t);
    }
    EXPECT_EQ(order, (std::vector<int>{2, 3, 1}));
    EXPECT_EQ(finished.remaining(), 0u);
    EXPECT_FALSE((co_await finished.next()).has_value());  // stays finished
  };
  run(main());
}

TEST(AsCompleted, CorosAreScheduledAtOnce) {
  auto main = []() -> Coro<void> {
    std::vector<Future<int>> gates = testing::make_gates(2);
    std::vector<Coro<int>> coros;
    coros.push_back(testing::value_when(gates[0]));
    coros.push_back(testing::value_when(gates[1]));
    auto finished = as_completed(coros);
    EventLoop::current().call_soon([gates]() mutable {
      gates[1].set_result(2);
      gates[0].set_result(1);
    });
    std::vector<int> order;
    while (auto t = co_await finished.next()) order.push_back(t->result());
    EXPECT_EQ(order, (std::vector<int>{2, 1}));
  };
  run(main());
}

TEST(AsCompleted, FailedTasksAreGivenToo) {
  auto main = []() -> Coro<void> {
    Future<int> gate = EventLoop::current().create_future<int>();
    std::vector<Task<int>> ts = {create_task(fail_after(0s, "boom")),
                                 create_task(testing::value_when(gate))};
    auto finished = as_completed(ts);
    std::optional<Task<int>> first = co_await finished.next();
    CO_ASSERT_TRUE(first.has_value());
    EXPECT_THROW(co_await *first, std::runtime_error);
    gate.set_result(2);
    std::optional<Task<int>> second = co_await finished.next();
    CO_ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->result(), 2);
  };
  run(main());
}

TEST(AsCompleted, TimeoutRaisesForEachRemainingTaskAndCancelsNothing) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> ts = {create_task(value_after(1, 0s)), create_task(value_after(2, 1h)),
                                 create_task(value_after(3, 1h))};
    auto finished = as_completed(ts, 1ms);
    std::optional<Task<int>> first = co_await finished.next();
    CO_ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->result(), 1);
    EXPECT_THROW(co_await finished.next(), TimeoutError);
    EXPECT_EQ(finished.remaining(), 1u);
    EXPECT_THROW(co_await finished.next(), TimeoutError);
    EXPECT_FALSE((co_await finished.next()).has_value());
    EXPECT_FALSE(ts[1].done());
    EXPECT_EQ(ts[1].cancelling(), 0);
    ts[1].cancel();
    ts[2].cancel();
  };
  run(main());
}

TEST(AsCompleted, TasksDoneBeforeTheTimeoutAreStillGiven) {
  auto main = []() -> Coro<void> {
    // Futures completed in the step that starts the timeout: their done-callbacks are queued
    // before the expiry can be, whatever the machine's speed (tasks would need loop
    // iterations of their own, and a stalled machine can let 1 ms pass meanwhile).
    EventLoop& loop = EventLoop::current();
    std::vector<Future<int>> fs = {loop.create_future<int>(), loop.create_future<int>(),
                                   loop.create_future<int>()};
    auto finished = as_completed(fs, 1ms);
    fs[0].set_result(1);
    fs[1].set_result(2);
    co_await sleep(2ms);  // due after the timeout: the expiry has run before we look
    EXPECT_EQ((co_await finished.next())->result(), 1);
    EXPECT_EQ((co_await finished.next())->result(), 2);
    EXPECT_THROW(co_await finished.next(), TimeoutError);
    EXPECT_FALSE(fs[2].done());
  };
  run(main());
}

TEST(AsCompleted, CancellingTheConsumerLeavesTheTasksAlone) {
  auto main = []() -> Coro<void> {
    Future<int> gate = EventLoop::current().create_future<int>();
    std::vector<Task<int>> ts = {create_task(testing::value_when(gate))};
    Task<int> consumer = create_task([](std::vector<Task<int>> ts) -> Coro<int> {
      auto finished = as_completed(ts);
      auto t = co_await finished.next();
      co_return t->result();
    }(ts));
    co_await sleep(0s);
    consumer.cancel();
    EXPECT_THROW(co_await consumer, CancelledError);
    EXPECT_FALSE(ts[0].done());
    gate.set_result(1);
    EXPECT_EQ(co_await ts[0], 1);
  };
  run(main());
}

TEST(AsCompleted, EmptyInputEndsAtOnce) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> none;
    auto finished = as_completed(none, 1ms);
    EXPECT_FALSE((co_await finished.next()).has_value());
  };
  run(main());
}

TEST(AsCompleted, DoneTasksComeFirstInInputOrderAndDuplicatesAreDropped) {
  auto main = []() -> Coro<void> {
    Task<int> a = create_task(value_after(1, 0s));
    Task<int> b = create_task(value_after(2, 0s));
    while (!a.done() || !b.done()) co_await sleep(0s);
    Task<int> c = create_task(value_after(3, 0s));
    std::vector<Task<int>> ts = {c, b, a, b};
    auto finished = as_completed(ts);
    EXPECT_EQ(finished.remaining(), 3u);
    std::vector<int> order;
    while (auto t = co_await finished.next()) order.push_back(t->result());
    EXPECT_EQ(order, (std::vector<int>{2, 1, 3}));
  };
  run(main());
}

TEST(AsCompleted, TwoConsumersAtOnceIsAnError) {
  auto main = []() -> Coro<void> {
    std::vector<Future<int>> gates = testing::make_gates(2);
    std::vector<Task<int>> ts = {create_task(testing::value_when(gates[0])),
                                 create_task(testing::value_when(gates[1]))};
    auto finished = as_completed(ts);
    Task<int> first = create_task([](AsCompleted<Task<int>>* f) -> Coro<int> {
      co_return (co_await f->next())->result();
    }(&finished));
    co_await sleep(0s);
    EXPECT_THROW(co_await finished.next(), RuntimeError);
    gates[0].set_result(1);
    EXPECT_EQ(co_await first, 1);
    gates[1].set_result(2);
    EXPECT_EQ((co_await finished.next())->result(), 2);
  };
  run(main());
}

// CPython test_as_completed_concurrent: several tasks finish in one iteration.
TEST(AsCompleted, CPythonConcurrent) {
  auto main = []() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    std::vector<Future<int>> fs = {loop.create_future<int>(), loop.create_future<int>()};
    auto finished = as_completed(fs);
    loop.call_soon([fs]() mutable {
      fs[1].set_result(2);
      fs[0].set_result(1);
    });
    std::vector<int> order;
    while (auto f = co_await finished.next()) order.push_back(f->result());
    EXPECT_EQ(order, (std::vector<int>{2, 1}));
  };
  run(main());
}

}  // namespace
}  // namespace weft
