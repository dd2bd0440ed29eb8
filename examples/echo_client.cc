// Drives an echo server with N connections, each sending fixed-size messages one at a time
// and waiting for each echo, and reports throughput and round-trip latency percentiles.
//
//   echo_client --port P [--host H] [--connections 64] [--size 64] [--messages 1000]
//
// Every echo is checked byte for byte; the last line is "errors: N" (0 on success, and the
// exit status is 0 only then). Latency is per message, from the send to the whole echo.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loop/socket.h"
#include "loop/weft.h"
#include "scheduler/resolver.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Result {
  std::vector<double> latencies_us;
  int errors = 0;
};

weft::Coro<Result> drive(std::string host, uint16_t port, int id, size_t size, int messages) {
  Result r;
  r.latencies_us.reserve(static_cast<size_t>(messages));
  try {
    weft::Socket s = co_await weft::create_connection(host, port);
    s.set_nodelay();
    std::string msg(size, '\0');
    std::string got(size, '\0');
    for (int m = 0; m < messages; ++m) {
      for (size_t i = 0; i < size; ++i) msg[i] = static_cast<char>('a' + (id + m + i) % 26);
      Clock::time_point start = Clock::now();
      // try_send / readable() + try_recv_into: no coroutine call per message in the usual
      // case (the client must not be what the benchmark measures).
      size_t sent = s.try_send(msg).value_or(0);
      if (sent < size) co_await s.sendall(std::string_view(msg).substr(sent));
      size_t have = 0;
      while (have < size) {
        co_await s.readable();
        std::optional<size_t> n = s.try_recv_into(std::span<char>(got.data() + have, size - have));
        if (!n) continue;
        if (*n == 0) throw weft::ConnectionResetError(ECONNRESET, "echo_client: server closed");
        have += *n;
      }
      r.latencies_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      if (got != msg) ++r.errors;
    }
  } catch (const weft::OSError& e) {
    std::fprintf(stderr, "connection %d: %s\n", id, e.what());
    ++r.errors;
  }
  co_return r;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

weft::Coro<int> main_coro(std::string host, uint16_t port, int connections, size_t size, int messages) {
  Clock::time_point start = Clock::now();
  std::vector<weft::Task<Result>> tasks;
  for (int i = 0; i < connections; ++i) {
    tasks.push_back(weft::create_task(drive(host, port, i, size, messages)));
  }
  std::vector<double> all;
  int errors = 0;
  for (auto& t : tasks) {
    Result r = co_await t;
    errors += r.errors;
    all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("connections: %d, message size: %zu, messages: %zu\n", connections, size, all.size());
  std::printf("throughput: %.0f messages/s, %.2f MB/s each way\n", static_cast<double>(all.size()) / seconds,
              static_cast<double>(all.size() * size) / seconds / 1e6);
  double p50 = percentile(all, 0.50);
  double p99 = percentile(all, 0.99);
  std::printf("latency: p50 %.1f us, p99 %.1f us\n", p50, p99);
  std::printf("errors: %d\n", errors);
  co_return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = -1;
  int connections = 64;
  size_t size = 64;
  int messages = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i];
    if (arg == "--port") {
      port = std::atoi(argv[i + 1]);
    } else if (arg == "--host") {
      host = argv[i + 1];
    } else if (arg == "--connections") {
      connections = std::atoi(argv[i + 1]);
    } else if (arg == "--size") {
      size = static_cast<size_t>(std::atol(argv[i + 1]));
    } else if (arg == "--messages") {
      messages = std::atoi(argv[i + 1]);
    } else {
      port = -1;
      break;
    }
  }
  if (port <= 0 || port > 65535 || connections <= 0 || size == 0 || messages <= 0) {
    std::fprintf(stderr,
                 "usage: %s --port P [--host H] [--connections 64] [--size 64] [--messages 1000]\n",
                 argv[0]);
    return 2;
  }
  return weft::run(main_coro(host, static_cast<uint16_t>(port), connections, size, messages));
}
