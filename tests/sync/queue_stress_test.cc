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
#include <cstdio>
#include <cstdint>
#include <memory>
#include <vector>

#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "sync/queue.h"
#include "tests/sync/queue_test_util.h"

namespace weft {
namespace {

using sync_test::create_task_on;

Coro<void> produce(Queue<long>& q, long first, long step, long end) {
  for (long i = first; i < end; i += step) co_await q.put(i);
}

// Marks each number it gets; counts duplicates. Stops at QueueShutDown.
Coro<long> consume(Queue<long>& q, std::vector<std::atomic<uint8_t>>& seen,
                   std::atomic<long>& duplicates) {
  long got = 0;
  for (;;) {
    long i;
    try {
      i = co_await q.get();
    } catch (const QueueShutDown&) {
      co_return got;
    }
    if (seen[i].fetch_add(1, std::memory_order_relaxed) != 0) {
      duplicates.fetch_add(1, std::memory_order_relaxed);
    }
    ++got;
    q.task_done();
  }
}

TEST(QueueStressTest, EveryItemArrivesExactlyOnce) {
  const long items = sync_test::env_or(
      "WEFT_QUEUE_STRESS_ITEMS", 1'000'000 / sync_test::kSanitizerSlowdown);
  constexpr int kLoops = 3, kProducers = 4, kConsumers = 3;
  Runtime rt({.threads = kLoops});
  std::vector<std::atomic<uint8_t>> seen(items);
  std::atomic<long> duplicates{0};
  auto main = [&]() -> Coro<long> {
    Queue<long> q(64);
    std::vector<Task<long>> consumers;
    for (int c = 0; c < kConsumers; ++c) {
      consumers.push_back(
          co_await create_task_on(rt.loop((c + 1) % kLoops), consume(q, seen, duplicates)));
    }
    std::vector<Task<void>> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.push_back(
          co_await create_task_on(rt.loop(p % kLoops), produce(q, p, kProducers, items)));
    }
    for (auto& p : producers) co_await p;
    co_await q.join();  // every item got and task_done
    q.shutdown();       // the consumers' next get raises QueueShutDown
    long total = 0;
    for (auto& c : consumers) total += co_await c;
    co_return total;
  };
  EXPECT_EQ(rt.block_on(main()), items);
  EXPECT_EQ(duplicates.load(), 0);
  long missing = 0;
  for (long i = 0; i < items; ++i) missing += seen[i].load() == 0;
  EXPECT_EQ(missing, 0);
}

// The same with move-only items through the other two orders (ASan checks that no item is
// leaked or freed twice on the way).
template <class Q>
Coro<void> produce_boxed(Q& q, long first, long step, long end) {
  for (long i = first; i < end; i += step) co_await q.put(std::make_unique<long>(i));
}

template <class Q>
Coro<long> consume_boxed(Q& q, std::vector<std::atomic<uint8_t>>& seen,
                         std::atomic<long>& duplicates) {
  long got = 0;
  for (;;) {
    std::unique_ptr<long> box;
    try {
      box = co_await q.get();
    } catch (const QueueShutDown&) {
      co_return got;
    }
    if (seen[*box].fetch_add(1, std::memory_order_relaxed) != 0) {
      duplicates.fetch_add(1, std::memory_order_relaxed);
    }
    ++got;
    q.task_done();
  }
}

struct BoxLess {
  bool operator()(const std::unique_ptr<long>& a, const std::unique_ptr<long>& b) const {
    return *a < *b;
  }
};

template <class Q>
void move_boxes_across_loops(long items) {
  constexpr int kLoops = 2, kProducers = 2, kConsumers = 2;
  Runtime rt({.threads = kLoops});
  std::vector<std::atomic<uint8_t>> seen(items);
  std::atomic<long> duplicates{0};
  auto main = [&]() -> Coro<long> {
    Q q(16);
    std::vector<Task<long>> consumers;
    for (int c = 0; c < kConsumers; ++c) {
      consumers.push_back(
          co_await create_task_on(rt.loop(c % kLoops), consume_boxed(q, seen, duplicates)));
    }
    std::vector<Task<void>> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.push_back(co_await create_task_on(rt.loop((p + 1) % kLoops),
                                                  produce_boxed(q, p, kProducers, items)));
    }
    for (auto& p : producers) co_await p;
    co_await q.join();
    q.shutdown();
    long total = 0;
    for (auto& c : consumers) total += co_await c;
    co_return total;
  };
  EXPECT_EQ(rt.block_on(main()), items);
  EXPECT_EQ(duplicates.load(), 0);
  long missing = 0;
  for (long i = 0; i < items; ++i) missing += seen[i].load() == 0;
  EXPECT_EQ(missing, 0);
}

TEST(QueueStressTest, MoveOnlyItemsThroughLifoAndPriorityQueues) {
  const long items = 100'000 / sync_test::kSanitizerSlowdown;
  move_boxes_across_loops<LifoQueue<std::unique_ptr<long>>>(items);
  move_boxes_across_loops<PriorityQueue<std::unique_ptr<long>, BoxLess>>(items);
}

// Puts every number, but three times out of four under a time limit of 1-128 us: a put that
// times out raised CancelledError inside, so it did not put (the queue's guarantee), and the
// same number is put again. Were a cancelled put ever to have put, a number would arrive twice.
Coro<long> produce_with_timeouts(Queue<long>& q, long first, long step, long end) {
  long timeouts = 0;
  uint32_t rng = static_cast<uint32_t>(first) * 2654435761u + 1;
  for (long i = first; i < end;) {
    rng = rng * 1664525u + 1013904223u;
    try {
      if ((rng >> 8) % 4 == 0) {
        co_await q.put(i);
      } else {
        co_await wait_for(q.put(i), std::chrono::microseconds(1 + (rng >> 16) % 128));
      }
      i += step;
    } catch (const TimeoutError&) {
      ++timeouts;
    }
  }
  co_return timeouts;
}

// Gets under the same kind of time limit: a get cancelled after it was handed an item gives it
// back to the front; were it ever lost, a number would never arrive (the join would hang:
// the test's timeout says so); were it kept and given back, it would arrive twice.
Coro<long> consume_with_timeouts(Queue<long>& q, std::vector<std::atomic<uint8_t>>& seen,
                                 std::atomic<long>& duplicates, std::atomic<long>& timeouts,
                                 uint32_t seed) {
  long got = 0;
  uint32_t rng = seed * 2654435761u + 7;
  for (;;) {
    rng = rng * 1664525u + 1013904223u;
    long i;
    try {
      if ((rng >> 8) % 4 == 0) {
        i = co_await q.get();
      } else {
        i = co_await wait_for(q.get(), std::chrono::microseconds(1 + (rng >> 16) % 128));
      }
    } catch (const TimeoutError&) {
      timeouts.fetch_add(1, std::memory_order_relaxed);
      continue;
    } catch (const QueueShutDown&) {
      co_return got;
    }
    if (seen[i].fetch_add(1, std::memory_order_relaxed) != 0) {
      duplicates.fetch_add(1, std::memory_order_relaxed);
    }
    ++got;
    q.task_done();
  }
}

TEST(QueueStressTest, EveryItemArrivesExactlyOnceDespiteTimeouts) {
  const long items = sync_test::env_or("WEFT_QUEUE_TIMEOUT_STRESS_ITEMS",
                                       100'000 / sync_test::kSanitizerSlowdown);
  constexpr int kLoops = 3, kProducers = 3, kConsumers = 3;
  Runtime rt({.threads = kLoops});
  std::vector<std::atomic<uint8_t>> seen(items);
  std::atomic<long> duplicates{0}, get_timeouts{0};
  long put_timeouts = 0;
  auto main = [&]() -> Coro<long> {
    Queue<long> q(8);
    std::vector<Task<long>> consumers;
    for (int c = 0; c < kConsumers; ++c) {
      consumers.push_back(co_await create_task_on(
          rt.loop(c % kLoops), consume_with_timeouts(q, seen, duplicates, get_timeouts, c)));
    }
    std::vector<Task<long>> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.push_back(co_await create_task_on(
          rt.loop((p + 1) % kLoops), produce_with_timeouts(q, p, kProducers, items)));
    }
    for (auto& p : producers) put_timeouts += co_await p;
    co_await q.join();
    q.shutdown();
    long total = 0;
    for (auto& c : consumers) total += co_await c;
    co_return total;
  };
  EXPECT_EQ(rt.block_on(main()), items);
  EXPECT_EQ(duplicates.load(), 0);
  long missing = 0;
  for (long i = 0; i < items; ++i) missing += seen[i].load() == 0;
  EXPECT_EQ(missing, 0);
  // The limits must actually have cut waits short, or the test proved nothing.
  EXPECT_GT(put_timeouts + get_timeouts.load(), 0);
  std::printf("timeouts: %ld puts, %ld gets\n", put_timeouts, get_timeouts.load());
}

}  // namespace
}  // namespace weft
