// Tests for EventLoop::call_soon_threadsafe: the one loop method any thread may call.
//
// The properties that matter: every callback runs exactly once, on the loop thread, in each
// producer's order, and a loop parked in epoll with nothing else to do (no timers, no
// descriptors) is always woken (no lost wake-ups). The tests never sleep: a lost wake-up
// shows up as a hang (the test times out), a lost or doubled callback as a failed count.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loop/weft.h"

namespace weft {
namespace {

using ::testing::HasSubstr;

TEST(CallSoonThreadsafe, WakesALoopParkedWithNothingToDo) {
  // The loop has no timers and no descriptors: it parks with an infinite timeout. Whether
  // the other thread posts before or after the loop parks, run_forever must return. Many
  // rounds to hit both orders.
  for (int round = 0; round < 200; ++round) {
    EventLoop loop;
    std::thread::id ran_on;
    std::thread producer([&] {
      loop.call_soon_threadsafe([&] {
        ran_on = std::this_thread::get_id();
        loop.stop();
      });
    });
    loop.run_forever();
    producer.join();
    ASSERT_EQ(ran_on, std::this_thread::get_id());
  }
}

TEST(CallSoonThreadsafe, FromTheLoopThreadItselfWorks) {
  EventLoop loop;
  std::vector<int> log;
  loop.call_soon([&] {
    log.push_back(1);
    loop.call_soon_threadsafe([&] {
      log.push_back(2);
      loop.stop();
    });
  });
  loop.run_forever();
  EXPECT_EQ(log, (std::vector<int>{1, 2}));
}

TEST(CallSoonThreadsafe, BeforeTheLoopRunsIsKeptUntilItRuns) {
  EventLoop loop;
  bool ran = false;
  std::thread producer([&] {
    loop.call_soon_threadsafe([&] {
      ran = true;
      loop.stop();
    });
  });
  producer.join();
  EXPECT_FALSE(ran);
  loop.run_forever();
  EXPECT_TRUE(ran);
}

TEST(CallSoonThreadsafe, ReturnsACancellableHandle) {
  EventLoop loop;
  std::atomic<bool> cancelled_ran{false};
  bool other_ran = false;
  std::thread producer([&] {
    Handle h = loop.call_soon_threadsafe([&] { cancelled_ran = true; });
    h.cancel();  // from the producer thread, before the loop runs it
    loop.call_soon_threadsafe([&] {
      other_ran = true;
      loop.stop();
    });
  });
  producer.join();
  loop.run_forever();
  EXPECT_FALSE(cancelled_ran.load());
  EXPECT_TRUE(other_ran);
}

TEST(CallSoonThreadsafe, KeepsEachProducersOrder) {
  EventLoop loop;
  constexpr int kThreads = 3;
  constexpr int kPerThread = 2000;
  std::vector<int> last_seen(kThreads, -1);
  int out_of_order = 0;
  int total = 0;
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        loop.call_soon_threadsafe([&, t, i] {
          if (i != last_seen[t] + 1) ++out_of_order;
          last_seen[t] = i;
          if (++total == kThreads * kPerThread) loop.stop();
        });
      }
    });
  }
  loop.run_forever();
  for (auto& p : producers) p.join();
  EXPECT_EQ(out_of_order, 0);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(last_seen[t], kPerThread - 1);
}

TEST(CallSoonThreadsafe, StressEveryCallbackRunsExactlyOnce) {
  // 4 threads x 25,000 calls. Each callback flips its own flag; the loop has nothing else
  // to do, so it parks whenever it drains the inbox faster than the producers fill it, and
  // must be woken every time.
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25000;
  constexpr int kTotal = kThreads * kPerThread;
  EventLoop loop;
  std::vector<uint8_t> ran(kTotal, 0);  // loop thread only
  int count = 0;
  int doubles = 0;
  std::thread::id loop_thread = std::this_thread::get_id();
  int wrong_thread = 0;
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int item = t * kPerThread + i;
        loop.call_soon_threadsafe([&, item] {
          if (std::this_thread::get_id() != loop_thread) ++wrong_thread;
          if (ran[item]++ != 0) ++doubles;
          if (++count == kTotal) loop.stop();
        });
      }
    });
  }
  loop.run_forever();
  for (auto& p : producers) p.join();
  EXPECT_EQ(count, kTotal);
  EXPECT_EQ(doubles, 0);
  EXPECT_EQ(wrong_thread, 0);
  int missing = 0;
  for (uint8_t r : ran) missing += r == 0;
  EXPECT_EQ(missing, 0);
}

TEST(CallSoonThreadsafe, StressPingPongParksAndWakesEveryRound) {
  // The producer waits until the loop has run each callback before it posts the next one,
  // so the loop parks (infinite timeout) between almost every round: each post must wake it.
  constexpr int kRounds = 2000;
  EventLoop loop;
  std::mutex mu;
  std::condition_variable cv;
  int acked = 0;  // guarded by mu
  std::thread producer([&] {
    for (int i = 1; i <= kRounds; ++i) {
      loop.call_soon_threadsafe([&, i] {
        {
          std::lock_guard<std::mutex> lock(mu);
          acked = i;
        }
        cv.notify_one();
        if (i == kRounds) loop.stop();
      });
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return acked == i; });
    }
  });
  loop.run_forever();
  producer.join();
  EXPECT_EQ(acked, kRounds);
}

TEST(CallSoonThreadsafe, WakesALoopParkedUntilADistantTimer) {
  // Parked with a long timeout (a one-hour timer): the post must cut the wait short.
  EventLoop loop;
  bool timer_ran = false;
  TimerHandle far = loop.call_later(std::chrono::hours(1), [&] { timer_ran = true; });
  std::thread producer([&] { loop.call_soon_threadsafe([&] { loop.stop(); }); });
  loop.run_forever();
  producer.join();
  EXPECT_FALSE(timer_ran);
  far.cancel();
}

TEST(CallSoonThreadsafe, NotStarvedByATaskThatKeepsTheLoopBusy) {
  // The loop never parks (a task yields with sleep(0) until the callback has run): the
  // inbox must still be drained without any eventfd wake-up.
  EventLoop loop;
  bool ran = false;
  std::thread producer;
  int yields = loop.run_until_complete([](EventLoop& l, bool& r, std::thread& p) -> Coro<int> {
    p = std::thread([&l, &r] { l.call_soon_threadsafe([&r] { r = true; }); });
    int n = 0;
    while (!r && n < 10000000) {
      ++n;
      co_await sleep(std::chrono::seconds(0));
    }
    co_return n;
  }(loop, ran, producer));
  producer.join();
  EXPECT_TRUE(ran);
  EXPECT_LT(yields, 10000000);
}

TEST(CallSoonThreadsafe, OnAClosedLoopRaises) {
  EventLoop loop;
  loop.close();
  std::string error;
  std::thread producer([&] {
    try {
      loop.call_soon_threadsafe([] {});
    } catch (const RuntimeError& e) {
      error = e.what();
    }
  });
  producer.join();
  EXPECT_THAT(error, HasSubstr("Event loop is closed"));
}

TEST(CallSoonThreadsafe, ExceptionInCallbackGoesToTheHandler) {
  EventLoop loop;
  std::vector<std::string> messages;
  loop.set_exception_handler(
      [&](EventLoop&, const ExceptionContext& ctx) { messages.push_back(ctx.message); });
  std::thread producer([&] {
    loop.call_soon_threadsafe([] { throw std::runtime_error("from afar"); });
    loop.call_soon_threadsafe([&] { loop.stop(); });
  });
  loop.run_forever();
  producer.join();
  EXPECT_EQ(messages, std::vector<std::string>{"Exception in callback"});
}

}  // namespace
}  // namespace weft
