#include "scheduler/wrap_future.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loop/weft.h"
#include "scheduler/concurrent_future.h"
#include "scheduler/runtime.h"
#include "tests/scheduler/loop_thread.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using testing::LoopThread;
using testing::Notification;

// Sets `f` from a new thread once `go` is notified; the thread is joined by the caller.
template <class T, class V>
std::thread set_later(ConcurrentFuture<T> f, Notification& go, V value) {
  return std::thread([f, &go, value]() mutable {
    go.wait();
    f.set_result(value);
  });
}

Coro<int> await_value(const ConcurrentFuture<int>& cf) { co_return co_await cf; }

TEST(WrapFuture, ResultSetByAnotherThreadReachesTheAwaitingTask) {
  ConcurrentFuture<int> cf;
  Notification go;
  std::thread producer = set_later(cf, go, 42);
  auto main = [&]() -> Coro<int> {
    Future<int> f = wrap_future(cf);
    EXPECT_FALSE(f.done());
    go.notify();
    co_return co_await f;
  };
  EXPECT_EQ(run(main()), 42);
  producer.join();
}

TEST(WrapFuture, AlreadyDoneFutureIsDoneAtOnce) {
  ConcurrentFuture<std::string> cf;
  cf.set_result("ready");
  auto main = [&]() -> Coro<std::string> {
    Future<std::string> f = wrap_future(cf);
    EXPECT_TRUE(f.done());
    co_return co_await f;
  };
  EXPECT_EQ(run(main()), "ready");
  EXPECT_EQ(cf.get(), "ready");  // copied out: still there for other readers
}

TEST(WrapFuture, ExceptionIsRethrownInTheTask) {
  ConcurrentFuture<int> cf;
  std::thread producer(
      [cf]() mutable { cf.set_exception(std::make_exception_ptr(std::runtime_error("far"))); });
  auto main = [&]() -> Coro<std::string> {
    try {
      co_await wrap_future(cf);
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "";
  };
  EXPECT_EQ(run(main()), "far");
  producer.join();
}

TEST(WrapFuture, CancellingTheConcurrentFutureCancelsTheAwaitingTask) {
  ConcurrentFuture<int> cf;
  Notification go;
  std::thread canceller([cf, &go]() mutable {
    go.wait();
    cf.cancel();
  });
  auto main = [&]() -> Coro<bool> {
    Future<int> f = wrap_future(cf);
    go.notify();
    try {
      co_await f;
    } catch (const CancelledError&) {
      co_return f.cancelled();
    }
    co_return false;
  };
  EXPECT_TRUE(run(main()));
  canceller.join();
}

TEST(WrapFuture, CancellingTheAwaitingTaskCancelsTheConcurrentFuture) {
  ConcurrentFuture<int> cf;
  auto main = [&]() -> Coro<bool> {
    Task<int> waiter = create_task(await_value(cf));
    co_await sleep(0s);  // let it start waiting
    waiter.cancel();
    try {
      co_await waiter;
    } catch (const CancelledError&) {
    }
    co_await sleep(0s);  // the Future's done-callback (call_soon) cancels cf
    co_return cf.cancelled();
  };
  EXPECT_TRUE(run(main()));
}

TEST(WrapFuture, AConcurrentFutureThatCannotBeCancelledStillCompletes) {
  ConcurrentFuture<int> cf;
  cf.set_running_or_notify_cancel();  // an executor started the work: cancel() fails now
  auto main = [&]() -> Coro<bool> {
    Task<int> waiter = create_task(await_value(cf));
    co_await sleep(0s);
    waiter.cancel();
    try {
      co_await waiter;
    } catch (const CancelledError&) {
    }
    co_await sleep(0s);
    co_return cf.cancelled();
  };
  EXPECT_FALSE(run(main()));
  cf.set_result(1);  // arrives for a cancelled Future on a closed loop: dropped
  EXPECT_EQ(cf.get(), 1);
}

TEST(WrapFuture, CoAwaitConcurrentFutureIsSugarForWrapFuture) {
  ConcurrentFuture<int> cf;
  Notification go;
  std::thread producer = set_later(cf, go, 8);
  auto main = [&]() -> Coro<int> {
    go.notify();
    int a = co_await cf;
    int b = co_await cf;  // a done future: no suspension, same value
    co_return a + b;
  };
  EXPECT_EQ(run(main()), 16);
  producer.join();
}

TEST(WrapFuture, VoidAndMoveOnly) {
  ConcurrentFuture<void> v;
  ConcurrentFuture<std::unique_ptr<int>> p;
  std::thread producer([v, p]() mutable {
    v.set_result();
    p.set_result(std::make_unique<int>(6));
  });
  auto main = [&]() -> Coro<int> {
    co_await v;
    std::unique_ptr<int> value = co_await p;  // moved out of p
    co_return *value;
  };
  EXPECT_EQ(run(main()), 6);
  producer.join();
}

TEST(WrapFuture, OutsideALoopRaisesRuntimeError) {
  ConcurrentFuture<int> cf;
  EXPECT_THROW((void)wrap_future(cf), RuntimeError);
}

// The completion arrives after the loop has closed: it is dropped, without error.
TEST(WrapFuture, ResultForAClosedLoopIsDropped) {
  LoopThread lt;
  ConcurrentFuture<int> cf;
  Notification wrapped;
  lt.loop().call_soon_threadsafe([&] {
    Future<int> f = wrap_future(cf);  // nobody awaits it
    wrapped.notify();
  });
  wrapped.wait();
  lt.stop();  // closed, not destroyed
  cf.set_result(1);
  EXPECT_EQ(cf.get(), 1);
}

// The completion arrives after weft::run has returned and its loop is destroyed.
TEST(WrapFuture, ResultForADestroyedLoopIsDropped) {
  ConcurrentFuture<int> cf;
  auto main = [&]() -> Coro<void> {
    // Left pending: weft::run's shutdown cancels this task, and its Future with it.
    create_task(await_value(cf));
    co_await sleep(0s);
  };
  run(main());
  EXPECT_TRUE(cf.cancelled());  // the cancellation crossed before the loop closed
  std::thread late([cf]() mutable { EXPECT_FALSE(cf.try_set_result(5)); });
  late.join();

  // The same with a Future nobody awaits, so that nothing cancels cf first.
  ConcurrentFuture<int> cf2;
  auto main2 = [&]() -> Coro<void> {
    (void)wrap_future(cf2);
    co_return;
  };
  run(main2());
  std::thread late2([cf2]() mutable { cf2.set_result(6); });
  late2.join();
  EXPECT_EQ(cf2.get(), 6);
}

// Tasks on the loops of a Runtime await futures that plain threads complete.
TEST(WrapFuture, TasksOnSeveralLoopsAwaitThreadCompletedFutures) {
  constexpr int kFutures = 64;
  std::vector<ConcurrentFuture<int>> cfs(kFutures);
  std::thread producer([&] {
    for (int i = kFutures - 1; i >= 0; --i) cfs[i].set_result(i);
  });
  auto waiter = [&](int i) -> Coro<int> { co_return co_await cfs[i]; };
  auto main = [&]() -> Coro<long> {
    std::vector<Task<int>> tasks;
    for (int i = 0; i < kFutures; ++i) tasks.push_back(spawn(waiter(i)));
    long sum = 0;
    for (auto& t : tasks) sum += co_await t;
    co_return sum;
  };
  EXPECT_EQ(run(main(), RunOptions{.threads = 2}), kFutures * (kFutures - 1) / 2);
  producer.join();
}

// Many loops bridge to futures completed from many threads, in both orders.
TEST(WrapFuture, StressFromSeveralThreads) {
  constexpr int kFutures = 2000;
  std::vector<ConcurrentFuture<int>> cfs(kFutures);
  std::atomic<bool> start{false};
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&, t] {
      while (!start.load()) std::this_thread::yield();
      for (int i = t; i < kFutures; i += 4) cfs[i].set_result(i);
    });
  }
  auto main = [&]() -> Coro<long> {
    std::vector<Future<int>> fs;
    for (int i = 0; i < kFutures; ++i) {
      fs.push_back(wrap_future(cfs[i]));
      if (i == kFutures / 2) start = true;  // half wrapped before, half after completion
    }
    long sum = 0;
    for (auto& f : fs) sum += co_await f;
    co_return sum;
  };
  EXPECT_EQ(run(main()), static_cast<long>(kFutures) * (kFutures - 1) / 2);
  for (auto& p : producers) p.join();
}

}  // namespace
}  // namespace weft
