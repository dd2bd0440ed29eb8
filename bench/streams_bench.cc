// Streams, pipes and subprocesses (loop/stream_reader.h, stream_writer.h, subprocess.h).
//
//   bazel run --config=opt //bench:streams_bench -- --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true
//
// BM_ReadlineFed: readline over lines already fed (the parsing core alone): time per line.
// BM_PipeThroughput: a writer task and a reader task on one loop moving 64 MiB through a pipe
//   in 64 KiB writes / reads: bytes per second.
// BM_PipeLinePingPong: one line there and back through two pipes (a writer+reader pair in each
//   direction, both on one loop): time per round trip (two wake-ups through epoll).
// BM_SpawnAndWait: create_subprocess_exec("true") + wait(): time per child.
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "benchmark/benchmark.h"
#include "loop/fd_streams.h"
#include "loop/subprocess.h"
#include "loop/weft.h"

namespace {

benchmark::Counter TimePerOp(double ops) {
  return benchmark::Counter(ops, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_ReadlineFed(benchmark::State& state) {
  const size_t line_size = static_cast<size_t>(state.range(0));
  std::string line(line_size - 1, 'x');
  line += '\n';
  std::string block;
  while (block.size() < 64 * 1024) block += line;
  const size_t lines = block.size() / line_size;
  weft::EventLoop loop;
  for (auto _ : state) {
    loop.run_until_complete([](const std::string& block, size_t lines) -> weft::Coro<void> {
      weft::StreamReader r(128 * 1024);
      r.feed_data(block);
      for (size_t i = 0; i < lines; ++i) benchmark::DoNotOptimize(co_await r.readline());
    }(block, lines));
  }
  state.counters["time_per_line"] = TimePerOp(static_cast<double>(state.iterations() * lines));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * lines * line_size));
  loop.close();
}
BENCHMARK(BM_ReadlineFed)->Arg(16)->Arg(128)->Arg(1024);

weft::Coro<void> write_all(weft::StreamWriter* w, size_t total, size_t piece) {
  const std::string chunk(piece, 'p');
  for (size_t sent = 0; sent < total; sent += piece) {
    w->write(chunk);
    co_await w->drain();
  }
  w->close();
  co_await w->wait_closed();
}

void BM_PipeThroughput(benchmark::State& state) {
  const size_t total = 64u << 20;
  weft::EventLoop loop;
  for (auto _ : state) {
    loop.run_until_complete([](size_t total) -> weft::Coro<void> {
      int fds[2];
      pipe2(fds, O_CLOEXEC);
      auto w = weft::open_write_pipe(fds[1]);
      auto r = weft::open_read_pipe(fds[0]);
      weft::Task<void> producer = weft::create_task(write_all(w.get(), total, 64 * 1024));
      size_t got = 0;
      for (;;) {
        std::string s = co_await r->read(64 * 1024);
        if (s.empty()) break;
        got += s.size();
      }
      co_await producer;
      if (got != total) std::abort();
    }(total));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
  loop.close();
}
BENCHMARK(BM_PipeThroughput)->Unit(benchmark::kMillisecond);

void BM_PipeLinePingPong(benchmark::State& state) {
  weft::EventLoop loop;
  const int64_t rounds = 10000;
  for (auto _ : state) {
    loop.run_until_complete([](int64_t rounds) -> weft::Coro<void> {
      int a[2], b[2];
      pipe2(a, O_CLOEXEC);
      pipe2(b, O_CLOEXEC);
      auto w1 = weft::open_write_pipe(a[1]);
      auto r1 = weft::open_read_pipe(a[0]);
      auto w2 = weft::open_write_pipe(b[1]);
      auto r2 = weft::open_read_pipe(b[0]);
      weft::Task<void> echo = weft::create_task(
          [](weft::StreamReader* in, weft::StreamWriter* out) -> weft::Coro<void> {
            for (;;) {
              std::string line = co_await in->readline();
              if (line.empty()) break;
              out->write(std::move(line));
            }
            out->close();
          }(r1.get(), w2.get()));
      for (int64_t i = 0; i < rounds; ++i) {
        w1->write("ping\n");
        benchmark::DoNotOptimize(co_await r2->readline());
      }
      w1->close();
      co_await echo;
    }(rounds));
  }
  state.counters["time_per_round_trip"] = TimePerOp(static_cast<double>(state.iterations() * rounds));
  loop.close();
}
BENCHMARK(BM_PipeLinePingPong)->Unit(benchmark::kMillisecond);

void BM_SpawnAndWait(benchmark::State& state) {
  weft::EventLoop loop;
  const int n = 50;
  for (auto _ : state) {
    loop.run_until_complete([](int n) -> weft::Coro<void> {
      for (int i = 0; i < n; ++i) {
        auto p = weft::create_subprocess_exec("true");
        if (co_await p->wait() != 0) std::abort();
      }
    }(n));
  }
  state.counters["time_per_child"] = TimePerOp(static_cast<double>(state.iterations() * n));
  loop.close();
}
BENCHMARK(BM_SpawnAndWait)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
