#include "bench/workloads_pool.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "loop/weft.h"
#include "scheduler/blocking_pool.h"
#include "scheduler/to_thread.h"

namespace {

using Clock = std::chrono::steady_clock;

long count_of(double base, double scale) {
  long n = static_cast<long>(base * scale);
  return n < 1 ? 1 : n;
}

// A wrong answer would make the number meaningless: stop loudly.
void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "workload check failed: %s\n", what);
    std::abort();
  }
}

weft::BlockingPool::Stats g_last_stats;

// At the end of the measurement, on the loop: the run joins the pool's threads as it ends.
void record_pool_stats() { g_last_stats = weft::current_blocking_pool().stats(); }

// With WEFT_BENCH_STATS set: how many threads the pool grew to.
void print_pool_stats() {
  if (std::getenv("WEFT_BENCH_STATS") == nullptr) return;
  std::fprintf(stderr, "blocking pool: threads=%zu tasks_run=%lu\n", g_last_stats.threads,
               (unsigned long)g_last_stats.tasks_run);
}

}  // namespace

size_t weft_last_pool_threads() { return g_last_stats.threads; }

double weft_w7_blocking_pool(double scale) {
  const long n = count_of(100000, scale);
  auto main = [n]() -> weft::Coro<double> {
    std::vector<weft::ExecutorCall<long>> calls;
    calls.reserve(n);
    Clock::time_point start = Clock::now();
    for (long i = 0; i < n; ++i) calls.push_back(weft::to_thread([i] { return i + 1; }));
    long sum = 0;
    for (auto& call : calls) sum += co_await call;
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    check(sum == n * (n + 1) / 2, "W7 sum of results");
    record_pool_stats();
    co_return static_cast<double>(n) / seconds;
  };
  double result = weft::run(main());
  print_pool_stats();
  return result;
}

double weft_w7s_blocking_sleep(double scale) {
  const long n = count_of(2000, scale);
  auto main = [n]() -> weft::Coro<double> {
    std::vector<weft::ExecutorCall<long>> calls;
    calls.reserve(n);
    Clock::time_point start = Clock::now();
    for (long i = 0; i < n; ++i) {
      calls.push_back(weft::to_thread([i] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return i;
      }));
    }
    long sum = 0;
    for (auto& call : calls) sum += co_await call;
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    check(sum == n * (n - 1) / 2, "W7s sum of results");
    record_pool_stats();
    co_return seconds;
  };
  double result = weft::run(main());
  print_pool_stats();
  return result;
}
