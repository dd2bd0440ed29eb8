// A TCP echo server: every connection gets back what it sends, until it closes.
//
//   echo_server [--port N] [--threads N] [--host H]
//
// Prints "listening on <host>:<port>" once it accepts (port 0, the default, lets the kernel
// pick one), then serves until interrupted. examples/echo_client drives it.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "loop/socket.h"
#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "scheduler/server.h"

namespace {

weft::Coro<void> echo(weft::Socket conn) {
  char buf[16 * 1024];
  try {
    for (;;) {
      // readable() + try_recv_into and try_send rather than recv_into and sendall: no
      // coroutine call per message when the data is there and the socket has room (as
      // examples/http_server does); sendall only for what the kernel did not take.
      std::optional<size_t> got;
      do {
        co_await conn.readable();
        got = conn.try_recv_into(std::span<char>(buf, sizeof buf));
      } while (!got);
      if (*got == 0) co_return;
      std::string_view data(buf, *got);
      size_t sent = conn.try_send(data).value_or(0);
      if (sent < data.size()) co_await conn.sendall(data.substr(sent));
    }
  } catch (const weft::ConnectionError&) {
    // The client reset or went away mid-write.
  }
}

weft::Coro<int> serve(std::string host, uint16_t port) {
  weft::Server server = co_await weft::create_server(echo, host, port);
  std::printf("listening on %s\n", server.sockets().at(0).to_string().c_str());
  std::fflush(stdout);
  co_await server.serve_forever();
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  size_t threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i];
    if (arg == "--port") {
      port = static_cast<uint16_t>(std::atoi(argv[i + 1]));
    } else if (arg == "--threads") {
      threads = static_cast<size_t>(std::atoi(argv[i + 1]));
    } else if (arg == "--host") {
      host = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: %s [--port N] [--threads N] [--host H]\n", argv[0]);
      return 2;
    }
  }
  return weft::run(serve(host, port), {.threads = threads});
}
