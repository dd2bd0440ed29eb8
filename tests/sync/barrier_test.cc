#include "sync/barrier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "sync/errors.h"
#include "tests/sync/sync_test_util.h"

namespace weft {
namespace {

using sync_test::kScale;
using sync_test::run_on;
using sync_test::yield_once;

TEST(BarrierTest, ZeroPartiesRaises) { EXPECT_THROW(Barrier(0), ValueError); }

TEST(BarrierTest, OnePartyNeverWaits) {
  Barrier b(1);
  run([](Barrier& b) -> Coro<void> {
    EXPECT_EQ(co_await b.wait(), 0u);
    EXPECT_EQ(co_await b.wait(), 0u);
  }(b));
}

Coro<size_t> arrive(Barrier& b) { co_return co_await b.wait(); }

TEST(BarrierTest, ReleasesWhenFullWithArrivalIndices) {
  Barrier b(3);
  run([](Barrier& b) -> Coro<void> {
    EXPECT_EQ(b.parties(), 3u);
    Task<size_t> t0 = create_task(arrive(b));
    Task<size_t> t1 = create_task(arrive(b));
    co_await yield_once();
    co_await yield_once();
    EXPECT_EQ(b.n_waiting(), 2u);
    EXPECT_FALSE(t0.done());
    size_t last = co_await b.wait();
    EXPECT_EQ(last, 2u);
    EXPECT_EQ(co_await t0, 0u);
    EXPECT_EQ(co_await t1, 1u);
    EXPECT_EQ(b.n_waiting(), 0u);
    EXPECT_FALSE(b.broken());
  }(b));
}

Coro<std::vector<size_t>> rounds(Barrier& b, int n) {
  std::vector<size_t> indices;
  for (int i = 0; i < n; ++i) indices.push_back(co_await b.wait());
  co_return indices;
}

TEST(BarrierTest, ReusableForManyRounds) {
  Barrier b(3);
  run([](Barrier& b) -> Coro<void> {
    std::vector<Task<std::vector<size_t>>> tasks;
    for (int i = 0; i < 3; ++i) tasks.push_back(create_task(rounds(b, 10)));
    std::vector<std::vector<size_t>> got;
    for (auto& t : tasks) got.push_back(co_await t);
    for (int r = 0; r < 10; ++r) {
      std::vector<size_t> round = {got[0][r], got[1][r], got[2][r]};
      std::sort(round.begin(), round.end());
      EXPECT_EQ(round, (std::vector<size_t>{0, 1, 2})) << "round " << r;
    }
  }(b));
}

Coro<bool> arrive_expect_broken(Barrier& b) {
  try {
    co_await b.wait();
  } catch (const BrokenBarrierError&) {
    co_return true;
  }
  co_return false;
}

TEST(BarrierTest, AbortBreaksWaitersAndLaterArrivals) {
  Barrier b(3);
  run([](Barrier& b) -> Coro<void> {
    Task<bool> t = create_task(arrive_expect_broken(b));
    co_await yield_once();
    co_await b.abort();
    EXPECT_TRUE(b.broken());
    EXPECT_TRUE(co_await t);
    EXPECT_TRUE(co_await arrive_expect_broken(b));
    co_await b.reset();
    EXPECT_FALSE(b.broken());
    Barrier* bp = &b;
    Task<size_t> again = create_task(arrive(*bp));
    co_await yield_once();
    Task<size_t> again2 = create_task(arrive(*bp));
    size_t mine = co_await b.wait();  // the third arrival: releases the round
    size_t a1 = co_await again;
    size_t a2 = co_await again2;
    EXPECT_EQ(mine + a1 + a2, 0u + 1u + 2u);
  }(b));
}

TEST(BarrierTest, ResetBreaksTheCurrentRound) {
  Barrier b(3);
  run([](Barrier& b) -> Coro<void> {
    Task<bool> t0 = create_task(arrive_expect_broken(b));
    Task<bool> t1 = create_task(arrive_expect_broken(b));
    co_await yield_once();
    co_await yield_once();
    EXPECT_EQ(b.n_waiting(), 2u);
    co_await b.reset();
    EXPECT_TRUE(co_await t0);
    EXPECT_TRUE(co_await t1);
    EXPECT_FALSE(b.broken());
    EXPECT_EQ(b.n_waiting(), 0u);
  }(b));
}

TEST(BarrierTest, CancelledWaiterLeavesTheRound) {
  Barrier b(2);
  run([](Barrier& b) -> Coro<void> {
    Task<size_t> t = create_task(arrive(b));
    co_await yield_once();
    co_await yield_once();
    EXPECT_EQ(b.n_waiting(), 1u);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_EQ(b.n_waiting(), 0u);
    // The round is empty again: two new arrivals fill it.
    Task<size_t> u = create_task(arrive(b));
    co_await yield_once();
    size_t mine = co_await b.wait();
    EXPECT_EQ(mine + co_await u, 1u);
  }(b));
}

Coro<void> abort_barrier(Barrier& b) { co_await b.abort(); }

TEST(BarrierTest, AbortFromAnotherLoopBreaksWaitersOnEveryLoop) {
  Runtime rt({.threads = 2});
  Barrier b(3);
  auto w0 = run_coroutine_threadsafe(arrive_expect_broken(b), rt.loop(0));
  auto w1 = run_coroutine_threadsafe(arrive_expect_broken(b), rt.loop(1));
  sync_test::settle(rt.loop(0));
  sync_test::settle(rt.loop(1));
  sync_test::spin_until([&] { return b.n_waiting() == 2; });
  run_on(rt.loop(1), abort_barrier(b));
  EXPECT_TRUE(w0.get());
  EXPECT_TRUE(w1.get());
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
}

// Tasks on both loops go through many rounds together; in each round every index appears
// exactly once.
Coro<void> run_rounds(Barrier& b, int n, std::vector<std::atomic<int>>& hits) {
  for (int i = 0; i < n; ++i) {
    size_t index = co_await b.wait();
    hits[i * b.parties() + index].fetch_add(1);
  }
}

TEST(BarrierTest, RoundsAcrossLoops) {
  const int kParties = 4, kRounds = 500 / kScale;
  Runtime rt({.threads = 2});
  Barrier b(kParties);
  std::vector<std::atomic<int>> hits(kParties * kRounds);
  std::vector<ConcurrentFuture<void>> fs;
  for (int p = 0; p < kParties; ++p) {
    fs.push_back(run_coroutine_threadsafe(run_rounds(b, kRounds, hits), rt.loop(p % 2)));
  }
  for (auto& f : fs) f.get();
  for (int i = 0; i < kParties * kRounds; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
}

}  // namespace
}  // namespace weft
