// The side-by-side scheduler workloads of shared/WORKLOADS.md, one per process:
//
//   bazel run --config=opt //bench:workloads -- <runtime> <workload> [scale] [threads]
//
// <runtime> is `weft` or `onetbb`; <workload> is a WORKLOADS.md id's name (spawn_many,
// spawn_many_remote, yield_many, ping_pong_xthread, ping_pong_local, chained_spawn,
// fib_fork_join, timers, timer_cancel, blocking_pool, blocking_sleep, idle_tasks_memory,
// skynet, and idle_cpu: the CPU an idle Runtime uses). `scale` multiplies the
// sizes (default 1; fib's n and skynet's leaf count, which cannot be multiplied, move to the
// nearest size at that scale). `threads` is the number of loops / arena threads (default 2).
// Prints one line:
//
//   RESULT <runtime> <workload> <metric>=<value> ...
//
// Every weft workload runs on a Runtime of `threads` loops unless it says otherwise; oneTBB
// runs in a task_arena of `threads` threads. ping_pong_xthread needs 2. A runtime that cannot express a workload says so
// (`RESULT <runtime> <workload> unsupported=1`) rather than running an imitation.
#include <malloc.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "loop/frame_arena.h"
#include "loop/weft.h"
#include "oneapi/tbb/task_arena.h"
#include "oneapi/tbb/task_group.h"
#include "bench/workloads_pool.h"
#include "scheduler/runtime.h"

using namespace std::chrono_literals;
using Seconds = std::chrono::duration<double>;

namespace {

double scale = 1.0;
size_t g_threads = 2;  // loops / arena threads, from argv

long scaled(long n) { return std::max<long>(1, static_cast<long>(n * scale)); }

// fib(27) at scale 1; about scale x as many calls otherwise (calls grow by phi per n).
int fib_n() {
  return std::max(2, 27 + static_cast<int>(std::lround(std::log(scale) / std::log(1.618))));
}
long fib_value(int n) {
  long a = 0, b = 1;
  for (int i = 0; i < n; ++i) b = std::exchange(a, b) + b;
  return a;
}
// The tasks fib(n) spawns: every call but the root's is one, and fib(n) makes
// 2 fib(n + 1) - 1 calls. Counted, not measured: a shared counter bumped by every call cost
// a cache-line transfer per call between the loops (a third of W5's time on two loops, for
// weft and oneTBB alike, and it shared its line with a flag every weft task reads).
long fib_tasks(int n) { return 2 * fib_value(n + 1) - 2; }

// 1,000,000 leaves at scale 1; a power of 10 (the tree is 10-ary) nearest to scale x that.
long skynet_leaves() {
  int digits = std::max(1, 6 + static_cast<int>(std::lround(std::log10(scale))));
  long leaves = 1;
  for (int i = 0; i < digits; ++i) leaves *= 10;
  return leaves;
}

double now_s() {
  return Seconds(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec * 1e-6;
}

void result(const char* runtime, const char* workload, const std::string& metrics) {
  std::printf("RESULT %s %s %s\n", runtime, workload, metrics.c_str());
  std::fflush(stdout);
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// ---------------------------------------------------------------------------------------
// weft
// ---------------------------------------------------------------------------------------

// `threads` loops; WEFT_BENCH_SPIN_US overrides how long an idle loop spins before it parks
// (RuntimeOptions::spin_before_park), to measure what the spin costs on a loaded machine.
weft::RuntimeOptions runtime_options() {
  weft::RuntimeOptions options{.threads = g_threads};
  if (const char* us = std::getenv("WEFT_BENCH_SPIN_US")) {
    options.spin_before_park = std::chrono::microseconds(std::atol(us));
  }
  return options;
}

// With WEFT_BENCH_STATS set, the per-loop counters of `rt` go to stderr after a workload
// (how much was stolen, run inline, parked): the first thing to look at when a workload does
// not scale from one loop to two.
void print_stats(const weft::Runtime& rt) {
  if (std::getenv("WEFT_BENCH_STATS") == nullptr) return;
  std::vector<weft::Runtime::LoopStats> all = rt.stats();
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& s = all[i];
    std::fprintf(stderr,
                 "loop %zu: tasks_run=%lu inline_runs=%lu steals=%lu stolen_tasks=%lu "
                 "stolen_from=%lu parks=%lu remote_wakes=%lu wakes_sent=%lu "
                 "injection_pulls=%lu\n",
                 i, (unsigned long)s.tasks_run, (unsigned long)s.inline_runs,
                 (unsigned long)s.steals, (unsigned long)s.stolen_tasks,
                 (unsigned long)s.stolen_from, (unsigned long)s.parks,
                 (unsigned long)s.remote_wakes, (unsigned long)s.wakes_sent,
                 (unsigned long)s.injection_pulls);
  }
  // How much fresh memory the workload's tasks and frames needed (page faults scale with it).
  std::fprintf(stderr, "frame arena: %.1f MiB carved\n",
               weft::internal::FrameArena::carved_bytes() / 1048576.0);
}

// Signals a waiting task on `loop` once `remaining` reaches zero, from any thread.
struct Countdown {
  explicit Countdown(long n) : remaining(n) {}
  // Padding on both sides (an over-aligned local in a coroutine frame is not reliably
  // aligned by g++ 12): every loop bumps the counter, and a Countdown lives in the frame of
  // the coroutine that spawns the work, next to its loop index. Without it W1's counter
  // shared a cache line with the spawner's `i` (count_down was 18% of the running loop's
  // profile); oneTBB's counter in tbb_w1 is a plain local whose loop index is a register.
  char pad_before_[64];
  std::atomic<long> remaining;
  char pad_after_[64];
  weft::EventLoop* loop = nullptr;
  weft::Future<void> done;
  void arm() {
    loop = &weft::EventLoop::current();
    done = loop->create_future<void>();
  }
  void count_down() {
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (weft::EventLoop::current_or_null() == loop) {
      done.set_result();
    } else {
      weft::Future<void> f = done;
      loop->call_soon_threadsafe([f]() mutable { f.set_result(); });
    }
  }
};

weft::Coro<int> answer_once() { co_return 1; }

weft::Coro<void> bump(Countdown& c) {
  c.count_down();
  co_return;
}

weft::Coro<double> w1_spawn_many(long n) {
  Countdown c(n);
  c.arm();
  double t0 = now_s();
  for (long i = 0; i < n; ++i) weft::spawn(bump(c));
  co_await c.done;
  co_return now_s() - t0;
}

void weft_w1(bool remote) {
  long n = scaled(1000000);
  weft::Runtime rt(runtime_options());
  double secs;
  if (!remote) {
    secs = rt.block_on(w1_spawn_many(n));
  } else {
    // Spawned from this thread, outside the runtime; a task on loop 0 waits for the count.
    Countdown c(n);
    std::mutex mu;
    std::condition_variable cv;
    bool armed = false;
    rt.loop(0).call_soon_threadsafe([&] {
      c.arm();
      std::lock_guard<std::mutex> lock(mu);
      armed = true;
      cv.notify_all();
    });
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return armed; });
    }
    double t0 = now_s();
    for (long i = 0; i < n; ++i) rt.spawn(bump(c));
    auto wait = [&c]() -> weft::Coro<void> { co_await c.done; };
    rt.block_on(wait());
    secs = now_s() - t0;
  }
  print_stats(rt);
  result("weft", remote ? "spawn_many_remote" : "spawn_many",
         fmt("tasks_per_s=%.0f", n / secs));
}

weft::Coro<void> yielder(int yields, Countdown& c) {
  for (int i = 0; i < yields; ++i) co_await weft::sleep(0s);
  c.count_down();
}

weft::Coro<double> w2_yield_many(long tasks, int yields) {
  Countdown c(tasks);
  c.arm();
  double t0 = now_s();
  for (long i = 0; i < tasks; ++i) weft::spawn(yielder(yields, c));
  co_await c.done;
  co_return now_s() - t0;
}

void weft_w2() {
  long tasks = scaled(200);
  int yields = 1000;
  weft::Runtime rt(runtime_options());
  double secs = rt.block_on(w2_yield_many(tasks, yields));
  print_stats(rt);
  result("weft", "yield_many", fmt("yields_per_s=%.0f", tasks * yields / secs));
}

// Ping-pong: each side owns a Future it awaits; the other side completes it on the owner's
// loop (call_soon_threadsafe across loops, call_soon on one loop).
struct Side {
  weft::EventLoop* loop = nullptr;
  weft::Future<long> inbox;  // touched only on `loop`
};

void deliver(Side& to, long v) {
  auto set = [&to, v] { to.inbox.set_result(v); };
  if (weft::EventLoop::current_or_null() == to.loop) {
    set();
  } else {
    to.loop->call_soon_threadsafe(set);
  }
}

weft::Coro<void> player(Side& me, Side& peer, long rounds, bool serve) {
  if (serve) deliver(peer, 0);
  for (long i = 0; i < rounds; ++i) {
    long v = co_await me.inbox;  // by name, as the peers do (no copy of the handle)
    me.inbox = me.loop->create_future<long>();
    if (!serve || i + 1 < rounds) deliver(peer, v + 1);
  }
}

void weft_w3(bool xthread) {
  long rounds = scaled(100000);
  weft::Runtime rt(runtime_options());
  Side a, b;
  a.loop = &rt.loop(0);
  b.loop = &rt.loop(xthread ? 1 : 0);
  // Create both inboxes on their loops before anyone plays.
  std::mutex mu;
  std::condition_variable cv;
  int ready = 0;
  for (Side* s : {&a, &b}) {
    s->loop->call_soon_threadsafe([s, &mu, &cv, &ready] {
      s->inbox = s->loop->create_future<long>();
      std::lock_guard<std::mutex> lock(mu);
      ++ready;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return ready == 2; });
  }
  weft::Task<void> pong;
  b.loop->call_soon_threadsafe([&] { pong = b.loop->create_task(player(b, a, rounds, false)); });
  auto main = [&]() -> weft::Coro<double> {
    double t0 = now_s();
    co_await weft::create_task(player(a, b, rounds, true));
    co_return now_s() - t0;
  };
  double secs = rt.block_on(main());
  print_stats(rt);
  result("weft", xthread ? "ping_pong_xthread" : "ping_pong_local",
         fmt("ns_per_rtt=%.1f", secs * 1e9 / rounds));
}

weft::Coro<void> chain(long left, Countdown& c) {
  if (left == 0) {
    c.count_down();
    co_return;
  }
  weft::spawn(chain(left - 1, c));
}

weft::Coro<double> w4_chained(long hops) {
  Countdown c(1);
  c.arm();
  double t0 = now_s();
  weft::spawn(chain(hops, c));
  co_await c.done;
  co_return now_s() - t0;
}

void weft_w4() {
  long hops = scaled(1000000);
  weft::Runtime rt(runtime_options());
  double secs = rt.block_on(w4_chained(hops));
  print_stats(rt);
  result("weft", "chained_spawn", fmt("ns_per_hop=%.1f", secs * 1e9 / hops));
}

weft::Coro<long> fib(int n) {
  if (n < 2) co_return n;
  weft::Task<long> a = weft::spawn(fib(n - 1));
  weft::Task<long> b = weft::spawn(fib(n - 2));
  long x = co_await a;
  long y = co_await b;
  co_return x + y;
}

void weft_w5() {
  int n = fib_n();
  weft::Runtime rt(runtime_options());
  auto main = [&]() -> weft::Coro<double> {
    double t0 = now_s();
    long v = co_await weft::spawn(fib(n));
    double secs = now_s() - t0;
    if (v != fib_value(n)) std::fprintf(stderr, "fib(%d) = %ld, wrong\n", n, v);
    co_return secs;
  };
  double secs = rt.block_on(main());
  print_stats(rt);
  result("weft", "fib_fork_join",
         fmt("seconds=%.4f", secs) + fmt(" tasks_per_s=%.0f", fib_tasks(n) / secs));
}

weft::Coro<void> sleeper(weft::Duration d, Countdown& c) {
  co_await weft::sleep(d);
  c.count_down();
}

void weft_w6() {
  long n = scaled(100000);
  weft::Runtime rt(runtime_options());
  auto main = [&]() -> weft::Coro<double> {
    Countdown c(n);
    c.arm();
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> us(0, 100000);
    double t0 = now_s();
    for (long i = 0; i < n; ++i) weft::spawn(sleeper(std::chrono::microseconds(us(rng)), c));
    co_await c.done;
    co_return now_s() - t0;
  };
  double cpu0 = cpu_s();
  double secs = rt.block_on(main());
  double cpu = cpu_s() - cpu0;
  print_stats(rt);
  result("weft", "timers",
         fmt("overhead_ms=%.2f", (secs - 0.100) * 1e3) + fmt(" cpu_s=%.3f", cpu));
}

void weft_w6c() {
  long n = scaled(1000000);
  // Timers are loop-local: one loop does all of it.
  weft::EventLoop loop;
  auto main = [&]() -> weft::Coro<double> {
    weft::EventLoop& l = weft::EventLoop::current();
    std::vector<weft::TimerHandle> handles;
    handles.reserve(n);
    double t0 = now_s();
    for (long i = 0; i < n; ++i) handles.push_back(l.call_later(10s, [] {}));
    for (auto& h : handles) h.cancel();
    double secs = now_s() - t0;
    co_return secs;
  };
  double secs = loop.run_until_complete(main());
  result("weft", "timer_cancel", fmt("ops_per_s=%.0f", n / secs));
}

// malloc's bytes in use, and what FrameAllocator carved from its arena (task and frame
// blocks come from there until it is used up).
size_t heap_in_use() {
  return mallinfo2().uordblks + weft::internal::FrameArena::carved_bytes();
}

long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

void weft_w9() {
  long n = scaled(100000);
  weft::Runtime rt(runtime_options());
  long rss0 = 0, rss1 = 0;
  size_t heap0 = 0, heap1 = 0;
  auto main = [&]() -> weft::Coro<void> {
    Countdown c(n);
    c.arm();
    std::vector<weft::Task<void>> keep;  // not counted: measured before
    rss0 = rss_kb();
    heap0 = heap_in_use();
    for (long i = 0; i < n; ++i) weft::spawn(sleeper(1s, c));
    co_await weft::sleep(200ms);  // every task has started and sleeps
    rss1 = rss_kb();
    heap1 = heap_in_use();
    co_await c.done;
  };
  rt.block_on(main());
  result("weft", "idle_tasks_memory",
         fmt("bytes_per_task=%.0f", (rss1 - rss0) * 1024.0 / n) +
             fmt(" heap_bytes_per_task=%.0f", static_cast<double>(heap1 - heap0) / n));
}

weft::Coro<long> skynet(long num, long size, long div) {
  if (size == 1) co_return num;
  std::vector<weft::Task<long>> children;
  children.reserve(div);
  long sub = size / div;
  for (long i = 0; i < div; ++i) children.push_back(weft::spawn(skynet(num + i * sub, sub, div)));
  long sum = 0;
  for (auto& c : children) sum += co_await c;
  co_return sum;
}

void weft_w10() {
  long leaves = skynet_leaves();
  weft::Runtime rt(runtime_options());
  auto main = [&]() -> weft::Coro<double> {
    double t0 = now_s();
    long v = co_await weft::spawn(skynet(0, leaves, 10));
    double secs = now_s() - t0;
    if (v != leaves * (leaves - 1) / 2) std::fprintf(stderr, "skynet = %ld, wrong\n", v);
    co_return secs;
  };
  double secs = rt.block_on(main());
  print_stats(rt);
  result("weft", "skynet", fmt("seconds=%.4f", secs));
}

// Not a WORKLOADS.md workload: the CPU an idle Runtime burns (issue: "an idle Runtime uses
// no CPU"). Two loops, nothing to do, for 5 s x scale.
void weft_idle_cpu() {
  weft::Runtime rt(runtime_options());
  rt.block_on(answer_once());
  double cpu0 = cpu_s();
  double t0 = now_s();
  std::this_thread::sleep_for(std::chrono::duration<double>(5.0 * scale));
  double wall = now_s() - t0;
  double cpu = cpu_s() - cpu0;
  result("weft", "idle_cpu", fmt("cpu_s=%.4f", cpu) + fmt(" wall_s=%.2f", wall));
}

// ---------------------------------------------------------------------------------------
// oneTBB (task_group in an arena of 2 threads)
// ---------------------------------------------------------------------------------------

void tbb_w1() {
  long n = scaled(1000000);
  tbb::task_arena arena(g_threads);
  std::atomic<long> count{0};
  double secs = 0;
  arena.execute([&] {
    tbb::task_group tg;
    double t0 = now_s();
    for (long i = 0; i < n; ++i) tg.run([&] { count.fetch_add(1, std::memory_order_relaxed); });
    tg.wait();
    secs = now_s() - t0;
  });
  result("onetbb", "spawn_many", fmt("tasks_per_s=%.0f", n / secs));
}

void tbb_chain(tbb::task_group& tg, long left) {
  if (left == 0) return;
  tg.run([&tg, left] { tbb_chain(tg, left - 1); });
}

void tbb_w4() {
  long hops = scaled(1000000);
  tbb::task_arena arena(g_threads);
  double secs = 0;
  arena.execute([&] {
    tbb::task_group tg;
    double t0 = now_s();
    tbb_chain(tg, hops);
    tg.wait();
    secs = now_s() - t0;
  });
  result("onetbb", "chained_spawn", fmt("ns_per_hop=%.1f", secs * 1e9 / hops));
}

long tbb_fib(int n) {
  if (n < 2) return n;
  long x = 0, y = 0;
  tbb::task_group tg;
  tg.run([&] { x = tbb_fib(n - 1); });
  tg.run([&] { y = tbb_fib(n - 2); });
  tg.wait();
  return x + y;
}

void tbb_w5() {
  tbb::task_arena arena(g_threads);
  double secs = 0;
  arena.execute([&] {
    double t0 = now_s();
    int n = fib_n();
    long v = tbb_fib(n);
    secs = now_s() - t0;
    if (v != fib_value(n)) std::fprintf(stderr, "fib(%d) = %ld, wrong\n", n, v);
  });
  result("onetbb", "fib_fork_join",
         fmt("seconds=%.4f", secs) + fmt(" tasks_per_s=%.0f", fib_tasks(fib_n()) / secs));
}

long tbb_skynet(long num, long size, long div) {
  if (size == 1) return num;
  std::vector<long> sums(div);
  tbb::task_group tg;
  long sub = size / div;
  for (long i = 0; i < div; ++i) {
    tg.run([&, i] { sums[i] = tbb_skynet(num + i * sub, sub, div); });
  }
  tg.wait();
  long s = 0;
  for (long v : sums) s += v;
  return s;
}

void tbb_w10() {
  long leaves = skynet_leaves();
  tbb::task_arena arena(g_threads);
  double secs = 0;
  arena.execute([&] {
    double t0 = now_s();
    long v = tbb_skynet(0, leaves, 10);
    secs = now_s() - t0;
    if (v != leaves * (leaves - 1) / 2) std::fprintf(stderr, "skynet = %ld, wrong\n", v);
  });
  result("onetbb", "skynet", fmt("seconds=%.4f", secs));
}

struct Entry {
  const char* runtime;
  const char* workload;
  std::function<void()> fn;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <weft|onetbb> <workload> [scale] [threads]\n", argv[0]);
    return 2;
  }
  std::string runtime = argv[1], workload = argv[2];
  if (argc > 3) scale = std::atof(argv[3]);
  if (argc > 4) g_threads = static_cast<size_t>(std::max(1, std::atoi(argv[4])));
  if (g_threads < 2 && workload == "ping_pong_xthread") {
    std::fprintf(stderr, "ping_pong_xthread needs 2 threads\n");
    return 2;
  }
  std::vector<Entry> entries = {
      {"weft", "spawn_many", [] { weft_w1(false); }},
      {"weft", "spawn_many_remote", [] { weft_w1(true); }},
      {"weft", "yield_many", weft_w2},
      {"weft", "ping_pong_xthread", [] { weft_w3(true); }},
      {"weft", "ping_pong_local", [] { weft_w3(false); }},
      {"weft", "chained_spawn", weft_w4},
      {"weft", "fib_fork_join", weft_w5},
      {"weft", "timers", weft_w6},
      {"weft", "timer_cancel", weft_w6c},
      {"weft", "idle_tasks_memory", weft_w9},
      {"weft", "skynet", weft_w10},
      {"weft", "idle_cpu", weft_idle_cpu},
      {"weft", "blocking_pool",
       [] {
         result("weft", "blocking_pool",
                fmt("calls_per_s=%.0f", weft_w7_blocking_pool(scale)));
       }},
      {"weft", "blocking_sleep",
       [] {
         result("weft", "blocking_sleep",
                fmt("seconds=%.4f", weft_w7s_blocking_sleep(scale)));
       }},
      {"onetbb", "spawn_many", tbb_w1},
      {"onetbb", "chained_spawn", tbb_w4},
      {"onetbb", "fib_fork_join", tbb_w5},
      {"onetbb", "skynet", tbb_w10},
  };
  for (auto& e : entries) {
    if (runtime == e.runtime && workload == e.workload) {
      e.fn();
      return 0;
    }
  }
  for (auto& e : entries) {
    if (workload == e.workload) {
      result(runtime.c_str(), workload.c_str(), "unsupported=1");
      return 0;
    }
  }
  std::fprintf(stderr, "unknown runtime/workload: %s %s\n", runtime.c_str(), workload.c_str());
  return 2;
}
