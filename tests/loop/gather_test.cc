#include "loop/gather.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "loop/weft.h"
#include "tests/loop/test_util.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using testing::HandlerLog;
using testing::holds;

Coro<int> value(int v) { co_return v; }

Coro<int> value_after(int v, Duration d, std::vector<int>* order = nullptr) {
  co_await sleep(d);
  if (order) order->push_back(v);
  co_return v;
}

Coro<std::string> text_after(std::string s, Duration d) {
  co_await sleep(d);
  co_return s;
}

Coro<void> nothing_after(Duration d, bool* ran) {
  co_await sleep(d);
  *ran = true;
}

Coro<int> fail_after(Duration d, std::string what) {
  co_await sleep(d);
  throw std::runtime_error(what);
}

// Waits until cancelled, then spends `cleanup` loop iterations before re-raising. Counts
// itself in `*waiting` (if given) once it waits.
Coro<int> cancellable(int cleanup, std::vector<std::string>* log, std::string name,
                      int* waiting = nullptr) {
  try {
    if (waiting) ++*waiting;
    co_await sleep(1h);
  } catch (const CancelledError& e) {
    log->push_back(name + " cancelled: " + e.message());
  }
  co_await testing::yield_times(cleanup);
  log->push_back(name + " cleaned up");
  throw CancelledError("re-raised by " + name);
}

TEST(Gather, ResultsInArgumentOrderWhateverTheCompletionOrder) {
  std::vector<int> order;
  auto main = [&]() -> Coro<void> {
    std::vector<Future<int>> gates = testing::make_gates(3);
    auto logged = [](Future<int> gate, std::vector<int>* order) -> Coro<int> {
      int v = co_await gate;
      order->push_back(v);
      co_return v;
    };
    auto g = gather(logged(gates[0], &order), logged(gates[1], &order), logged(gates[2], &order));
    // Runs after the children's first steps: they wait on their gates by then.
    EventLoop::current().call_soon([gates]() mutable {
      gates[1].set_result(2);
      gates[2].set_result(3);
      gates[0].set_result(1);
    });
    auto [a, b, c] = co_await std::move(g);
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, 2);
    EXPECT_EQ(c, 3);
  };
  run(main());
  EXPECT_EQ(order, (std::vector<int>{2, 3, 1}));
}

TEST(Gather, MixedAwaitableTypes) {
  auto main = []() -> Coro<void> {
    Task<std::string> t = create_task(text_after("task", 1ms));
    Future<double> f = EventLoop::current().create_future<double>();
    EventLoop::current().call_soon([f]() mutable { f.set_result(2.5); });
    bool ran = false;
    auto [i, s, d, v, slept] =
        co_await gather(value(7), t, f, nothing_after(1ms, &ran), sleep(1ms));
    static_assert(std::is_same_v<decltype(v), std::monostate>);
    static_assert(std::is_same_v<decltype(slept), std::monostate>);
    EXPECT_EQ(i, 7);
    EXPECT_EQ(s, "task");
    EXPECT_EQ(d, 2.5);
    EXPECT_TRUE(ran);
    // An lvalue Task keeps its value: gather copied it out.
    EXPECT_EQ(t.result(), "task");
  };
  run(main());
}

TEST(Gather, EmptyCallsFinishAtOnce) {
  auto main = []() -> Coro<void> {
    std::tuple<> none = co_await gather();
    (void)none;
    std::vector<Coro<int>> empty;
    std::vector<int> results = co_await gather(std::move(empty));
    EXPECT_TRUE(results.empty());
    std::vector<Outcome<int>> outcomes = co_await gather(return_exceptions, std::vector<Task<int>>{});
    EXPECT_TRUE(outcomes.empty());
  };
  run(main());
}

TEST(Gather, RangeOfCorosGivesAVectorInOrder) {
  auto main = []() -> Coro<void> {
    std::vector<Coro<int>> coros;
    for (int i = 0; i < 10; ++i) coros.push_back(value_after(i, Duration((10 - i) * 100us)));
    std::vector<int> results = co_await gather(std::move(coros));
    CO_ASSERT_EQ(results.size(), 10u);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(results[i], i);
  };
  run(main());
}

TEST(Gather, RangeOfTasksKeepsTheirValues) {
  auto main = []() -> Coro<void> {
    std::vector<Task<std::string>> tasks;
    tasks.push_back(create_task(text_after("a", 2ms)));
    tasks.push_back(create_task(text_after("b", 1ms)));
    std::vector<std::string> results = co_await gather(tasks);
    EXPECT_EQ(results, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(tasks[0].result(), "a");
    // An rvalue range: values are moved out.
    std::vector<std::string> again = co_await gather(std::move(tasks));
    EXPECT_EQ(again, (std::vector<std::string>{"a", "b"}));
  };
  run(main());
}

TEST(Gather, MoveOnlyResults) {
  auto make = [](int v) -> Coro<std::unique_ptr<int>> {
    co_await sleep(0s);
    co_return std::make_unique<int>(v);
  };
  auto main = [&]() -> Coro<void> {
    auto [a, b] = co_await gather(make(1), make(2));
    EXPECT_EQ(*a + *b, 3);
    std::vector<Coro<std::unique_ptr<int>>> coros;
    coros.push_back(make(3));
    std::vector<std::unique_ptr<int>> v = co_await gather(std::move(coros));
    EXPECT_EQ(*v[0], 3);
  };
  run(main());
}

TEST(Gather, FirstFailureInCompletionOrderPropagatesAndSiblingsKeepRunning) {
  auto main = []() -> Coro<void> {
    Future<int> gate = EventLoop::current().create_future<int>();
    Task<int> sibling = create_task(testing::value_when(gate));
    std::vector<Future<int>> gates = testing::make_gates(2);
    Task<void> opener = create_task([](std::vector<Future<int>> gates) -> Coro<void> {
      co_await sleep(0s);
      gates[1].set_result(0);  // "early" fails first
      co_await testing::yield_times(3);
      gates[0].set_result(0);
    }(gates));
    try {
      co_await gather(testing::fail_when(gates[0], "late"), testing::fail_when(gates[1], "early"),
                      sibling);
      ADD_FAILURE() << "gather did not raise";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "early");
    }
    EXPECT_FALSE(sibling.done());
    gate.set_result(5);
    EXPECT_EQ(co_await sibling, 5);  // not cancelled
    co_await opener;
  };
  HandlerLog log;
  auto wrapper = [&]() -> Coro<void> {
    log.install();
    co_await main();
    co_await testing::run_briefly();  // "late" has failed: its report is due
  };
  run(wrapper());
  // asyncio silences the later failure of a sibling; weft reports it (nobody else can see it).
  EXPECT_EQ(log.count("never retrieved"), 1u) << log.dump();
}

TEST(Gather, AlreadyFailedChildRaisesWithoutWaiting) {
  auto main = []() -> Coro<void> {
    Task<int> failed = create_task(fail_after(0s, "done already"));
    while (!failed.done()) co_await sleep(0s);  // not a timed sleep: a slow machine would race
    Task<int> slow = create_task(value_after(1, 1h));
    try {
      co_await gather(slow, failed);
      ADD_FAILURE();
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "done already");
    }
    EXPECT_FALSE(slow.done());
    slow.cancel();
  };
  run(main());
}

TEST(Gather, ChildCancelledBySomeoneElseRaisesCancelledErrorInTheAwaiter) {
  auto main = []() -> Coro<void> {
    std::vector<std::string> log;
    Task<int> victim = create_task(cancellable(0, &log, "victim"));
    Task<int> other = create_task(value_after(2, 1ms));
    Task<void> killer = create_task([](Task<int> v) -> Coro<void> {
      co_await sleep(0s);
      v.cancel("killed");
    }(victim));
    bool raised = false;
    try {
      co_await gather(victim, other);
    } catch (const CancelledError&) {
      raised = true;
    }
    EXPECT_TRUE(raised);
    // The awaiting task itself was not cancelled: it goes on.
    EXPECT_EQ(internal::current_task_or_null()->cancelling(), 0);
    co_await sleep(0s);
    EXPECT_EQ(co_await other, 2);
    co_await killer;
  };
  run(main());
}

TEST(Gather, ReturnExceptionsPutsEachOutcomeInItsSlot) {
  auto main = []() -> Coro<void> {
    std::vector<std::string> log;
    Task<int> victim = create_task(cancellable(0, &log, "victim"));
    Task<void> killer = create_task([](Task<int> v) -> Coro<void> {
      co_await sleep(0s);
      v.cancel();
    }(victim));
    bool ran = false;
    auto [ok, failed, cancelled, nothing] = co_await gather(
        return_exceptions, value_after(1, 1ms), fail_after(0s, "boom"), victim,
        nothing_after(0s, &ran));
    CO_ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok.value(), 1);
    EXPECT_FALSE(failed.has_value());
    EXPECT_FALSE(failed.cancelled());
    EXPECT_TRUE(holds<std::runtime_error>(failed.exception()));
    EXPECT_THROW(failed.value(), std::runtime_error);
    EXPECT_TRUE(cancelled.has_exception());
    EXPECT_TRUE(cancelled.cancelled());
    EXPECT_TRUE(holds<CancelledError>(cancelled.exception()));
    EXPECT_TRUE(nothing.has_value());
    EXPECT_TRUE(ran);
    co_await killer;
  };
  HandlerLog log;
  auto wrapper = [&]() -> Coro<void> {
    log.install();
    co_await main();
  };
  run(wrapper());
  EXPECT_EQ(log.size(), 0u) << log.dump();  // the failure was retrieved by the gather
}

TEST(Gather, ReturnExceptionsOverARange) {
  auto main = []() -> Coro<void> {
    std::vector<Coro<int>> coros;
    coros.push_back(value(1));
    coros.push_back(fail_after(1ms, "two"));
    coros.push_back(value_after(3, 2ms));
    std::vector<Outcome<int>> out = co_await gather(return_exceptions, std::move(coros));
    CO_ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].value(), 1);
    EXPECT_EQ(testing::what_of(out[1].exception()), "std::runtime_error: two");
    EXPECT_EQ(out[2].value(), 3);
  };
  run(main());
}

TEST(Gather, CancellingTheAwaiterCancelsEveryChildAndWaitsForTheirCleanup) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<void> {
    int waiting = 0;
    Task<std::tuple<int, int, int>> g = create_task(gather(cancellable(2, &log, "a", &waiting),
                                                           cancellable(0, &log, "b", &waiting),
                                                           cancellable(1, &log, "c", &waiting)));
    // Every child waits before the cancel (they start an iteration after the gather does).
    while (waiting < 3) co_await sleep(0s);
    g.cancel("stop");
    try {
      co_await g;
      ADD_FAILURE() << "not cancelled";
    } catch (const CancelledError& e) {
      EXPECT_EQ(e.message(), "stop");
      // Unlike asyncio, the gather raises only once every child has finished its cleanup.
      log.push_back("gather raised");
    }
    EXPECT_TRUE(g.cancelled());
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"a cancelled: stop", "b cancelled: stop",
                                           "b cleaned up", "c cancelled: stop", "c cleaned up",
                                           "a cleaned up", "gather raised"}));
}

TEST(Gather, CancelledGatherRaisesEvenIfAChildSwallowsTheCancellation) {
  auto swallow = []() -> Coro<int> {
    try {
      co_await sleep(1h);
    } catch (const CancelledError&) {
    }
    co_return 42;
  };
  auto main = [&]() -> Coro<void> {
    auto g = create_task(gather(return_exceptions, swallow(), swallow()));
    co_await sleep(0s);
    g.cancel();
    bool raised = false;
    try {
      co_await g;
    } catch (const CancelledError&) {
      raised = true;
    }
    EXPECT_TRUE(raised);
  };
  run(main());
}

TEST(Gather, ChildFailingDuringCancellationIsReportedNotLost) {
  auto fail_in_cleanup = []() -> Coro<int> {
    try {
      co_await sleep(1h);
    } catch (const CancelledError&) {
    }
    co_await sleep(0s);
    throw std::runtime_error("cleanup failed");
  };
  HandlerLog handler;
  auto main = [&]() -> Coro<void> {
    handler.install();
    std::vector<std::string> log;
    auto g = create_task(gather(fail_in_cleanup(), cancellable(1, &log, "slow")));
    co_await sleep(0s);
    g.cancel();
    bool raised = false;
    try {
      co_await g;
    } catch (const CancelledError&) {
      raised = true;  // asyncio would raise "cleanup failed" here and lose the cancellation
    }
    EXPECT_TRUE(raised);
    EXPECT_EQ(log.back(), "slow cleaned up");
  };
  run(main());
  ASSERT_EQ(handler.count("gather() was cancelled"), 1u) << handler.dump();
  EXPECT_EQ(testing::what_of(handler.contexts()[0].exception),
            "std::runtime_error: cleanup failed");
}

TEST(Gather, CancellationRacingWithCompletionIsNotLost) {
  auto main = []() -> Coro<void> {
    Task<int> child = create_task(value_after(1, 1ms));
    Task<std::tuple<int>> g = create_task(gather(child));
    co_await sleep(0s);  // the gather registers its done-callback first
    // This done-callback runs right after gather's own: the gather's task has been woken
    // with the result, but has not run yet.
    child.add_done_callback([g](Task<int>&) mutable { g.cancel("late"); });
    bool raised = false;
    try {
      co_await g;
    } catch (const CancelledError& e) {
      raised = true;
      EXPECT_EQ(e.message(), "late");
    }
    EXPECT_TRUE(raised);
  };
  run(main());
}

// CPython test_gather: test_one_exception, with futures completed by hand.
TEST(Gather, CPythonOneException) {
  auto main = []() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    std::vector<Future<int>> fs;
    for (int i = 0; i < 5; ++i) fs.push_back(loop.create_future<int>());
    auto g = create_task(gather(fs));
    co_await sleep(0s);
    fs[0].set_result(0);
    fs[1].set_exception(std::make_exception_ptr(std::runtime_error("b")));
    co_await testing::run_briefly();
    CO_ASSERT_TRUE(g.done());
    EXPECT_TRUE(holds<std::runtime_error>(g.exception()));
    // The other futures are untouched.
    for (int i = 2; i < 5; ++i) EXPECT_FALSE(fs[i].done());
    fs[2].set_result(2);
    fs[3].set_exception(std::make_exception_ptr(std::runtime_error("d")));
    fs[4].set_result(4);
    (void)fs[3].exception();
  };
  run(main());
}

// CPython test_gather: test_return_exceptions.
TEST(Gather, CPythonReturnExceptions) {
  auto main = []() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    std::vector<Future<int>> fs;
    for (int i = 0; i < 4; ++i) fs.push_back(loop.create_future<int>());
    auto g = create_task(gather(return_exceptions, fs));
    co_await sleep(0s);
    fs[2].set_exception(std::make_exception_ptr(std::runtime_error("c")));
    fs[0].set_result(1);
    fs[3].cancel();
    co_await testing::run_briefly();
    EXPECT_FALSE(g.done());
    fs[1].set_result(2);
    std::vector<Outcome<int>> out = co_await g;
    EXPECT_EQ(out[0].value(), 1);
    EXPECT_EQ(out[1].value(), 2);
    EXPECT_TRUE(holds<std::runtime_error>(out[2].exception()));
    EXPECT_TRUE(out[3].cancelled());
  };
  run(main());
}

// CPython test_gather: test_cancellation_broadcast (cancelling the gather reaches a child
// that awaits a future, and the future).
TEST(Gather, CPythonCancellationBroadcast) {
  auto main = []() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    Future<int> f = loop.create_future<int>();
    auto waiter = [](Future<int> f) -> Coro<int> { co_return co_await f; };
    Task<int> child = create_task(waiter(f));
    auto g = create_task(gather(child, value_after(1, 1h)));
    co_await sleep(0s);
    EXPECT_TRUE(g.cancel());
    co_await testing::run_briefly();
    EXPECT_TRUE(g.cancelled());
    EXPECT_TRUE(child.cancelled());
    EXPECT_TRUE(f.cancelled());
  };
  run(main());
}

}  // namespace
}  // namespace weft
