// N producers and M consumers on different loops of a Runtime move numbered items through a
// bounded queue; every number must arrive exactly once.
//
// EveryItemArrivesExactlyOnce: a Queue, 1,000,000 items (opt, fastbuild), 100,000 under the
// sanitizers; WEFT_QUEUE_STRESS_ITEMS overrides the count. The other suites move 100,000
// items (10,000 under the sanitizers): with puts and gets cut short by time limits, and
// move-only items through a LifoQueue and a PriorityQueue.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "sync/queue.h"
#include "tests/sync/queue_test_util.h"

namespace weft {
namespace {

using sync_test::create_task_on;

// Which numbers of [0, items) arrived, and how many arrived more than once. Any thread.
class Ledger {
 public:
  explicit Ledger(long items) : seen_(items) {}
  long items() const { return static_cast<long>(seen_.size()); }
  void record(long i) {
    if (seen_[i].fetch_add(1, std::memory_order_relaxed) != 0) {
      duplicates_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  void expect_each_exactly_once() const {
    EXPECT_EQ(duplicates_.load(), 0);
    long missing = 0;
    for (const auto& s : seen_) missing += s.load() == 0;
    EXPECT_EQ(missing, 0);
  }

 private:
  std::vector<std::atomic<uint8_t>> seen_;
  std::atomic<long> duplicates_{0};
};

// Starts consumer c on loop c % loops and producer p on loop (p + 1) % loops; once every
// producer is done, waits for every item to be task_done (join), shuts the queue down (the
// consumers' next get raises QueueShutDown) and returns {items the consumers got, the sum of
// what the producers returned}.
template <class Q, class MakeConsumer, class MakeProducer>
Coro<std::pair<long, long>> run_pipeline(Runtime& rt, Q& q, int num_consumers,
                                         MakeConsumer make_consumer, int num_producers,
                                         MakeProducer make_producer) {
  const size_t loops = rt.num_loops();
  std::vector<Task<long>> consumers;
  for (int c = 0; c < num_consumers; ++c) {
    consumers.push_back(co_await create_task_on(rt.loop(c % loops), make_consumer(c)));
  }
  std::vector<Task<long>> producers;
  for (int p = 0; p < num_producers; ++p) {
    producers.push_back(co_await create_task_on(rt.loop((p + 1) % loops), make_producer(p)));
  }
  long produced = 0;
  for (auto& p : producers) produced += co_await p;
  co_await q.join();
  q.shutdown();
  long got = 0;
  for (auto& c : consumers) got += co_await c;
  co_return std::pair<long, long>(got, produced);
}

// Puts first, first + step, ... below end; returns 0 (nothing to report).
template <class Q, class MakeItem>
Coro<long> produce(Q& q, long first, long step, long end, MakeItem make_item) {
  for (long i = first; i < end; i += step) co_await q.put(make_item(i));
  co_return 0;
}

// Records every number it gets (`number_of` reads it from an item) until QueueShutDown.
template <class Q, class NumberOf>
Coro<long> consume(Q& q, Ledger& ledger, NumberOf number_of) {
  long got = 0;
  for (;;) {
    typename Q::value_type item;
    try {
      item = co_await q.get();
    } catch (const QueueShutDown&) {
      co_return got;
    }
    ledger.record(number_of(item));
    ++got;
    q.task_done();
  }
}

TEST(QueueStressTest, EveryItemArrivesExactlyOnce) {
  Ledger ledger(sync_test::env_or("WEFT_QUEUE_STRESS_ITEMS",
                                  1'000'000 / sync_test::kSanitizerSlowdown));
  Runtime rt({.threads = 3});
  auto main = [&]() -> Coro<long> {
    Queue<long> q(64);
    auto number = [](long i) { return i; };
    auto [got, produced] = co_await run_pipeline(
        rt, q, 3, [&](int) { return consume(q, ledger, number); }, 4,
        [&](int p) { return produce(q, p, 4, ledger.items(), number); });
    co_return got;
  };
  EXPECT_EQ(rt.block_on(main()), ledger.items());
  ledger.expect_each_exactly_once();
}

// Move-only items through the other two orders (ASan checks that no item is leaked or freed
// twice on the way).
struct BoxLess {
  bool operator()(const std::unique_ptr<long>& a, const std::unique_ptr<long>& b) const {
    return *a < *b;
  }
};

template <class Q>
void move_boxes_across_loops(long items) {
  Ledger ledger(items);
  Runtime rt({.threads = 2});
  auto main = [&]() -> Coro<long> {
    Q q(16);
    auto box = [](long i) { return std::make_unique<long>(i); };
    auto unbox = [](const std::unique_ptr<long>& b) { return *b; };
    auto [got, produced] = co_await run_pipeline(
        rt, q, 2, [&](int) { return consume(q, ledger, unbox); }, 2,
        [&](int p) { return produce(q, p, 2, ledger.items(), box); });
    co_return got;
  };
  EXPECT_EQ(rt.block_on(main()), items);
  ledger.expect_each_exactly_once();
}

TEST(QueueStressTest, MoveOnlyItemsThroughLifoAndPriorityQueues) {
  const long items = 100'000 / sync_test::kSanitizerSlowdown;
  move_boxes_across_loops<LifoQueue<std::unique_ptr<long>>>(items);
  move_boxes_across_loops<PriorityQueue<std::unique_ptr<long>, BoxLess>>(items);
}

// A time limit of 1-128 us, three times out of four (0: none), from a small random generator.
class Limits {
 public:
  explicit Limits(uint32_t seed) : state_(seed * 2654435761u + 1) {}
  std::chrono::microseconds next() {
    state_ = state_ * 1664525u + 1013904223u;
    if ((state_ >> 8) % 4 == 0) return std::chrono::microseconds(0);
    return std::chrono::microseconds(1 + (state_ >> 16) % 128);
  }

 private:
  uint32_t state_;
};

// Puts every number, mostly under a time limit: a put that timed out raised CancelledError
// inside, so it did not put (the queue's guarantee), and the same number is put again. Were a
// cancelled put ever to have put, a number would arrive twice. Returns how many timed out.
Coro<long> produce_with_timeouts(Queue<long>& q, long first, long step, long end) {
  long timeouts = 0;
  Limits limits(static_cast<uint32_t>(first));
  for (long i = first; i < end;) {
    const auto limit = limits.next();
    try {
      if (limit.count() == 0) {
        co_await q.put(i);
      } else {
        co_await wait_for(q.put(i), limit);
      }
      i += step;
    } catch (const TimeoutError&) {
      ++timeouts;
    }
  }
  co_return timeouts;
}

// Gets mostly under a time limit: a get cancelled after it was handed an item gives it back
// to the front; were it ever lost, a number would never arrive (the join would hang: the
// test's timeout says so); were it kept and given back, it would arrive twice.
Coro<long> consume_with_timeouts(Queue<long>& q, Ledger& ledger, std::atomic<long>& timeouts,
                                 uint32_t seed) {
  long got = 0;
  Limits limits(seed + 100);
  for (;;) {
    const auto limit = limits.next();
    long i;
    try {
      i = limit.count() == 0 ? co_await q.get() : co_await wait_for(q.get(), limit);
    } catch (const TimeoutError&) {
      timeouts.fetch_add(1, std::memory_order_relaxed);
      continue;
    } catch (const QueueShutDown&) {
      co_return got;
    }
    ledger.record(i);
    ++got;
    q.task_done();
  }
}

TEST(QueueStressTest, EveryItemArrivesExactlyOnceDespiteTimeouts) {
  Ledger ledger(sync_test::env_or("WEFT_QUEUE_TIMEOUT_STRESS_ITEMS",
                                  100'000 / sync_test::kSanitizerSlowdown));
  Runtime rt({.threads = 3});
  std::atomic<long> get_timeouts{0};
  long put_timeouts = 0;
  auto main = [&]() -> Coro<long> {
    Queue<long> q(8);
    auto [got, produced] = co_await run_pipeline(
        rt, q, 3, [&](int c) { return consume_with_timeouts(q, ledger, get_timeouts, c); }, 3,
        [&](int p) { return produce_with_timeouts(q, p, 3, ledger.items()); });
    put_timeouts = produced;
    co_return got;
  };
  EXPECT_EQ(rt.block_on(main()), ledger.items());
  ledger.expect_each_exactly_once();
  // The limits must actually have cut waits short, or the test proved nothing.
  EXPECT_GT(put_timeouts + get_timeouts.load(), 0);
  std::printf("timeouts: %ld puts, %ld gets\n", put_timeouts, get_timeouts.load());
}

}  // namespace
}  // namespace weft
