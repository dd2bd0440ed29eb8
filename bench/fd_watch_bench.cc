// FdWatch (edge-triggered, registered once per descriptor) against the level-triggered
// pattern asyncio's sock_recv uses (add_reader before each wait, remove_reader after it:
// two epoll_ctl and a callback node per wait), on the same loop.
//
//   bazel run --config=opt //bench:fd_watch_bench -- --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
//
// Ping-pong: two tasks on one loop exchange one byte over a socketpair; every read meets
// EAGAIN first and waits, so each round trip is two waits, two writes and four reads. The
// `time_per_op` counter is the time of one round trip.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "benchmark/benchmark.h"
#include "loop/weft.h"

namespace {

benchmark::Counter TimePerOp(double ops) {
  return benchmark::Counter(ops, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

struct Pair {
  Pair() {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  }
  ~Pair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  int fds[2];
};

// The level-triggered way: register a reader that completes a future, await it, unregister.
weft::Coro<void> wait_readable_level(int fd) {
  weft::EventLoop& loop = weft::EventLoop::current();
  weft::Future<void> ready = loop.create_future<void>();
  loop.add_reader(fd, [ready]() mutable {
    if (!ready.done()) ready.set_result();
  });
  try {
    co_await ready;
  } catch (...) {
    loop.remove_reader(fd);
    throw;
  }
  loop.remove_reader(fd);
}

template <bool kEdge>
weft::Coro<void> player(int fd, int rounds, bool serve) {
  weft::FdWatch watch(fd);
  char c = 'p';
  if (serve && ::write(fd, &c, 1) != 1) std::abort();
  for (int done = 0; done < rounds;) {
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0) {
      if (errno != EAGAIN) std::abort();
      if constexpr (kEdge) {
        co_await watch.readable();
      } else {
        co_await wait_readable_level(fd);
      }
      continue;
    }
    ++done;
    if (!(serve && done == rounds) && ::write(fd, &c, 1) != 1) std::abort();
  }
}

template <bool kEdge>
void BM_PingPong(benchmark::State& state) {
  constexpr int kRounds = 1000;
  weft::EventLoop loop;
  Pair pair;
  for (auto _ : state) {
    loop.run_until_complete([&]() -> weft::Coro<void> {
      weft::Task<void> a = weft::create_task(player<kEdge>(pair.fds[0], kRounds, true));
      weft::Task<void> b = weft::create_task(player<kEdge>(pair.fds[1], kRounds, false));
      co_await a;
      co_await b;
    }());
  }
  state.counters["time_per_op"] = TimePerOp(static_cast<double>(state.iterations()) * kRounds);
  loop.close();
}
BENCHMARK(BM_PingPong<true>)->Name("BM_PingPong/edge_fd_watch");
BENCHMARK(BM_PingPong<false>)->Name("BM_PingPong/level_add_reader");

}  // namespace

BENCHMARK_MAIN();
