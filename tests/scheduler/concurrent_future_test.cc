#include "scheduler/concurrent_future.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loop/weft.h"
#include "tests/scheduler/loop_thread.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using testing::Notification;

TEST(ConcurrentFuture, SetThenGet) {
  ConcurrentFuture<int> f;
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.cancelled());
  f.set_result(42);
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.get(), 42);
  EXPECT_EQ(f.get(1ms), 42);
  EXPECT_EQ(f.exception(), nullptr);
}

TEST(ConcurrentFuture, GetBlocksUntilAnotherThreadSetsIt) {
  ConcurrentFuture<std::string> f;
  std::thread producer([f]() mutable { f.set_result("hello"); });
  EXPECT_EQ(f.get(), "hello");
  producer.join();
}

TEST(ConcurrentFuture, ManyThreadsWaitForOneResult) {
  ConcurrentFuture<int> f;
  std::atomic<int> sum{0};
  std::vector<std::thread> getters;
  for (int i = 0; i < 8; ++i) {
    getters.emplace_back([f, &sum]() mutable { sum += f.get(); });
  }
  std::thread setter([f]() mutable { f.set_result(5); });
  for (auto& t : getters) t.join();
  setter.join();
  EXPECT_EQ(sum.load(), 40);
}

TEST(ConcurrentFuture, GetWithTimeoutRaisesTimeoutErrorWhilePending) {
  ConcurrentFuture<int> f;
  EXPECT_THROW(f.get(1ms), TimeoutError);
  EXPECT_THROW(f.exception(1ms), TimeoutError);
  EXPECT_FALSE(f.done());
  f.set_result(1);  // still usable afterwards
  EXPECT_EQ(f.get(0ms), 1);
}

TEST(ConcurrentFuture, GetWithTimeoutReturnsOnceSetFromAnotherThread) {
  ConcurrentFuture<int> f;
  std::thread producer([f]() mutable { f.set_result(7); });
  EXPECT_EQ(f.get(60s), 7);
  producer.join();
}

TEST(ConcurrentFuture, ExceptionIsRethrownByGetAndReturnedByException) {
  ConcurrentFuture<int> f;
  std::thread producer(
      [f]() mutable { f.set_exception(std::make_exception_ptr(std::runtime_error("boom"))); });
  EXPECT_THROW(
      {
        try {
          f.get();
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "boom");
          throw;
        }
      },
      std::runtime_error);
  producer.join();
  std::exception_ptr e = f.exception();
  ASSERT_NE(e, nullptr);
  EXPECT_THROW(std::rethrow_exception(e), std::runtime_error);
}

TEST(ConcurrentFuture, CancelPending) {
  ConcurrentFuture<int> f;
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancel());  // already cancelled: still true, as concurrent.futures
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(f.get(), CancelledError);
  EXPECT_THROW(f.get(1s), CancelledError);
  EXPECT_THROW(f.exception(), CancelledError);
  EXPECT_FALSE(f.try_set_result(1));
  EXPECT_THROW(f.set_result(1), InvalidStateError);
}

TEST(ConcurrentFuture, CancelWakesBlockedGetter) {
  ConcurrentFuture<int> f;
  std::thread getter([f]() mutable { EXPECT_THROW(f.get(), CancelledError); });
  std::thread canceller([f]() mutable { EXPECT_TRUE(f.cancel()); });
  getter.join();
  canceller.join();
}

TEST(ConcurrentFuture, CannotCancelFinishedOrRunning) {
  ConcurrentFuture<int> finished;
  finished.set_result(1);
  EXPECT_FALSE(finished.cancel());
  EXPECT_EQ(finished.get(), 1);

  ConcurrentFuture<int> running;
  EXPECT_TRUE(running.set_running_or_notify_cancel());
  EXPECT_TRUE(running.running());
  EXPECT_FALSE(running.cancel());
  EXPECT_THROW(running.set_running_or_notify_cancel(), InvalidStateError);
  running.set_result(2);
  EXPECT_FALSE(running.running());
  EXPECT_EQ(running.get(), 2);
}

TEST(ConcurrentFuture, SetRunningOrNotifyCancelOnCancelledFutureIsFalse) {
  ConcurrentFuture<int> f;
  f.cancel();
  EXPECT_FALSE(f.set_running_or_notify_cancel());
}

TEST(ConcurrentFuture, SecondSetRaisesInvalidStateErrorSayingWhatToDo) {
  ConcurrentFuture<int> f;
  f.set_result(1);
  try {
    f.set_result(2);
    FAIL() << "expected InvalidStateError";
  } catch (const InvalidStateError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("set_result"), std::string::npos) << what;
    EXPECT_NE(what.find("try_set_result"), std::string::npos) << what;
  }
  EXPECT_THROW(f.set_exception(std::make_exception_ptr(std::runtime_error("x"))),
               InvalidStateError);
  EXPECT_FALSE(f.try_set_exception(std::make_exception_ptr(std::runtime_error("x"))));
  EXPECT_EQ(f.get(), 1);
}

TEST(ConcurrentFuture, SetExceptionNullIsRefused) {
  ConcurrentFuture<int> f;
  EXPECT_THROW(f.set_exception(nullptr), RuntimeError);
  EXPECT_FALSE(f.done());
}

TEST(ConcurrentFuture, EmptyHandleRaisesRuntimeError) {
  ConcurrentFuture<int> f;
  ConcurrentFuture<int> g = std::move(f);
  EXPECT_FALSE(static_cast<bool>(f));  // NOLINT(bugprone-use-after-move): the point
  EXPECT_THROW(f.done(), RuntimeError);
  EXPECT_THROW(f.set_result(1), RuntimeError);
  EXPECT_FALSE(g.done());
}

TEST(ConcurrentFuture, CallbackRunsInTheCompletingThread) {
  ConcurrentFuture<int> f;
  std::thread::id ran_on;
  int seen = 0;
  f.add_done_callback([&](ConcurrentFuture<int>& done) {
    ran_on = std::this_thread::get_id();
    seen = done.get();
  });
  std::thread::id producer_id;
  std::thread producer([f, &producer_id]() mutable {
    producer_id = std::this_thread::get_id();
    f.set_result(9);
  });
  producer.join();
  EXPECT_EQ(ran_on, producer_id);
  EXPECT_EQ(seen, 9);
}

TEST(ConcurrentFuture, CallbackOnDoneFutureRunsAtOnceInCaller) {
  ConcurrentFuture<int> f;
  f.set_result(3);
  std::thread::id ran_on;
  f.add_done_callback([&](ConcurrentFuture<int>&) { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(ConcurrentFuture, CallbacksRunInOrderAndAThrowingOneDoesNotStopTheOthers) {
  ConcurrentFuture<void> f;
  std::vector<int> order;
  f.add_done_callback([&](ConcurrentFuture<void>&) { order.push_back(1); });
  f.add_done_callback([&](ConcurrentFuture<void>&) {
    order.push_back(2);
    throw std::runtime_error("callback failure (expected by the test)");
  });
  f.add_done_callback([&](ConcurrentFuture<void>&) { order.push_back(3); });
  f.cancel();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(ConcurrentFuture, CallbacksSeeCancellation) {
  ConcurrentFuture<int> f;
  bool saw_cancelled = false;
  f.add_done_callback([&](ConcurrentFuture<int>& d) { saw_cancelled = d.cancelled(); });
  std::thread t([f]() mutable { f.cancel(); });
  t.join();
  EXPECT_TRUE(saw_cancelled);
}

TEST(ConcurrentFuture, VoidMoveOnlyAndReference) {
  ConcurrentFuture<void> v;
  v.set_result();
  v.get();

  ConcurrentFuture<std::unique_ptr<int>> p;
  p.set_result(std::make_unique<int>(5));
  EXPECT_EQ(*p.get(), 5);

  int x = 1;
  ConcurrentFuture<int&> r;
  r.set_result(x);
  r.get() = 2;
  EXPECT_EQ(x, 2);
}

TEST(ConcurrentFuture, CancelRacesWithSetExactlyOneWins) {
  for (int i = 0; i < 500; ++i) {
    ConcurrentFuture<int> f;
    std::atomic<int> callbacks{0};
    f.add_done_callback([&](ConcurrentFuture<int>&) { ++callbacks; });
    bool set_won = false;
    bool cancel_won = false;
    std::thread a([&, f]() mutable { set_won = f.try_set_result(i); });
    std::thread b([&, f]() mutable { cancel_won = f.cancel(); });
    a.join();
    b.join();
    EXPECT_NE(set_won, cancel_won);
    EXPECT_EQ(callbacks.load(), 1);
    if (set_won) {
      EXPECT_EQ(f.get(), i);
    } else {
      EXPECT_TRUE(f.cancelled());
    }
  }
}

// Debug mode or not: a blocking get() on a loop's thread is asyncio's "blocking call on the
// loop" mistake, and here it could deadlock the loop.
TEST(ConcurrentFuture, BlockingGetFromALoopThreadRaises) {
  for (bool debug : {false, true}) {
    ConcurrentFuture<int> f;
    auto main = [&]() -> Coro<int> {
      int raised = 0;
      try {
        f.get();
      } catch (const RuntimeError& e) {
        EXPECT_NE(std::string(e.what()).find("co_await"), std::string::npos) << e.what();
        ++raised;
      }
      try {
        f.get(std::chrono::seconds(10));
      } catch (const RuntimeError&) {
        ++raised;
      }
      co_return raised;
    };
    EXPECT_EQ(run(main(), RunOptions{.debug = debug}), 2) << "debug " << debug;
    // A done future may be read anywhere.
    f.set_result(1);
    auto read = [&]() -> Coro<int> { co_return f.get(); };
    EXPECT_EQ(run(read(), RunOptions{.debug = debug}), 1);
  }
}

}  // namespace
}  // namespace weft
