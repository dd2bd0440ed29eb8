// Micro-benchmarks of the loop's foundations: call_soon, create_task, inline co_await,
// sleep(0), call_later + cancel, call_soon_threadsafe.
//
//   bazel run --config=opt //bench:loop_bench --
//       --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Every benchmark drives weft through its public API (EventLoop, run_until_complete, create_task,
// sleep, call_soon, ...). The `time_per_op` counter is the time of one operation as named in the
// benchmark (one callback, one task, one await, one yield, one call_later+cancel, one posted
// callback); for those that batch N operations per benchmark iteration it is the iteration time
// divided by N. Targets (DESIGN: "a Tokio or folly user should find nothing slow"):
//   call_soon + run < 15 ns, create_task + await < 60 ns, inline co_await < 5 ns,
//   sleep(0) < 30 ns per yield, call_later + cancel < 100 ns.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "loop/weft.h"

using namespace std::chrono_literals;

namespace {

// A counter whose value is the time of one of `ops` operations (time / ops, in seconds; the
// console shows it with a unit, e.g. "12.3ns").
benchmark::Counter TimePerOp(double ops) {
  return benchmark::Counter(ops, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// With WEFT_BENCH_ITERATIONS=n in the environment every benchmark runs exactly n iterations,
// once: for instruction counts under callgrind (bench/callgrind_per_op.sh), where the cost of
// one operation is the difference between two runs divided by the difference in iterations.
void FixedIterationsFromEnv(benchmark::internal::Benchmark* b) {
  if (const char* n = std::getenv("WEFT_BENCH_ITERATIONS")) b->Iterations(std::atoll(n));
}

// Runs `body(state)` as the main task of a fresh loop.
template <class F>
void RunOnLoop(benchmark::State& state, F body) {
  weft::EventLoop loop;
  loop.run_until_complete(body(state));
  loop.close();
}

weft::Coro<int> Trivial() { co_return 1; }

weft::Coro<void> TrivialVoid() { co_return; }

// 1. call_soon + run: schedule N callbacks, then run the loop until all of them ran.
void BM_CallSoon(benchmark::State& state) {
  const int64_t n = state.range(0);
  weft::EventLoop loop;
  int64_t ran = 0;
  for (auto _ : state) {
    for (int64_t i = 0; i < n; ++i) loop.call_soon([&ran] { ++ran; });
    loop.call_soon([&loop] { loop.stop(); });
    loop.run_forever();
  }
  if (ran != n * static_cast<int64_t>(state.iterations())) state.SkipWithError("lost callbacks");
  loop.close();
  state.SetItemsProcessed(ran);
  state.counters["time_per_op"] = TimePerOp(static_cast<double>(ran));
}
BENCHMARK(BM_CallSoon)->Apply(FixedIterationsFromEnv)->Arg(1000);

// 2. create_task + await of a trivial coroutine, from a running task.
weft::Coro<void> CreateTaskAwait(benchmark::State& state) {
  for (auto _ : state) {
    int v = co_await weft::create_task(Trivial());
    benchmark::DoNotOptimize(v);
  }
}
void BM_CreateTaskAwait(benchmark::State& state) {
  RunOnLoop(state, CreateTaskAwait);
  state.SetItemsProcessed(state.iterations());
  state.counters["time_per_op"] = TimePerOp(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_CreateTaskAwait)->Apply(FixedIterationsFromEnv);

// 3. Inline co_await of a trivial Coro (frame allocation, symmetric transfer in and out,
// frame destruction).
weft::Coro<void> InlineAwait(benchmark::State& state) {
  for (auto _ : state) {
    int v = co_await Trivial();
    benchmark::DoNotOptimize(v);
  }
}
void BM_InlineAwait(benchmark::State& state) {
  RunOnLoop(state, InlineAwait);
  state.counters["time_per_op"] = TimePerOp(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_InlineAwait)->Apply(FixedIterationsFromEnv);

weft::Coro<void> InlineAwaitVoid(benchmark::State& state) {
  for (auto _ : state) co_await TrivialVoid();
}
void BM_InlineAwaitVoid(benchmark::State& state) {
  RunOnLoop(state, InlineAwaitVoid);
  state.counters["time_per_op"] = TimePerOp(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_InlineAwaitVoid)->Apply(FixedIterationsFromEnv);

// 4. One sleep(0) round: the only task yields once per iteration (one trip through the ready
// queue and one loop step).
weft::Coro<void> Sleep0(benchmark::State& state) {
  for (auto _ : state) co_await weft::sleep(0s);
}
void BM_Sleep0(benchmark::State& state) {
  RunOnLoop(state, Sleep0);
  state.SetItemsProcessed(state.iterations());
  state.counters["time_per_op"] = TimePerOp(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_Sleep0)->Apply(FixedIterationsFromEnv);

// 4b. sleep(0) with many tasks (the shape of W2 yield_many): `range(0)` workers yield in a
// loop beside the driver; one iteration is one round in which every task yields once.
weft::Coro<void> Yielder(const bool& stop, int64_t& yields) {
  while (!stop) {
    co_await weft::sleep(0s);
    ++yields;
  }
}
void BM_Sleep0ManyTasks(benchmark::State& state) {
  const int64_t workers = state.range(0);
  int64_t yields = 0;
  RunOnLoop(state, [&](benchmark::State& st) -> weft::Coro<void> {
    bool stop = false;
    std::vector<weft::Task<void>> tasks;
    for (int64_t i = 0; i < workers; ++i) tasks.push_back(weft::create_task(Yielder(stop, yields)));
    co_await weft::sleep(0s);  // every worker is now in its loop
    for (auto _ : st) co_await weft::sleep(0s);
    stop = true;
    for (auto& t : tasks) co_await t;
  });
  const double ops = static_cast<double>(state.iterations()) * static_cast<double>(workers + 1);
  state.SetItemsProcessed(static_cast<int64_t>(ops));
  state.counters["time_per_op"] = TimePerOp(ops);
}
BENCHMARK(BM_Sleep0ManyTasks)->Apply(FixedIterationsFromEnv)->Arg(200);

// 5. call_later + cancel, from a task on the loop. `range(0)` other timers are pending (an
// hour out), so the heap is not trivially empty.
void BM_CallLaterCancel(benchmark::State& state) {
  const int64_t others = state.range(0);
  int64_t fired = 0;
  RunOnLoop(state, [&](benchmark::State& st) -> weft::Coro<void> {
    weft::EventLoop& loop = weft::EventLoop::current();
    std::vector<weft::TimerHandle> background;
    for (int64_t i = 0; i < others; ++i) {
      background.push_back(loop.call_later(1h + i * 1ms, [&fired] { ++fired; }));
    }
    for (auto _ : st) {
      weft::TimerHandle h = loop.call_later(10s, [&fired] { ++fired; });
      h.cancel();
    }
    for (auto& h : background) h.cancel();
    co_return;
  });
  if (fired != 0) state.SkipWithError("a cancelled timer fired");
  state.SetItemsProcessed(state.iterations());
  state.counters["time_per_op"] = TimePerOp(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_CallLaterCancel)->Apply(FixedIterationsFromEnv)->Arg(0)->Arg(10000);

// 6. call_soon_threadsafe from this thread to a loop running on another one: one iteration
// posts N callbacks and waits until the loop has run them all (end-to-end throughput; the loop
// drains while the producer posts, and parks when it has nothing to do).
void BM_CallSoonThreadsafe(benchmark::State& state) {
  const int64_t n = state.range(0);
  weft::EventLoop loop;
  std::atomic<int64_t> ran{0};
  int64_t ran_on_loop = 0;  // loop thread only
  std::thread loop_thread([&] { loop.run_forever(); });
  int64_t target = 0;
  for (auto _ : state) {
    for (int64_t i = 0; i < n; ++i) {
      loop.call_soon_threadsafe([&] { ran.store(++ran_on_loop, std::memory_order_release); });
    }
    target += n;
    while (ran.load(std::memory_order_acquire) < target) std::this_thread::yield();
  }
  loop.call_soon_threadsafe([&loop] { loop.stop(); });
  loop_thread.join();
  loop.close();
  if (ran.load() != target) state.SkipWithError("lost callbacks");
  state.SetItemsProcessed(target);
  state.counters["time_per_op"] = TimePerOp(static_cast<double>(target));
}
BENCHMARK(BM_CallSoonThreadsafe)->Apply(FixedIterationsFromEnv)->Arg(1000)->UseRealTime();

}  // namespace


