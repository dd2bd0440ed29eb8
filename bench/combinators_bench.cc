// Benchmarks for the combinators (loop/gather.h, wait_for.h, task_group.h,
// async_generator.h). Each benchmark runs its whole measurement loop inside one
// weft::run, so loop creation is not measured.
//
//   bazel run --config=opt //bench:combinators_bench
#include <benchmark/benchmark.h>

#include <chrono>
#include <vector>

#include "loop/weft.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

Coro<int> trivial(int v) { co_return v; }

// Baseline: create 1,000 tasks and await each in turn.
void BM_CreateAndAwait1000Tasks(benchmark::State& state) {
  run([&]() -> Coro<void> {
    for (auto _ : state) {
      std::vector<Task<int>> tasks;
      tasks.reserve(1000);
      for (int i = 0; i < 1000; ++i) tasks.push_back(create_task(trivial(i)));
      long sum = 0;
      for (Task<int>& t : tasks) sum += co_await t;
      benchmark::DoNotOptimize(sum);
    }
  }());
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_CreateAndAwait1000Tasks);

void BM_Gather1000TrivialTasks(benchmark::State& state) {
  run([&]() -> Coro<void> {
    for (auto _ : state) {
      std::vector<Coro<int>> coros;
      coros.reserve(1000);
      for (int i = 0; i < 1000; ++i) coros.push_back(trivial(i));
      std::vector<int> results = co_await gather(std::move(coros));
      benchmark::DoNotOptimize(results.data());
    }
  }());
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_Gather1000TrivialTasks);

void BM_Gather1000ReturnExceptions(benchmark::State& state) {
  run([&]() -> Coro<void> {
    for (auto _ : state) {
      std::vector<Coro<int>> coros;
      coros.reserve(1000);
      for (int i = 0; i < 1000; ++i) coros.push_back(trivial(i));
      std::vector<Outcome<int>> results = co_await gather(return_exceptions, std::move(coros));
      benchmark::DoNotOptimize(results.data());
    }
  }());
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_Gather1000ReturnExceptions);

// Baseline: a task that finishes at once, awaited directly.
void BM_AwaitTaskThatFinishesAtOnce(benchmark::State& state) {
  run([&]() -> Coro<void> {
    for (auto _ : state) {
      Task<int> t = create_task(trivial(1));
      benchmark::DoNotOptimize(co_await t);
    }
  }());
}
BENCHMARK(BM_AwaitTaskThatFinishesAtOnce);

void BM_WaitForTaskThatFinishesAtOnce(benchmark::State& state) {
  run([&]() -> Coro<void> {
    for (auto _ : state) {
      Task<int> t = create_task(trivial(1));
      benchmark::DoNotOptimize(co_await wait_for(t, 1s));
    }
  }());
}
BENCHMARK(BM_WaitForTaskThatFinishesAtOnce);

void BM_WaitForCoroThatFinishesAtOnce(benchmark::State& state) {
  run([&]() -> Coro<void> {
    for (auto _ : state) benchmark::DoNotOptimize(co_await wait_for(trivial(1), 1s));
  }());
}
BENCHMARK(BM_WaitForCoroThatFinishesAtOnce);

void BM_TimeoutScopeAroundAnInlineAwait(benchmark::State& state) {
  run([&]() -> Coro<void> {
    for (auto _ : state) benchmark::DoNotOptimize(co_await timeout(1s, trivial(1)));
  }());
}
BENCHMARK(BM_TimeoutScopeAroundAnInlineAwait);

void BM_TaskGroup1000Children(benchmark::State& state) {
  run([&]() -> Coro<void> {
    for (auto _ : state) {
      co_await task_group([](TaskGroup& tg) -> Coro<void> {
        for (int i = 0; i < 1000; ++i) tg.create_task(trivial(i));
        co_return;
      });
    }
  }());
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_TaskGroup1000Children);

AsyncGenerator<int> ints(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}

void BM_AsyncGeneratorMillionInts(benchmark::State& state) {
  constexpr int kItems = 1000000;
  run([&]() -> Coro<void> {
    for (auto _ : state) {
      auto gen = ints(kItems);
      long sum = 0;
      while (std::optional<int> v = co_await gen.next()) sum += *v;
      benchmark::DoNotOptimize(sum);
    }
  }());
  state.SetItemsProcessed(state.iterations() * kItems);
  state.counters["ns_per_item"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kItems,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_AsyncGeneratorMillionInts)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace weft
