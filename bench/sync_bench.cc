// Benchmarks for sync/: the uncontended Lock (target: acquire + release under 10 ns) and
// the contended Lock across the loops of a Runtime (reported, no target).
//
//   bazel run --config=opt //bench:sync_bench
//
// Single-loop benchmarks run their whole measurement loop inside one weft::run, so loop
// creation is not measured. Cross-loop ones measure a fixed batch per iteration, including
// the block_on round trip that starts and joins it (small next to the batch).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "loop/weft.h"
#include "scheduler/run_coroutine_threadsafe.h"
#include "scheduler/runtime.h"
#include "sync/sync.h"

namespace weft {
namespace {

// WEFT_BENCH_ITERATIONS=n runs the single-loop benchmarks for exactly n iterations, for
// instruction counts under callgrind (as bench/callgrind_per_op.sh does for loop_bench).
void FixedIterationsFromEnv(benchmark::internal::Benchmark* b) {
  if (const char* n = std::getenv("WEFT_BENCH_ITERATIONS")) b->Iterations(std::atoll(n));
}

// The hardware floor of a FIFO lock whose release must see a waiter that queued meanwhile:
// two uncontended compare-and-swaps on one word, nothing else.
void BM_TwoCasBaseline(benchmark::State& state) {
  std::atomic<uint32_t> word{0};
  for (auto _ : state) {
    uint32_t expected = 0;
    bool ok = word.compare_exchange_strong(expected, 1, std::memory_order_acquire);
    benchmark::DoNotOptimize(ok);
    expected = 1;
    word.compare_exchange_strong(expected, 0, std::memory_order_release);
  }
}
BENCHMARK(BM_TwoCasBaseline)->Apply(FixedIterationsFromEnv);

// try_acquire + release from plain code (two uncontended CAS).
void BM_LockTryAcquireRelease(benchmark::State& state) {
  Lock lock;
  for (auto _ : state) {
    bool ok = lock.try_acquire();
    benchmark::DoNotOptimize(ok);
    lock.release();
  }
}
BENCHMARK(BM_LockTryAcquireRelease)->Apply(FixedIterationsFromEnv);

// `co_await lock.acquire(); lock.release();` in a task, uncontended.
void BM_LockAcquireRelease(benchmark::State& state) {
  Lock lock;
  run([](benchmark::State& state, Lock& lock) -> Coro<void> {
    for (auto _ : state) {
      co_await lock.acquire();
      lock.release();
    }
  }(state, lock));
}
BENCHMARK(BM_LockAcquireRelease)->Apply(FixedIterationsFromEnv);

// `LockGuard g = co_await lock.scoped();`, uncontended.
void BM_LockScoped(benchmark::State& state) {
  Lock lock;
  run([](benchmark::State& state, Lock& lock) -> Coro<void> {
    for (auto _ : state) {
      LockGuard guard = co_await lock.scoped();
      benchmark::DoNotOptimize(guard);
    }
  }(state, lock));
}
BENCHMARK(BM_LockScoped)->Apply(FixedIterationsFromEnv);

void BM_SemaphoreAcquireRelease(benchmark::State& state) {
  Semaphore sem(4);
  run([](benchmark::State& state, Semaphore& sem) -> Coro<void> {
    for (auto _ : state) {
      co_await sem.acquire();
      sem.release();
    }
  }(state, sem));
}
BENCHMARK(BM_SemaphoreAcquireRelease)->Apply(FixedIterationsFromEnv);

// --- Contended, across the two loops of a Runtime. ---

// Tight critical sections from a task on each loop: some acquisitions find the lock free,
// others wait and are handed it from the other thread.
Coro<void> hammer(Lock& lock, long& counter, int n) {
  for (int i = 0; i < n; ++i) {
    co_await lock.acquire();
    ++counter;
    lock.release();
  }
}

// Each task holds the lock across a yield, so every release finds the other loop's task
// waiting: each acquisition is a handover from the other thread (wake through the inbox).
Coro<void> alternate(Lock& lock, long& counter, int n) {
  for (int i = 0; i < n; ++i) {
    co_await lock.acquire();
    ++counter;
    co_await sleep(std::chrono::seconds(0));
    lock.release();
  }
}

template <Coro<void> (*Body)(Lock&, long&, int)>
void cross_loop(benchmark::State& state) {
  constexpr int kPerTask = 2000;
  Runtime rt({.threads = 2});
  Lock lock;
  long counter = 0;
  for (auto _ : state) {
    auto a = run_coroutine_threadsafe(Body(lock, counter, kPerTask), rt.loop(0));
    auto b = run_coroutine_threadsafe(Body(lock, counter, kPerTask), rt.loop(1));
    a.get();
    b.get();
  }
  if (counter != state.iterations() * 2 * kPerTask) state.SkipWithError("lost increments");
  state.SetItemsProcessed(state.iterations() * 2 * kPerTask);
}

void BM_LockContendedTwoLoops(benchmark::State& state) { cross_loop<hammer>(state); }
BENCHMARK(BM_LockContendedTwoLoops)->UseRealTime();

void BM_LockHandoverTwoLoops(benchmark::State& state) { cross_loop<alternate>(state); }
BENCHMARK(BM_LockHandoverTwoLoops)->UseRealTime();

}  // namespace
}  // namespace weft
