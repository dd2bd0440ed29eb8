// How a Coro's await_transform adapts awaitables (coro.h): cancellation is delivered only at
// a real suspension, foreign awaitables get a waker, and an awaiter passed as a temporary or
// with std::move is used in place (not copied into the frame).
#include <gtest/gtest.h>

#include <chrono>
#include <coroutine>
#include <memory>
#include <thread>

#include "loop/weft.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

// A foreign awaitable (await_suspend(coroutine_handle<>)) whose behaviour is chosen per test.
struct ForeignAwaitable {
  enum class Mode { kReady, kDecline, kSuspend };
  Mode mode;
  std::coroutine_handle<>* out = nullptr;    // kSuspend: where to leave the handle
  const void** seen_at = nullptr;            // records the object await_suspend ran on
  bool await_ready() const noexcept { return mode == Mode::kReady; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (seen_at) *seen_at = this;
    if (mode == Mode::kDecline) return false;
    *out = h;
    return true;
  }
  int await_resume() const noexcept { return 7; }
};

Coro<void> SelfCancelThenAwait(std::shared_ptr<Task<void>> self, int& reached) {
  // Cancel ourselves while running: delivery waits for the next real suspension.
  self->cancel("now");
  co_await sleep(-1s);  // a zero or negative sleep is a real suspension (a yield)
  reached = -1;          // not reached: CancelledError above
}

TEST(AwaitAdapter, CancelWhileRunningIsDeliveredAtTheNextSuspension) {
  EventLoop loop;
  int reached = 0;
  auto self = std::make_shared<Task<void>>();
  *self = loop.create_task(SelfCancelThenAwait(self, reached));
  EXPECT_THROW(loop.run_until_complete(*self), CancelledError);
  EXPECT_TRUE(self->cancelled());
  EXPECT_EQ(reached, 0);
  self.reset();
  loop.close();
}

Coro<void> AwaitWithoutSuspending(std::shared_ptr<Task<void>> self, Future<int> done,
                                  int& reached) {
  self->cancel("later");
  // Neither of these suspends, so neither delivers the pending cancellation.
  reached += co_await done;
  reached += co_await ForeignAwaitable{ForeignAwaitable::Mode::kReady};
  reached += co_await ForeignAwaitable{ForeignAwaitable::Mode::kDecline};
  co_await sleep(0s);  // suspends: CancelledError here
  reached = -1;
}

TEST(AwaitAdapter, AwaitsThatDoNotSuspendDoNotDeliverCancellation) {
  EventLoop loop;
  int reached = 0;
  Future<int> done = loop.create_future<int>();
  done.set_result(1);
  auto self = std::make_shared<Task<void>>();
  *self = loop.create_task(AwaitWithoutSuspending(self, done, reached));
  EXPECT_THROW(loop.run_until_complete(*self), CancelledError);
  EXPECT_EQ(reached, 1 + 7 + 7);
  self.reset();
  loop.close();
}

Coro<int> AwaitForeign(std::coroutine_handle<>* out) {
  co_return co_await ForeignAwaitable{ForeignAwaitable::Mode::kSuspend, out};
}

TEST(AwaitAdapter, ForeignAwaitableResumedFromAnotherThread) {
  EventLoop loop;
  std::coroutine_handle<> waker;
  Task<int> t = loop.create_task(AwaitForeign(&waker));
  // Let the task suspend, then resume its waker from another thread.
  loop.call_soon([&] {
    ASSERT_TRUE(waker);
    std::thread([waker] { waker.resume(); }).join();
  });
  EXPECT_EQ(loop.run_until_complete(t), 7);
  loop.close();
}

TEST(AwaitAdapter, CancelWhileSuspendedOnAForeignAwaitable) {
  EventLoop loop;
  std::coroutine_handle<> waker;
  Task<int> t = loop.create_task(AwaitForeign(&waker));
  loop.call_soon([&] {
    ASSERT_TRUE(waker);
    t.cancel("stop");  // a foreign awaitable cannot be interrupted: delivered on resumption
    waker.resume();
  });
  EXPECT_THROW(loop.run_until_complete(t), CancelledError);
  loop.close();
}

Coro<void> AwaitNamed(const void** seen_at, const void** named_at) {
  ForeignAwaitable named{ForeignAwaitable::Mode::kDecline, nullptr, seen_at};
  *named_at = &named;
  co_await std::move(named);
}

TEST(AwaitAdapter, AnXvalueAwaiterIsUsedInPlace) {
  const void* seen_at = nullptr;
  const void* named_at = nullptr;
  run(AwaitNamed(&seen_at, &named_at));
  EXPECT_NE(seen_at, nullptr);
  EXPECT_EQ(seen_at, named_at);
}

}  // namespace
}  // namespace weft
