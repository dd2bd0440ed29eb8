// Queue throughput (sync/queue.h): one producer and one consumer moving int64 items.
//
//   bazel run --config=opt //bench:queue_bench
//
// - BM_QueueSameLoop/<maxsize>: producer and consumer tasks on one loop (target > 20M items/s).
// - BM_QueueCrossLoop/maxsize:<n>/spin_us:<us>: producer on loop 0, consumer on loop 1 of a
//   2-thread Runtime (target > 5M items/s); spin_us is the Runtime's spin_before_park (50 is
//   its default; 0 parks at once, which wins when the machine is oversubscribed). It also
//   reports remote wakes and parks per item.
// - BM_TbbBoundedQueue/<capacity>: the same transfer between two plain threads blocking in
//   oneTBB's concurrent_bounded_queue (push / pop): the reference to beat.
// Each iteration moves kItems items; items_per_second is the figure to read. SameLoop counts
// per CPU second (one thread does all the work; on a loaded machine its wall time is longer),
// the others per wall-clock second.
#include <chrono>
#include <cstdint>
#include <thread>

#include "benchmark/benchmark.h"
#include "loop/weft.h"
#include "scheduler/run_coroutine_threadsafe.h"
#include "scheduler/runtime.h"
#include "scheduler/wrap_future.h"
#include "sync/queue.h"
#include "tbb/concurrent_queue.h"

namespace {

constexpr int64_t kItems = 1'000'000;

weft::Coro<void> Produce(weft::Queue<int64_t>& q, int64_t n) {
  for (int64_t i = 0; i < n; ++i) co_await q.put(i);
}

weft::Coro<int64_t> Consume(weft::Queue<int64_t>& q, int64_t n) {
  int64_t sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += co_await q.get();
  co_return sum;
}

weft::Coro<int64_t> SameLoop(int64_t maxsize, int64_t n) {
  weft::Queue<int64_t> q(static_cast<size_t>(maxsize));
  weft::Task<int64_t> consumer = weft::create_task(Consume(q, n));
  co_await Produce(q, n);
  co_return co_await consumer;
}

void BM_QueueSameLoop(benchmark::State& state) {
  weft::EventLoop loop;
  for (auto _ : state) {
    int64_t sum = loop.run_until_complete(SameLoop(state.range(0), kItems));
    benchmark::DoNotOptimize(sum);
  }
  loop.close();
  state.SetItemsProcessed(state.iterations() * kItems);
}
BENCHMARK(BM_QueueSameLoop)->Arg(64)->Arg(1024)->Arg(0)->Unit(benchmark::kMillisecond);

weft::Coro<int64_t> CrossLoop(weft::Runtime& rt, int64_t maxsize, int64_t n) {
  weft::Queue<int64_t> q(static_cast<size_t>(maxsize));
  // The consumer runs on loop 1; this task (the producer) on loop 0.
  weft::ConcurrentFuture<int64_t> consumer = weft::run_coroutine_threadsafe(Consume(q, n), rt.loop(1));
  co_await Produce(q, n);
  co_return co_await consumer;
}

// range(1): the Runtime's spin_before_park in microseconds (its default is 50).
void BM_QueueCrossLoop(benchmark::State& state) {
  weft::Runtime rt({.threads = 2, .spin_before_park = std::chrono::microseconds(state.range(1))});
  for (auto _ : state) {
    int64_t sum = rt.block_on(CrossLoop(rt, state.range(0), kItems));
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * kItems);
  // How often a loop was woken from the other thread, and how often it went to sleep in
  // epoll, per item moved: the cost of a transfer is mostly these.
  uint64_t remote_wakes = 0, parks = 0;
  for (const auto& s : rt.stats()) {
    remote_wakes += s.remote_wakes;
    parks += s.parks;
  }
  const double items = static_cast<double>(state.iterations() * kItems);
  state.counters["remote_wakes_per_item"] = static_cast<double>(remote_wakes) / items;
  state.counters["parks_per_item"] = static_cast<double>(parks) / items;
}
BENCHMARK(BM_QueueCrossLoop)
    ->ArgNames({"maxsize", "spin_us"})
    ->Args({64, 50})
    ->Args({1024, 50})
    ->Args({0, 50})
    ->Args({64, 0})
    ->Args({1024, 0})
    ->Args({0, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_TbbBoundedQueue(benchmark::State& state) {
  tbb::concurrent_bounded_queue<int64_t> q;
  q.set_capacity(state.range(0));
  for (auto _ : state) {
    int64_t sum = 0;
    std::thread consumer([&] {
      for (int64_t i = 0; i < kItems; ++i) {
        int64_t v = 0;
        q.pop(v);
        sum += v;
      }
    });
    for (int64_t i = 0; i < kItems; ++i) q.push(i);
    consumer.join();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * kItems);
}
BENCHMARK(BM_TbbBoundedQueue)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
