// shared/WORKLOADS.md on Boost.Asio 1.74 with C++20 awaitables, one workload per process:
//
//   asio_workloads <pool|ctx> <workload> [scale] [threads]
//   asio_workloads <pool|ctx> http_server <port> [threads]
//
// Built outside Bazel: g++ -O2 -std=c++20 -DNDEBUG workloads.cc -pthread (bench/suite.py).
// Two ways to use Asio on N threads:
//   pool: one io_context run by N threads (a shared pool; tasks go wherever a thread is free);
//   ctx:  N io_contexts, one per thread; spawns go round-robin over them (no stealing).
// Asio 1.74 has no channel and no join of concurrent awaitables (parallel_group and the
// awaitable operators came later), so `Join` below is the one helper: an async_initiate'd
// wait that the last count_down() posts to the waiter's executor.
// Prints `RESULT asio|asio_ctx <workload> <metric>=<value> ...` like bench/workloads.cc.
#include <sys/resource.h>

#include <utility>  // before Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using namespace std::chrono_literals;

namespace {

double scale = 1.0;
int threads = 2;
bool per_thread = false;
const char* rt_name = "asio";

long scaled(long n) { return std::max<long>(1, static_cast<long>(n * scale)); }
int fib_n() {
  return std::max(2, 27 + static_cast<int>(std::lround(std::log(scale) / std::log(1.618))));
}
long fib_value(int n) {
  long a = 0, b = 1;
  for (int i = 0; i < n; ++i) b = std::exchange(a, b) + b;
  return a;
}
long skynet_leaves() {
  int digits = std::max(1, 6 + static_cast<int>(std::lround(std::log10(scale))));
  long leaves = 1;
  for (int i = 0; i < digits; ++i) leaves *= 10;
  return leaves;
}
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
double cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec * 1e-6;
}
long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}
void result(const char* workload, const char* fmt, double a, double b = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  std::printf("RESULT %s %s %s\n", rt_name, workload, buf);
  std::fflush(stdout);
}

// The threads: one io_context shared by all (pool) or one per thread (ctx).
class Runtime {
 public:
  Runtime() {
    int n = per_thread ? threads : 1;
    for (int i = 0; i < n; ++i) {
      ctxs_.push_back(std::make_unique<asio::io_context>(per_thread ? 1 : threads));
      guards_.emplace_back(ctxs_.back()->get_executor());
    }
    for (int i = 0; i < threads; ++i) {
      asio::io_context& c = *ctxs_[per_thread ? i : 0];
      threads_.emplace_back([&c] { c.run(); });
    }
  }
  ~Runtime() {
    guards_.clear();
    for (auto& t : threads_) t.join();
  }
  // Where a new task goes: the shared context, or the next one round-robin.
  asio::any_io_executor next() {
    if (!per_thread) return ctxs_[0]->get_executor();
    thread_local unsigned rr = 0;
    return ctxs_[rr++ % ctxs_.size()]->get_executor();
  }
  asio::io_context& ctx(int i) { return *ctxs_[i % ctxs_.size()]; }
  // Runs `main` on the runtime and waits for its result on this thread.
  template <class T>
  T block_on(awaitable<T> main) {
    return asio::co_spawn(ctx(0), std::move(main), asio::use_future).get();
  }

 private:
  std::vector<std::unique_ptr<asio::io_context>> ctxs_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

Runtime* rt = nullptr;

// Counts down from any thread; one coroutine awaits zero with `co_await join.wait()`.
// The waiter holds one count itself, so whichever of it and the last count_down() comes second
// posts the coroutine's handler to the coroutine's executor.
class Join {
 public:
  explicit Join(long n) : remaining_(n + 1) {}
  void reset(long n) { remaining_.store(n + 1, std::memory_order_relaxed); }
  void count_down() {
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::unique_ptr<WaiterBase> w = std::move(waiter_);  // `this` may die once posted
      w->resume();
    }
  }
  awaitable<void> wait() {
    return asio::async_initiate<decltype(use_awaitable), void()>(
        [this](auto handler) {
          waiter_ = std::make_unique<Waiter<decltype(handler)>>(std::move(handler));
          count_down();
        },
        use_awaitable);
  }

 private:
  struct WaiterBase {
    virtual ~WaiterBase() = default;
    virtual void resume() = 0;
  };
  template <class H>
  struct Waiter : WaiterBase {
    explicit Waiter(H&& h) : h(std::move(h)) {}
    void resume() override {
      auto ex = asio::get_associated_executor(h);
      asio::post(ex, std::move(h));
    }
    H h;
  };
  std::atomic<long> remaining_;
  std::unique_ptr<WaiterBase> waiter_;
};

awaitable<void> bump(Join& j) {
  j.count_down();
  co_return;
}

awaitable<double> spawn_many_main(long n) {
  Join j(n);
  double t0 = now_s();
  for (long i = 0; i < n; ++i) asio::co_spawn(rt->next(), bump(j), asio::detached);
  co_await j.wait();
  co_return now_s() - t0;
}

void w1() {
  long n = scaled(1000000);
  double secs = rt->block_on(spawn_many_main(n));
  result("spawn_many", "tasks_per_s=%.0f", n / secs);
}

void w1r() {
  long n = scaled(1000000);
  auto j = std::make_unique<Join>(n);
  double t0 = now_s();
  for (long i = 0; i < n; ++i) asio::co_spawn(rt->next(), bump(*j), asio::detached);
  auto wait = [&]() -> awaitable<void> { co_await j->wait(); };
  rt->block_on(wait());
  result("spawn_many_remote", "tasks_per_s=%.0f", n / (now_s() - t0));
}

awaitable<void> yielder(int yields, Join& j) {
  auto ex = co_await asio::this_coro::executor;
  for (int i = 0; i < yields; ++i) co_await asio::post(ex, use_awaitable);
  j.count_down();
}

void w2() {
  long tasks = scaled(200);
  int yields = 1000;
  auto main = [&]() -> awaitable<double> {
    Join j(tasks);
    double t0 = now_s();
    for (long i = 0; i < tasks; ++i) asio::co_spawn(rt->next(), yielder(yields, j), asio::detached);
    co_await j.wait();
    co_return now_s() - t0;
  };
  double secs = rt->block_on(main());
  result("yield_many", "yields_per_s=%.0f", tasks * yields / secs);
}

// Ping-pong: each side's inbox is a value and a Join of 1 (reset after each receive; the peer
// writes it again only after it has received the reply).
struct Inbox {
  Join ready{1};
  long value = 0;
  void send(long v) {
    value = v;
    ready.count_down();
  }
};

awaitable<void> player(Inbox& me, Inbox& peer, long rounds, bool serve, Join& done) {
  if (serve) peer.send(0);
  for (long i = 0; i < rounds; ++i) {
    co_await me.ready.wait();
    me.ready.reset(1);
    if (!serve || i + 1 < rounds) peer.send(me.value + 1);
  }
  done.count_down();
}

void w3(bool xthread) {
  long rounds = scaled(100000);
  Inbox a, b;
  // Pinned: ctx mode, a context each (xthread) or both on context 0; pool mode, both on one
  // strand of the shared context (local; xthread cannot be pinned in a shared pool).
  asio::any_io_executor ea, eb;
  if (per_thread) {
    ea = rt->ctx(0).get_executor();
    eb = rt->ctx(xthread ? 1 : 0).get_executor();
  } else {
    ea = eb = asio::make_strand(rt->ctx(0));
  }
  auto main = [&]() -> awaitable<double> {
    Join done(2);
    double t0 = now_s();
    asio::co_spawn(eb, player(b, a, rounds, false, done), asio::detached);
    asio::co_spawn(ea, player(a, b, rounds, true, done), asio::detached);
    co_await done.wait();
    co_return now_s() - t0;
  };
  double secs = asio::co_spawn(rt->ctx(0), main(), asio::use_future).get();
  result(xthread ? "ping_pong_xthread" : "ping_pong_local", "ns_per_rtt=%.1f",
         secs * 1e9 / rounds);
}

awaitable<void> chain(long left, Join& j) {
  if (left == 0) {
    j.count_down();
    co_return;
  }
  asio::co_spawn(rt->next(), chain(left - 1, j), asio::detached);
}

void w4() {
  long hops = scaled(1000000);
  auto main = [&]() -> awaitable<double> {
    Join j(1);
    double t0 = now_s();
    asio::co_spawn(rt->next(), chain(hops, j), asio::detached);
    co_await j.wait();
    co_return now_s() - t0;
  };
  double secs = rt->block_on(main());
  result("chained_spawn", "ns_per_hop=%.1f", secs * 1e9 / hops);
}

// The tasks fib(n) spawns (every call but the root): 2 fib(n + 1) - 2, counted rather than
// bumped on a shared counter, whose cache-line transfers dominated the workload
// (bench/workloads.cc, fib_tasks).
long fib_tasks(int n) { return 2 * fib_value(n + 1) - 2; }

awaitable<long> fib(int n) {
  if (n < 2) co_return n;
  long x = 0, y = 0;
  Join j(2);
  asio::co_spawn(rt->next(), [&]() -> awaitable<void> {
    x = co_await fib(n - 1);
    j.count_down();
  }, asio::detached);
  asio::co_spawn(rt->next(), [&]() -> awaitable<void> {
    y = co_await fib(n - 2);
    j.count_down();
  }, asio::detached);
  co_await j.wait();
  co_return x + y;
}

void w5() {
  int n = fib_n();
  auto main = [&]() -> awaitable<double> {
    double t0 = now_s();
    long v = co_await fib(n);
    double secs = now_s() - t0;
    if (v != fib_value(n)) std::fprintf(stderr, "fib(%d) = %ld, wrong\n", n, v), std::exit(1);
    co_return secs;
  };
  double secs = rt->block_on(main());
  result("fib_fork_join", "seconds=%.4f tasks_per_s=%.0f", secs, fib_tasks(n) / secs);
}

awaitable<void> sleeper(std::chrono::microseconds d, Join& j) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_awaitable);
  j.count_down();
}

void w6() {
  long n = scaled(100000);
  auto main = [&]() -> awaitable<double> {
    Join j(n);
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> us(0, 100000);
    double t0 = now_s();
    for (long i = 0; i < n; ++i) {
      asio::co_spawn(rt->next(), sleeper(std::chrono::microseconds(us(rng)), j), asio::detached);
    }
    co_await j.wait();
    co_return now_s() - t0;
  };
  double cpu0 = cpu_s();
  double secs = rt->block_on(main());
  result("timers", "overhead_ms=%.2f cpu_s=%.3f", (secs - 0.100) * 1e3, cpu_s() - cpu0);
}

void w6c() {
  long n = scaled(1000000);
  // Timers belong to one context: one thread does all of it (like weft's one loop).
  asio::io_context ctx(1);
  auto main = [&]() -> awaitable<double> {
    auto ex = co_await asio::this_coro::executor;
    std::vector<asio::steady_timer> timers;
    timers.reserve(n);
    double t0 = now_s();
    for (long i = 0; i < n; ++i) {
      timers.emplace_back(ex, 10s);
      timers.back().async_wait([](boost::system::error_code) {});
    }
    for (auto& t : timers) t.cancel();
    co_return now_s() - t0;
  };
  auto f = asio::co_spawn(ctx, main(), asio::use_future);
  ctx.run();
  result("timer_cancel", "ops_per_s=%.0f", n / f.get());
}

// W7: asio::thread_pool (default size: 2 x hardware threads) as the blocking pool; each call
// runs there and its completion is posted back to the caller's executor.
void w7(bool sleep) {
  long n = sleep ? scaled(2000) : scaled(100000);
  asio::thread_pool pool;
  auto main = [&]() -> awaitable<double> {
    auto ex = co_await asio::this_coro::executor;
    Join j(n);
    long sum = 0;  // touched on `ex` only (a strand in pool mode)
    double t0 = now_s();
    for (long i = 0; i < n; ++i) {
      asio::post(pool, [&, ex, i] {
        if (sleep) std::this_thread::sleep_for(1ms);
        long r = sleep ? i : i + 1;
        asio::post(ex, [&, r] {
          sum += r;
          j.count_down();
        });
      });
    }
    co_await j.wait();
    double secs = now_s() - t0;
    long want = sleep ? n * (n - 1) / 2 : n * (n + 1) / 2;
    if (sum != want) std::fprintf(stderr, "W7 sum wrong\n"), std::exit(1);
    co_return secs;
  };
  double secs = asio::co_spawn(asio::make_strand(rt->ctx(0)), main(), asio::use_future).get();
  pool.join();
  if (sleep) {
    result("blocking_sleep", "seconds=%.4f", secs);
  } else {
    result("blocking_pool", "calls_per_s=%.0f", n / secs);
  }
}

void w9() {
  long n = scaled(100000);
  long rss0 = 0, rss1 = 0;
  auto main = [&]() -> awaitable<void> {
    Join j(n);
    rss0 = rss_kb();
    for (long i = 0; i < n; ++i) asio::co_spawn(rt->next(), sleeper(1s, j), asio::detached);
    asio::steady_timer t(co_await asio::this_coro::executor, 200ms);  // all started, sleeping
    co_await t.async_wait(use_awaitable);
    rss1 = rss_kb();
    co_await j.wait();
  };
  rt->block_on(main());
  result("idle_tasks_memory", "bytes_per_task=%.0f", (rss1 - rss0) * 1024.0 / n);
}

awaitable<long> skynet(long num, long size, long div) {
  if (size == 1) co_return num;
  std::vector<long> sums(div);
  Join j(div);
  long sub = size / div;
  for (long i = 0; i < div; ++i) {
    asio::co_spawn(rt->next(), [&, i]() -> awaitable<void> {
      sums[i] = co_await skynet(num + i * sub, sub, div);
      j.count_down();
    }, asio::detached);
  }
  co_await j.wait();
  long s = 0;
  for (long v : sums) s += v;
  co_return s;
}

void w10() {
  long leaves = skynet_leaves();
  auto main = [&]() -> awaitable<double> {
    double t0 = now_s();
    long v = co_await skynet(0, leaves, 10);
    double secs = now_s() - t0;
    if (v != leaves * (leaves - 1) / 2) std::fprintf(stderr, "skynet wrong\n"), std::exit(1);
    co_return secs;
  };
  result("skynet", "seconds=%.4f", rt->block_on(main()));
}

// W8: a coroutine per connection; answers every complete request read (pipelining-safe).
constexpr char kResponse[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    "Server: asio\r\n\r\nHello, World!";

awaitable<void> session(asio::ip::tcp::socket s) {
  std::string in, out;
  char buf[8192];
  for (;;) {
    boost::system::error_code ec;
    size_t k = co_await s.async_read_some(asio::buffer(buf),
                                          asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    in.append(buf, k);
    size_t pos = 0, end;
    out.clear();
    while ((end = in.find("\r\n\r\n", pos)) != std::string::npos) {
      out.append(kResponse, sizeof kResponse - 1);
      pos = end + 4;
    }
    in.erase(0, pos);
    if (!out.empty()) {
      co_await asio::async_write(s, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
    }
  }
}

awaitable<void> listener(asio::ip::tcp::acceptor& acc) {
  for (;;) {
    asio::any_io_executor ex = rt->next();  // ctx mode: connections round-robin
    asio::ip::tcp::socket s = co_await acc.async_accept(ex, use_awaitable);
    s.set_option(asio::ip::tcp::no_delay(true));
    asio::co_spawn(s.get_executor(), session(std::move(s)), asio::detached);
  }
}

void http_server(int port) {
  asio::ip::tcp::acceptor acc(rt->ctx(0),
                              asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::co_spawn(rt->ctx(0), listener(acc), asio::detached);
  asio::signal_set sigs(rt->ctx(0), SIGTERM, SIGINT);
  std::promise<void> stop;
  sigs.async_wait([&](boost::system::error_code, int) { stop.set_value(); });
  stop.get_future().wait();
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <pool|ctx> <workload> [scale|port] [threads]\n", argv[0]);
    return 2;
  }
  per_thread = std::strcmp(argv[1], "ctx") == 0;
  rt_name = per_thread ? "asio_ctx" : "asio";
  std::string w = argv[2];
  if (argc > 4) threads = std::max(1, std::atoi(argv[4]));
  if (w == "http_server") {
    Runtime r;
    rt = &r;
    http_server(std::atoi(argv[3]));
    return 0;
  }
  if (argc > 3) scale = std::atof(argv[3]);
  if (w == "ping_pong_xthread" && (!per_thread || threads < 2)) {
    std::printf("RESULT %s %s unsupported=1\n", rt_name, w.c_str());
    return 0;
  }
  Runtime r;
  rt = &r;
  if (w == "spawn_many") w1();
  else if (w == "spawn_many_remote") w1r();
  else if (w == "yield_many") w2();
  else if (w == "ping_pong_xthread") w3(true);
  else if (w == "ping_pong_local") w3(false);
  else if (w == "chained_spawn") w4();
  else if (w == "fib_fork_join") w5();
  else if (w == "timers") w6();
  else if (w == "timer_cancel") w6c();
  else if (w == "blocking_pool") w7(false);
  else if (w == "blocking_sleep") w7(true);
  else if (w == "idle_tasks_memory") w9();
  else if (w == "skynet") w10();
  else {
    std::fprintf(stderr, "unknown workload: %s\n", w.c_str());
    return 2;
  }
  return 0;
}
