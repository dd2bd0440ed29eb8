// Tests for Future<T>: create_future, set_result / set_exception / cancel, awaiting,
// done-callbacks, Future<void>, move-only values, misuse (InvalidStateError) and the
// "Future exception was never retrieved" report.

#include "loop/future.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loop/weft.h"
#include "tests/loop/test_util.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using loop_test::HandlerLog;

Coro<void> yield_once() { co_await sleep(0s); }

template <class T>
Coro<T> await_future(Future<T> f) {
  co_return co_await f;
}

TEST(Future, StartsPendingAndBoundToItsLoop) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  EXPECT_TRUE(f);
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(&f.get_loop(), &loop);
  EXPECT_FALSE(Future<int>());
}

TEST(Future, SetResult) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  f.set_result(5);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.result(), 5);
  EXPECT_EQ(f.exception(), nullptr);
}

TEST(Future, CopiesShareOneSlot) {
  EventLoop loop;
  Future<std::string> a = loop.create_future<std::string>();
  Future<std::string> b = a;
  b.set_result("shared");
  EXPECT_TRUE(a.done());
  EXPECT_EQ(a.result(), "shared");
}

TEST(Future, SetException) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  f.set_exception(std::make_exception_ptr(std::invalid_argument("nope")));
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_THROW(f.result(), std::invalid_argument);
  EXPECT_EQ(loop_test::what(f.exception()), "nope");
}

TEST(Future, Cancel) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  EXPECT_TRUE(f.cancel("no longer needed"));
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(f.cancelled());
  try {
    f.result();
    FAIL();
  } catch (const CancelledError& e) {
    EXPECT_EQ(e.message(), "no longer needed");
  }
  EXPECT_THROW(f.exception(), CancelledError);
  EXPECT_FALSE(f.cancel());  // already done
}

TEST(Future, CancelADoneFutureReturnsFalse) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  f.set_result(1);
  EXPECT_FALSE(f.cancel());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.result(), 1);
}

TEST(Future, ResultAndExceptionBeforeDoneRaiseInvalidStateError) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  try {
    f.result();
    FAIL();
  } catch (const InvalidStateError& e) {
    EXPECT_THAT(e.what(), HasSubstr("not set yet"));
  }
  EXPECT_THROW(f.exception(), InvalidStateError);
}

TEST(Future, SettingTwiceRaisesInvalidStateError) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  f.set_result(1);
  try {
    f.set_result(2);
    FAIL();
  } catch (const InvalidStateError& e) {
    EXPECT_THAT(e.what(), HasSubstr("set_result"));
    EXPECT_THAT(e.what(), HasSubstr("only once"));
  }
  EXPECT_THROW(f.set_exception(std::make_exception_ptr(std::runtime_error("x"))),
               InvalidStateError);
  EXPECT_EQ(f.result(), 1);

  Future<int> failed = loop.create_future<int>();
  failed.set_exception(std::make_exception_ptr(std::runtime_error("first")));
  EXPECT_THROW(failed.set_result(1), InvalidStateError);
  EXPECT_THROW(failed.set_exception(std::make_exception_ptr(std::runtime_error("second"))),
               InvalidStateError);
  EXPECT_EQ(loop_test::what(failed.exception()), "first");

  Future<int> cancelled = loop.create_future<int>();
  cancelled.cancel();
  EXPECT_THROW(cancelled.set_result(1), InvalidStateError);
  EXPECT_THROW(cancelled.set_exception(std::make_exception_ptr(std::runtime_error("x"))),
               InvalidStateError);
}

TEST(Future, AwaitingSuspendsUntilSet) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  std::vector<std::string> log;
  loop.call_later(1ms, [&] {
    log.push_back("setting");
    f.set_result(42);
  });
  int v = loop.run_until_complete([](Future<int> fut, std::vector<std::string>& l) -> Coro<int> {
    l.push_back("awaiting");
    int r = co_await fut;
    l.push_back("resumed");
    co_return r;
  }(f, log));
  EXPECT_EQ(v, 42);
  EXPECT_THAT(log, ElementsAre("awaiting", "setting", "resumed"));
}

TEST(Future, AwaitingADoneFutureDoesNotSuspend) {
  std::vector<std::string> log;
  auto main = [&]() -> Coro<int> {
    Future<int> f = EventLoop::current().create_future<int>();
    f.set_result(3);
    EventLoop::current().call_soon([&] { log.push_back("callback"); });
    int v = co_await f;
    log.push_back("after await");
    co_await yield_once();
    co_return v;
  };
  EXPECT_EQ(run(main()), 3);
  EXPECT_THAT(log, ElementsAre("after await", "callback"));
}

TEST(Future, AwaitingRaisesTheException) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  loop.call_later(1ms, [&] { f.set_exception(std::make_exception_ptr(std::logic_error("bad"))); });
  EXPECT_THROW(loop.run_until_complete(await_future(f)), std::logic_error);
}

TEST(Future, AwaitingACancelledFutureRaisesCancelledError) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  loop.call_soon([&] { f.cancel("gone"); });
  try {
    loop.run_until_complete(await_future(f));
    FAIL();
  } catch (const CancelledError& e) {
    EXPECT_EQ(e.message(), "gone");
  }
}

TEST(Future, SeveralTasksAwaitingAreWokenInOrder) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  std::vector<int> log;
  auto waiter = [](Future<int> fut, std::vector<int>& l, int i) -> Coro<void> {
    l.push_back(co_await fut + i);
  };
  std::vector<Task<void>> tasks;
  for (int i = 0; i < 5; ++i) tasks.push_back(loop.create_task(waiter(f, log, i)));
  loop.call_later(1ms, [&] { f.set_result(10); });
  for (auto& t : tasks) loop.run_until_complete(t);
  EXPECT_THAT(log, ElementsAre(10, 11, 12, 13, 14));
}

TEST(Future, VoidFuture) {
  EventLoop loop;
  Future<void> f = loop.create_future();
  EXPECT_FALSE(f.done());
  EXPECT_THROW(f.result(), InvalidStateError);
  loop.call_soon([&] { f.set_result(); });
  loop.run_until_complete(await_future(f));
  EXPECT_TRUE(f.done());
  f.result();
  EXPECT_THROW(f.set_result(), InvalidStateError);
}

TEST(Future, MoveOnlyValueMovedOutByAwaitingAnRvalue) {
  EventLoop loop;
  Future<std::unique_ptr<int>> f = loop.create_future<std::unique_ptr<int>>();
  f.set_result(std::make_unique<int>(8));
  std::unique_ptr<int> p = loop.run_until_complete(
      [](Future<std::unique_ptr<int>> fut) -> Coro<std::unique_ptr<int>> {
        co_return co_await std::move(fut);
      }(f));
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 8);
}

TEST(Future, AwaitingAnLvalueCopiesTheValue) {
  EventLoop loop;
  Future<std::string> f = loop.create_future<std::string>();
  f.set_result("kept");
  auto twice = [](Future<std::string> fut) -> Coro<std::string> {
    std::string a = co_await fut;
    std::string b = co_await fut;
    co_return a + b;
  };
  EXPECT_EQ(loop.run_until_complete(twice(f)), "keptkept");
  EXPECT_EQ(f.result(), "kept");
}

TEST(Future, CompletedFromAnotherThreadThroughCallSoonThreadsafe) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  std::thread worker;
  int v = loop.run_until_complete([](EventLoop& l, Future<int> fut, std::thread& w) -> Coro<int> {
    w = std::thread([&l, fut]() mutable {
      l.call_soon_threadsafe([fut]() mutable { fut.set_result(77); });
    });
    co_return co_await fut;
  }(loop, f, worker));
  worker.join();
  EXPECT_EQ(v, 77);
}

// --- done-callbacks ---

TEST(FutureDoneCallback, RunViaCallSoonInRegistrationOrder) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  std::vector<std::string> log;
  f.add_done_callback([&](Future<int>& fut) { log.push_back("a" + std::to_string(fut.result())); });
  f.add_done_callback([&](Future<int>&) { log.push_back("b"); });
  loop.call_soon([&] {
    f.set_result(1);
    log.push_back("set");  // the callbacks are scheduled, not called synchronously
  });
  loop.call_soon([&] { log.push_back("queued before completion"); });
  loop.run_until_complete(yield_once());
  loop.run_until_complete(yield_once());
  EXPECT_THAT(log, ElementsAre("set", "queued before completion", "a1", "b"));
}

TEST(FutureDoneCallback, CallbacksAndAwaitingTasksRunInRegistrationOrder) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  std::vector<std::string> log;
  auto waiter = [](Future<int> fut, std::vector<std::string>& l, std::string name) -> Coro<void> {
    co_await fut;
    l.push_back(name);
  };
  f.add_done_callback([&](Future<int>&) { log.push_back("cb1"); });
  Task<void> t1 = loop.create_task(waiter(f, log, "task1"));
  loop.run_until_complete(yield_once());  // t1 is now waiting
  f.add_done_callback([&](Future<int>&) { log.push_back("cb2"); });
  Task<void> t2 = loop.create_task(waiter(f, log, "task2"));
  loop.run_until_complete(yield_once());
  f.add_done_callback([&](Future<int>&) { log.push_back("cb3"); });
  loop.call_soon([&] { f.set_result(1); });
  loop.run_until_complete(t2);
  loop.run_until_complete(yield_once());
  EXPECT_THAT(log, ElementsAre("cb1", "task1", "cb2", "task2", "cb3"));
}

TEST(FutureDoneCallback, OnADoneFutureIsScheduledNotCalledSynchronously) {
  EventLoop loop;
  Future<int> f = loop.create_future<int>();
  f.set_result(1);
  bool ran = false;
  f.add_done_callback([&](Future<int>&) { ran = true; });
  EXPECT_FALSE(ran);
  loop.run_until_complete(yield_once());
  EXPECT_TRUE(ran);
}

TEST(FutureDoneCallback, RunForCancelledAndFailedFutures) {
  EventLoop loop;
  Future<int> c = loop.create_future<int>();
  Future<int> e = loop.create_future<int>();
  std::vector<std::string> log;
  c.add_done_callback([&](Future<int>& f) { log.push_back(f.cancelled() ? "cancelled" : "?"); });
  e.add_done_callback([&](Future<int>& f) { log.push_back(loop_test::what(f.exception())); });
  c.cancel();
  e.set_exception(std::make_exception_ptr(std::runtime_error("failed")));
  loop.run_until_complete(yield_once());
  EXPECT_THAT(log, ElementsAre("cancelled", "failed"));
}

TEST(FutureDoneCallback, RemoveDoneCallback) {
  EventLoop loop;
  Future<void> f = loop.create_future();
  std::vector<int> log;
  uint64_t a = f.add_done_callback([&](Future<void>&) { log.push_back(1); });
  uint64_t b = f.add_done_callback([&](Future<void>&) { log.push_back(2); });
  EXPECT_NE(a, b);
  EXPECT_EQ(f.remove_done_callback(a), 1u);
  EXPECT_EQ(f.remove_done_callback(a), 0u);
  f.set_result();
  loop.run_until_complete(yield_once());
  EXPECT_THAT(log, ElementsAre(2));
}

TEST(FutureDoneCallback, KeepsTheFutureAliveAfterTheLastHandle) {
  EventLoop loop;
  int seen = 0;
  {
    Future<int> f = loop.create_future<int>();
    f.add_done_callback([&](Future<int>& fut) { seen = fut.result(); });
    f.set_result(4);
  }
  loop.run_until_complete(yield_once());
  EXPECT_EQ(seen, 4);
}

// --- reports ---

TEST(FutureReports, ExceptionNeverRetrievedIsReportedWhenTheLastHandleGoes) {
  EventLoop loop;
  HandlerLog log;
  log.install(loop);
  Future<int> f = loop.create_future<int>();
  Future<int> copy = f;
  f.set_exception(std::make_exception_ptr(std::runtime_error("unseen")));
  f = Future<int>();
  EXPECT_TRUE(log.contexts.empty());  // a copy still holds it
  copy = Future<int>();
  ASSERT_EQ(log.contexts.size(), 1u);
  EXPECT_EQ(log.contexts[0].message, "Future exception was never retrieved");
  EXPECT_EQ(loop_test::what(log.contexts[0].exception), "unseen");
  EXPECT_THAT(log.contexts[0].future, HasSubstr("Future"));
}

TEST(FutureReports, NotReportedWhenRetrievedOrCancelled) {
  EventLoop loop;
  HandlerLog log;
  log.install(loop);
  {
    Future<int> by_result = loop.create_future<int>();
    by_result.set_exception(std::make_exception_ptr(std::runtime_error("a")));
    EXPECT_THROW(by_result.result(), std::runtime_error);

    Future<int> by_exception = loop.create_future<int>();
    by_exception.set_exception(std::make_exception_ptr(std::runtime_error("b")));
    EXPECT_NE(by_exception.exception(), nullptr);

    Future<int> by_await = loop.create_future<int>();
    by_await.set_exception(std::make_exception_ptr(std::runtime_error("c")));
    EXPECT_THROW(loop.run_until_complete(await_future(by_await)), std::runtime_error);

    Future<int> cancelled = loop.create_future<int>();
    cancelled.cancel();

    Future<int> value = loop.create_future<int>();
    value.set_result(1);

    Future<int> pending = loop.create_future<int>();
  }
  EXPECT_TRUE(log.contexts.empty()) << log.contexts[0].message;
}

TEST(FutureReports, FutureOutlivingItsLoopReportsSafely) {
  Future<int> f;
  {
    EventLoop loop;
    f = loop.create_future<int>();
    f.set_exception(std::make_exception_ptr(std::runtime_error("late")));
  }
  ::testing::internal::CaptureStderr();
  f = Future<int>();
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("Future exception was never retrieved"));
}

// `co_await holder.f` borrows holder.f's reference until it suspends (future_awaiter.h). Here
// the handle is dropped while the task is suspended, after the future completed: the awaiter's
// own reference is then the last, and await_resume must still find the value (ASan reports a
// use after free otherwise).
struct FutureHolder {
  Future<std::string> f;
};

Coro<std::string> await_member(FutureHolder& holder) { co_return co_await holder.f; }

TEST(Future, AwaitingAMemberSurvivesTheMemberBeingReassigned) {
  EventLoop loop;
  FutureHolder holder{loop.create_future<std::string>()};
  auto main = [](EventLoop& loop, FutureHolder& holder) -> Coro<std::string> {
    Task<std::string> waiter = loop.create_task(await_member(holder));
    co_await sleep(0s);  // the waiter is now suspended on holder.f
    holder.f.set_result("still here");
    holder.f = Future<std::string>();  // the waiter's reference is the last
    co_return co_await waiter;
  };
  EXPECT_EQ(loop.run_until_complete(main(loop, holder)), "still here");
}

// Awaiting a temporary takes a reference at once: the temporary may be gone before the
// awaiter is (an awaitable that returns `make_future().operator co_await()`).
struct CompletedFutureAwaitable {
  EventLoop* loop;
  auto operator co_await() const {
    Future<int> f = loop->create_future<int>();
    f.set_result(11);
    return std::move(f).operator co_await();
  }
};

TEST(Future, AnAwaiterOutlivingItsTemporaryHandleKeepsTheFuture) {
  EventLoop loop;
  auto main = [](EventLoop& loop) -> Coro<int> {
    co_return co_await CompletedFutureAwaitable{&loop};
  };
  EXPECT_EQ(loop.run_until_complete(main(loop)), 11);
}

}  // namespace
}  // namespace weft
