// Checks that @system//:benchmark links and runs (kept tiny; real benchmarks
// live in //bench).
#include <cstdint>

#include "benchmark/benchmark.h"

namespace {

void BM_Sum(benchmark::State& state) {
  for (auto _ : state) {
    std::int64_t sum = 0;
    for (std::int64_t i = 0; i < state.range(0); ++i) {
      benchmark::DoNotOptimize(sum += i);
    }
  }
}
BENCHMARK(BM_Sum)->Arg(64);

}  // namespace

BENCHMARK_MAIN();
