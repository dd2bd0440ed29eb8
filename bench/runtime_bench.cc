// Micro-benchmarks of the Runtime's spawn path, for instruction counts under callgrind (the
// machine's load does not change them) as well as time.
//
//   bazel run --config=opt //bench:runtime_bench
//   bazel build --config=opt //bench:runtime_bench &&
//     BIN=bazel-bin/bench/runtime_bench bench/callgrind_per_op.sh   (see CASES there)
//
// One loop (threads = 1) and no spinning before parking, so that callgrind sees only the
// spawn path: a spawned task pushed to the loop's StealableQueue, started, run, completed and
// freed. W1 of the workloads is the same operation on two loops.
#include <cstdint>
#include <cstdlib>

#include "benchmark/benchmark.h"
#include "loop/weft.h"
#include "scheduler/runtime.h"

namespace {

benchmark::Counter TimePerOp(double ops) {
  return benchmark::Counter(ops, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void FixedIterationsFromEnv(benchmark::internal::Benchmark* b) {
  if (const char* n = std::getenv("WEFT_BENCH_ITERATIONS")) b->Iterations(std::atoll(n));
}

weft::Coro<void> Bump(int64_t& counter) {
  ++counter;
  co_return;
}

// Spawns `n` trivial tasks and lets them all run (one loop: they run when this task yields).
weft::Coro<void> SpawnMany(int64_t n, int64_t& counter) {
  for (int64_t i = 0; i < n; ++i) weft::spawn(Bump(counter));
  while (counter < n) co_await weft::sleep(std::chrono::seconds(0));
}

// 1. spawn + run of a trivial task whose handle is dropped (W1's operation, one loop).
void BM_SpawnDetached(benchmark::State& state) {
  const int64_t n = state.range(0);
  weft::Runtime rt({.threads = 1, .spin_before_park = weft::Duration::zero()});
  for (auto _ : state) {
    int64_t counter = 0;
    rt.block_on(SpawnMany(n, counter));
  }
  state.counters["time_per_op"] = TimePerOp(static_cast<double>(n));
}
BENCHMARK(BM_SpawnDetached)->Arg(1000)->UseRealTime()->Apply(FixedIterationsFromEnv);

weft::Coro<int> Answer() { co_return 1; }

weft::Coro<int64_t> SpawnAndAwait(int64_t n) {
  int64_t sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += co_await weft::spawn(Answer());
  co_return sum;
}

// 2. spawn + await (W4's operation without the chain, one loop).
void BM_SpawnAwait(benchmark::State& state) {
  const int64_t n = state.range(0);
  weft::Runtime rt({.threads = 1, .spin_before_park = weft::Duration::zero()});
  for (auto _ : state) benchmark::DoNotOptimize(rt.block_on(SpawnAndAwait(n)));
  state.counters["time_per_op"] = TimePerOp(static_cast<double>(n));
}
BENCHMARK(BM_SpawnAwait)->Arg(1000)->UseRealTime()->Apply(FixedIterationsFromEnv);

}  // namespace
