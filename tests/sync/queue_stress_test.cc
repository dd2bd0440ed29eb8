// N producers and M consumers on different loops of a Runtime move numbered items through a
// bounded Queue; every number must arrive exactly once.
//
// 1,000,000 items (opt, fastbuild); 100,000 under the sanitizers. WEFT_QUEUE_STRESS_ITEMS
// overrides the count.
#include <gtest/gtest.h>

#include <atomic>
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

}  // namespace
}  // namespace weft
