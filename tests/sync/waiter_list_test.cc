// The WaiterList protocol (sync/internal/waiter_list.h), driven through a minimal primitive:
// an unbounded channel of ints whose get() waits. It exercises what every primitive relies
// on: FIFO grants, cancellation while waiting, the grant-then-cancel race handing the grant
// back, a frame destroyed while waiting, and grants across loops.
#include "sync/internal/waiter_list.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <optional>
#include <vector>

#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "tests/sync/sync_test_util.h"

namespace weft {
namespace {

using internal::TaskBase;
using internal::WaitGuard;
using internal::Waiter;
using internal::Wakeups;
using testing::Notification;

using sync_test::ended_cancelled;
using sync_test::kScale;
using sync_test::run_on;
using sync_test::yield_once;

class IntChannel {
 public:
  class GetAwaiter : public Waiter {
   public:
    explicit GetAwaiter(IntChannel& c) : channel_(&c) {}
    GetAwaiter(GetAwaiter&& other) noexcept : Waiter(std::move(other)), channel_(other.channel_) {}
    ~GetAwaiter() {
      if (withdraw()) channel_->put_front(value_);  // granted, never claimed: hand it back
    }
    bool await_ready() const noexcept { return false; }
    bool await_suspend(TaskBase& task) {
      WaitGuard guard(channel_->lock_);
      if (!channel_->items_.empty()) {
        value_ = channel_->items_.front();
        channel_->items_.pop_front();
        return false;
      }
      enqueue(channel_->getters_, task);
      return true;
    }
    int await_resume() {
      claim();
      return value_;
    }

   private:
    friend class IntChannel;
    IntChannel* channel_;
    int value_ = 0;
  };

  GetAwaiter get() { return GetAwaiter(*this); }
  void put(int v) { put_at(v, /*front=*/false); }
  void put_front(int v) { put_at(v, /*front=*/true); }
  std::optional<int> get_nowait() {
    WaitGuard guard(lock_);
    if (items_.empty()) return std::nullopt;
    int v = items_.front();
    items_.pop_front();
    return v;
  }
  size_t waiting() {
    WaitGuard guard(lock_);
    return getters_.size();
  }
  size_t size() {
    WaitGuard guard(lock_);
    return items_.size();
  }

 private:
  void put_at(int v, bool front) {
    Wakeups wakeups;  // declared before the guard: wakes after the lock is released
    WaitGuard guard(lock_);
    if (Waiter* w = getters_.grant_front()) {
      static_cast<GetAwaiter*>(w)->value_ = v;
      wakeups.add(*w);
    } else if (front) {
      items_.push_front(v);
    } else {
      items_.push_back(v);
    }
  }

  internal::WaitLock lock_;
  internal::WaiterList getters_{lock_};
  std::deque<int> items_;
};

Coro<int> get_one(IntChannel& ch) { co_return co_await ch.get(); }


Coro<void> get_into(IntChannel& ch, std::vector<int>& out) { out.push_back(co_await ch.get()); }

TEST(WaiterListTest, GrantsInFifoOrder) {
  IntChannel ch;
  std::vector<int> got;
  run([](IntChannel& ch, std::vector<int>& got) -> Coro<void> {
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 5; ++i) tasks.push_back(create_task(get_into(ch, got)));
    co_await sleep(std::chrono::seconds(0));  // all five are suspended, in creation order
    EXPECT_EQ(ch.waiting(), 5u);
    for (int i = 0; i < 5; ++i) ch.put(i);
    for (auto& t : tasks) co_await t;
  }(ch, got));
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(ch.size(), 0u);
}

TEST(WaiterListTest, ReadyItemDoesNotSuspend) {
  IntChannel ch;
  ch.put(9);
  EXPECT_EQ(run(get_one(ch)), 9);
}

TEST(WaiterListTest, CancelWhileWaitingLeavesTheList) {
  IntChannel ch;
  run([](IntChannel& ch) -> Coro<void> {
    Task<int> a = create_task(get_one(ch));
    Task<int> b = create_task(get_one(ch));
    co_await sleep(std::chrono::seconds(0));
    EXPECT_EQ(ch.waiting(), 2u);
    a.cancel("stop a");
    EXPECT_EQ(ch.waiting(), 1u);  // unlinked at once by cancel_wait
    ch.put(1);                    // goes to b, the next in line
    EXPECT_EQ(co_await b, 1);
    try {
      co_await a;
      ADD_FAILURE() << "a was not cancelled";
    } catch (const CancelledError& e) {
      EXPECT_EQ(e.message(), "stop a");
    }
  }(ch));
  EXPECT_EQ(ch.size(), 0u);
}

TEST(WaiterListTest, UncancelBeforeResumptionStillRaises) {
  // The wait was cancelled: even if the cancellation request is withdrawn before the task
  // resumes, the waiter got nothing and must not return as if it had.
  IntChannel ch;
  run([](IntChannel& ch) -> Coro<void> {
    Task<int> a = create_task(get_one(ch));
    co_await sleep(std::chrono::seconds(0));
    a.cancel();
    a.uncancel();
    bool raised = false;
    try {
      co_await a;
    } catch (const CancelledError&) {
      raised = true;
    }
    EXPECT_TRUE(raised);
  }(ch));
}

TEST(WaiterListTest, GrantedThenCancelledHandsTheGrantBack) {
  IntChannel ch;
  run([](IntChannel& ch) -> Coro<void> {
    Task<int> a = create_task(get_one(ch));
    Task<int> b = create_task(get_one(ch));
    co_await sleep(std::chrono::seconds(0));
    ch.put(7);    // granted to a, which is now scheduled but has not run
    a.cancel();   // a resumes with CancelledError: its awaiter hands 7 back to the front
    bool raised = false;
    try {
      co_await a;
    } catch (const CancelledError&) {
      raised = true;
    }
    EXPECT_TRUE(raised);
    EXPECT_EQ(co_await b, 7);  // the handed-back item went to the next waiter
  }(ch));
  EXPECT_EQ(ch.size(), 0u);
}

TEST(WaiterListTest, FrameDestroyedWhileWaitingUnlinks) {
  IntChannel ch;
  {
    EventLoop loop;
    loop.set_exception_handler([](EventLoop&, const ExceptionContext&) {});
    Task<int> t = loop.create_task(get_one(ch));
    loop.run_until_complete(yield_once());
    EXPECT_EQ(ch.waiting(), 1u);
    loop.close();  // abandons t: its frame (and the awaiter in it) is destroyed
    EXPECT_EQ(ch.waiting(), 0u);
  }
  ch.put(3);  // nobody waits any more: the item is kept
  EXPECT_EQ(ch.get_nowait(), 3);
}

struct CrossLoop {
  IntChannel ch;
  Task<int> waiter;
};

Coro<void> start_waiter(CrossLoop& c) {
  c.waiter = create_task(get_one(c.ch));
  co_return;
}

Coro<int> waiter_result(CrossLoop& c) { co_return co_await c.waiter; }

void wait_until_waiting(IntChannel& ch, size_t n) {
  sync_test::spin_until([&] { return ch.waiting() == n; });
}

TEST(WaiterListTest, GrantFromAnotherThreadWakesTheWaiter) {
  Runtime rt({.threads = 2});
  CrossLoop c;
  run_on(rt.loop(1), start_waiter(c));
  wait_until_waiting(c.ch, 1);
  c.ch.put(5);  // from this plain thread
  EXPECT_EQ(run_on(rt.loop(1), waiter_result(c)), 5);
}

TEST(WaiterListTest, GrantedThenCancelledAcrossThreads) {
  // The waiter's loop is held inside a callback while another thread grants; the callback
  // then cancels the waiter on its own loop, before the wake is processed: cancel_wait must
  // decline, and the awaiter must hand the item back.
  Runtime rt({.threads = 2});
  CrossLoop c;
  run_on(rt.loop(1), start_waiter(c));
  wait_until_waiting(c.ch, 1);
  {
    sync_test::LoopHold hold(rt.loop(1), [&] { c.waiter.cancel(); });
    c.ch.put(11);
    EXPECT_EQ(c.ch.waiting(), 0u);
  }
  EXPECT_TRUE(run_on(rt.loop(1), ended_cancelled(c.waiter)));
  EXPECT_EQ(c.ch.get_nowait(), 11);
}

TEST(WaiterListTest, CancelledThenGrantedAcrossThreads) {
  Runtime rt({.threads = 2});
  CrossLoop c;
  run_on(rt.loop(1), start_waiter(c));
  wait_until_waiting(c.ch, 1);
  Notification cancelled;
  rt.loop(1).call_soon_threadsafe([&] {
    c.waiter.cancel();
    cancelled.notify();
  });
  cancelled.wait();
  EXPECT_EQ(c.ch.waiting(), 0u);
  c.ch.put(12);  // nobody waits: kept
  EXPECT_TRUE(run_on(rt.loop(1), ended_cancelled(c.waiter)));
  EXPECT_EQ(c.ch.get_nowait(), 12);
}

// Consumers on loop 1 take numbered items put from loop 0 while some of them are cancelled
// at random moments: every number ends up either delivered once or back in the channel.
Coro<void> consume(IntChannel& ch, std::vector<int>& got, int n) {
  for (int i = 0; i < n; ++i) got.push_back(co_await ch.get());
}

struct Stress {
  IntChannel ch;
  std::vector<std::vector<int>> got;
  std::vector<Task<void>> consumers;
};

Coro<void> start_consumers(Stress& s, int consumers, int each) {
  s.got.resize(consumers);
  for (int i = 0; i < consumers; ++i) s.consumers.push_back(create_task(consume(s.ch, s.got[i], each)));
  co_return;
}

Coro<void> produce(IntChannel& ch, int n) {
  for (int i = 0; i < n; ++i) {
    ch.put(i);
    if (i % 64 == 0) co_await sleep(std::chrono::seconds(0));
  }
}

Coro<void> cancel_some(Stress& s) {
  for (size_t i = 0; i < s.consumers.size(); i += 3) {
    co_await sleep(std::chrono::seconds(0));
    s.consumers[i].cancel();
  }
}

Coro<void> finish_consumers(Stress& s) {
  for (auto& t : s.consumers) {
    try {
      co_await t;
    } catch (const CancelledError&) {
    }
  }
}

TEST(WaiterListTest, CrossLoopStressEveryItemExactlyOnce) {
  const int kItems = 20000 / kScale;
  const int kConsumers = 8;
  Runtime rt({.threads = 2});
  Stress s;
  run_on(rt.loop(1), start_consumers(s, kConsumers, kItems / kConsumers));
  auto cancels = run_coroutine_threadsafe(cancel_some(s), rt.loop(1));
  run_on(rt.loop(0), produce(s.ch, kItems));
  cancels.get();
  // Cancelled consumers stop early; the rest of the items stay in the channel.
  run_on(rt.loop(1), finish_consumers(s));
  std::vector<int> seen(kItems, 0);
  for (auto& g : s.got) {
    for (int v : g) ++seen[v];
  }
  while (auto v = s.ch.get_nowait()) ++seen[*v];
  for (int i = 0; i < kItems; ++i) ASSERT_EQ(seen[i], 1) << "item " << i;
  EXPECT_EQ(s.ch.waiting(), 0u);
}

}  // namespace
}  // namespace weft
