// A TCP echo server: every connection gets back what it sends, until it closes.
//
//   echo_server [--port N] [--threads N] [--host H]
//
// Prints "listening on <host>:<port>" once it accepts (port 0, the default, lets the kernel
// pick one), then serves until interrupted. examples/echo_client drives it.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "loop/socket.h"
#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "scheduler/server.h"

namespace {

weft::Coro<void> echo(weft::Socket conn) {
  char buf[16 * 1024];
  try {
    for (;;) {
      size_t n = co_await conn.recv_into(std::span<char>(buf, sizeof buf));
      if (n == 0) co_return;
      co_await conn.sendall(std::string_view(buf, n));
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
