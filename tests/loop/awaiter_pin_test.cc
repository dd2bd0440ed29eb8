// Tests for the awaiter pins of a plain future (loop/future_base.h, "Awaiter pins"): a task
// that never leaves its loop awaits a future of that loop by name without taking a
// reference, and the future must outlive it however its handles go: dropped on the loop
// while the task waits, dropped on another thread (the release travels to the loop), dropped
// with the loop closed before it could run, with the waiting task cancelled, or with more
// awaiters than the pin count holds.
//
// A future's end is seen through what it owns: its value (Tracked counts live instances) or
// a done-callback that never ran (DestroyCounter counts destructions). ASan reports what
// these cannot see (a use after free, a leak).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "loop/weft.h"
#include "tests/loop/test_util.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

struct Tracked {
  static inline std::atomic<int> live{0};
  explicit Tracked(int v) : value(v) { ++live; }
  Tracked(const Tracked& o) : value(o.value) { ++live; }
  ~Tracked() { --live; }
  int value;
};

// Counts its destruction; moved-from instances count nothing.
class DestroyCounter {
 public:
  explicit DestroyCounter(int* n) : n_(n) {}
  DestroyCounter(DestroyCounter&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  ~DestroyCounter() {
    if (n_) ++*n_;
  }

 private:
  int* n_;
};

template <class T>
struct Holder {
  Future<T> f;
};

template <class T>
Coro<T> await_member(Holder<T>& holder) {
  co_return co_await holder.f;  // by name: borrows holder.f's reference, then pins
}

Coro<void> yield_once() { co_await sleep(0s); }

class AwaiterPinTest : public ::testing::Test {
 protected:
  void SetUp() override { Tracked::live = 0; }
  void TearDown() override { EXPECT_EQ(Tracked::live.load(), 0) << "a future was not freed"; }
};

TEST_F(AwaiterPinTest, ATaskOfTheLoopPinsInsteadOfTakingAReference) {
  EventLoop loop;
  Holder<int> holder{loop.create_future<int>()};
  auto main = [](EventLoop& loop, Holder<int>& holder) -> Coro<int> {
    Task<int> a = loop.create_task(await_member(holder));
    Task<int> b = loop.create_task(await_member(holder));
    co_await yield_once();  // both are suspended on holder.f
    EXPECT_EQ(holder.f.base()->pinned_awaiters(), 2);
    holder.f.set_result(4);
    int sum = co_await a + co_await b;
    EXPECT_EQ(holder.f.base()->pinned_awaiters(), 0);
    co_return sum;
  };
  EXPECT_EQ(loop.run_until_complete(main(loop, holder)), 8);
}

TEST_F(AwaiterPinTest, TheLastHandleDroppedOnTheLoopLeavesTheFutureToTheAwaiter) {
  EventLoop loop;
  Holder<Tracked> holder{loop.create_future<Tracked>()};
  auto main = [](EventLoop& loop, Holder<Tracked>& holder) -> Coro<int> {
    Task<Tracked> waiter = loop.create_task(await_member(holder));
    co_await yield_once();
    holder.f.set_result(Tracked(7));
    holder.f = Future<Tracked>();  // the last reference, while the waiter is pinned
    EXPECT_EQ(Tracked::live.load(), 1);  // still there for the waiter
    co_return (co_await waiter).value;
  };
  EXPECT_EQ(loop.run_until_complete(main(loop, holder)), 7);
}

TEST_F(AwaiterPinTest, TheLastHandleDroppedOnAnotherThreadIsReleasedOnTheLoop) {
  EventLoop loop;
  Holder<Tracked> holder{loop.create_future<Tracked>()};
  auto main = [](EventLoop& loop, Holder<Tracked>& holder) -> Coro<int> {
    Task<Tracked> waiter = loop.create_task(await_member(holder));
    co_await yield_once();
    holder.f.set_result(Tracked(9));
    Future<Tracked> other = holder.f;
    holder.f = Future<Tracked>();
    // The waiter is woken but has not resumed: its pin is held while another thread drops
    // the last handle.
    std::thread([other = std::move(other)]() mutable { other = Future<Tracked>(); }).join();
    EXPECT_EQ(Tracked::live.load(), 1);
    co_return (co_await waiter).value;
  };
  EXPECT_EQ(loop.run_until_complete(main(loop, holder)), 9);
}

TEST_F(AwaiterPinTest, AReleaseSentToALoopThatClosesUnrunIsMadeByClose) {
  int destroyed = 0;
  {
    EventLoop loop;
    Holder<int> holder{loop.create_future<int>()};
    holder.f.add_done_callback([d = DestroyCounter(&destroyed)](Future<int>&) {});
    auto setup = [](EventLoop& loop, Holder<int>& holder) -> Coro<void> {
      Task<int> waiter = loop.create_task(await_member(holder));  // stays suspended, pinned
      co_await yield_once();
    };
    loop.run_until_complete(setup(loop, holder));
    EXPECT_EQ(holder.f.base()->pinned_awaiters(), 1);
    // This thread does not run the loop: the last handle's release is sent to it, and the
    // loop is closed before it runs again.
    holder.f = Future<int>();
    EXPECT_EQ(destroyed, 0);
    loop.close();  // drops the release (the count), then the task's frame (the pin)
    EXPECT_EQ(destroyed, 1);
  }
}

TEST_F(AwaiterPinTest, AnOrphanedFutureCancelledWithItsWaiterRunsItsCallbacks) {
  EventLoop loop;
  Holder<int> holder{loop.create_future<int>()};
  auto main = [](EventLoop& loop, Holder<int>& holder) -> Coro<std::string> {
    std::string seen;
    holder.f.add_done_callback(
        [&seen](Future<int>& f) { seen = f.cancelled() ? "cancelled" : "not cancelled"; });
    Task<int> waiter = loop.create_task(await_member(holder));
    co_await yield_once();
    holder.f = Future<int>();  // pending, no handle left: only the pin keeps it
    waiter.cancel();           // cancels the future, whose callback takes a reference
    bool cancelled = false;
    try {
      co_await waiter;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    co_await yield_once();  // the callback runs, then drops the last reference
    co_return seen;
  };
  EXPECT_EQ(loop.run_until_complete(main(loop, holder)), "cancelled");
}

// Pending, with no callback: nothing takes a reference again, and the cancelled waiter's
// unpin frees the future (ASan reports the leak otherwise).
TEST_F(AwaiterPinTest, AnOrphanedFutureWithoutCallbacksIsFreedWhenItsCancelledWaiterEnds) {
  EventLoop loop;
  Holder<int> holder{loop.create_future<int>()};
  auto main = [](EventLoop& loop, Holder<int>& holder) -> Coro<bool> {
    Task<int> waiter = loop.create_task(await_member(holder));
    co_await yield_once();
    holder.f = Future<int>();
    waiter.cancel();
    try {
      co_await waiter;
    } catch (const CancelledError&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(loop.run_until_complete(main(loop, holder)));
}

TEST_F(AwaiterPinTest, AnAbandonedWaiterFreesTheOrphanedFutureItPinned) {
  int destroyed = 0;
  {
    EventLoop loop;
    auto setup = [](EventLoop& loop, int& destroyed) -> Coro<void> {
      // The holder lives in a task's frame that is abandoned with the loop.
      auto owner = [](int& destroyed) -> Coro<void> {
        Holder<int> holder{EventLoop::current().create_future<int>()};
        holder.f.add_done_callback([d = DestroyCounter(&destroyed)](Future<int>&) {});
        auto drop_soon = [](Holder<int>& holder) -> Coro<void> {
          co_await yield_once();
          holder.f = Future<int>();  // on the loop, while `owner` is pinned on it
        };
        Task<void> dropping = EventLoop::current().create_task(drop_soon(holder));
        co_await await_member(holder);
      };
      Task<void> t = loop.create_task(owner(destroyed));
      co_await yield_once();
      co_await yield_once();
    };
    loop.run_until_complete(setup(loop, destroyed));
    EXPECT_EQ(destroyed, 0);
    loop.close();
    EXPECT_EQ(destroyed, 1);
  }
}

TEST_F(AwaiterPinTest, MoreAwaitersThanThePinCountTakeReferences) {
  EventLoop loop;
  Holder<Tracked> holder{loop.create_future<Tracked>()};
  auto main = [](EventLoop& loop, Holder<Tracked>& holder) -> Coro<long> {
    std::vector<Task<Tracked>> waiters;
    for (int i = 0; i < 300; ++i) waiters.push_back(loop.create_task(await_member(holder)));
    co_await yield_once();
    EXPECT_EQ(holder.f.base()->pinned_awaiters(), 127);
    holder.f.set_result(Tracked(1));
    holder.f = Future<Tracked>();
    long sum = 0;
    for (Task<Tracked>& w : waiters) sum += (co_await w).value;
    co_return sum;
  };
  EXPECT_EQ(loop.run_until_complete(main(loop, holder)), 300);
}

// The loop drops one handle and another thread the other while the waiter is woken and
// resumes: whichever is last, on whichever side of the unpin, the future is freed once.
// Bounded; meant for TSan and ASan.
TEST_F(AwaiterPinTest, HandlesDroppedOnBothSidesOfAPinnedAwaitStress) {
  EventLoop loop;
  auto main = [](EventLoop& loop) -> Coro<long> {
    long sum = 0;
    for (int i = 0; i < 2000; ++i) {
      Holder<Tracked> holder{loop.create_future<Tracked>()};
      Task<Tracked> waiter = loop.create_task(await_member(holder));
      co_await yield_once();
      std::atomic<bool> go{false};
      Future<Tracked> other = holder.f;
      std::thread dropper([&go, other = std::move(other)]() mutable {
        while (!go.load(std::memory_order_acquire)) {
        }
        other = Future<Tracked>();
      });
      holder.f.set_result(Tracked(1));
      go.store(true, std::memory_order_release);
      holder.f = Future<Tracked>();
      sum += (co_await waiter).value;
      dropper.join();
      co_await yield_once();  // a release sent to the loop runs
    }
    co_return sum;
  };
  EXPECT_EQ(loop.run_until_complete(main(loop)), 2000);
}

// The other thread holds the only handle and drops it while the loop cancels the pinned
// waiter, which cancels the future, whose done-callback takes a reference without holding
// one: the other thread's "I am the last" may be stale, and it must read the count again
// once it reads no pin (release_last). Bounded; meant for TSan and ASan.
TEST_F(AwaiterPinTest, ALastHandleDroppedWhileThePinnedWaiterIsCancelledStress) {
  EventLoop loop;
  auto main = [](EventLoop& loop) -> Coro<int> {
    int callbacks_run = 0;
    for (int i = 0; i < 2000; ++i) {
      Holder<int> holder{loop.create_future<int>()};
      holder.f.add_done_callback([&callbacks_run](Future<int>&) { ++callbacks_run; });
      Task<int> waiter = loop.create_task(await_member(holder));
      co_await yield_once();
      std::atomic<bool> go{false};
      std::thread dropper([&go, last = std::move(holder.f)]() mutable {
        while (!go.load(std::memory_order_acquire)) {
        }
        last = Future<int>();
      });
      go.store(true, std::memory_order_release);
      waiter.cancel();
      try {
        co_await waiter;
      } catch (const CancelledError&) {
      }
      dropper.join();
      co_await yield_once();  // the callback and any release sent to the loop run
    }
    co_return callbacks_run;
  };
  EXPECT_EQ(loop.run_until_complete(main(loop)), 2000);
}

}  // namespace
}  // namespace weft
