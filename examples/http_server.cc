// A minimal HTTP/1.1 server answering "Hello, World!" to every request, with keep-alive and
// pipelining (several requests in one read are answered with one write, in order): workload
// W8 (shared/WORKLOADS.md), measured by bench/w8_http.sh.
//
//   http_server [--port N] [--threads N] [--mode reuseport|acceptor] [--host H] [--spin-us N]
//               [--io-coalescing-us N]
//
// Prints "listening on <host>:<port>" once it accepts (port 0, the default, lets the kernel
// pick one), then serves until interrupted (SIGINT / SIGTERM). With --threads N > 1 it runs
// on a Runtime of N loops and accepts on every loop (scheduler/server.h). --spin-us sets the
// Runtime's spin-before-park limit (default 50, the Runtime's). The spin is adaptive: work
// that arrives by epoll shrinks it to nothing (loop/adaptive_spin.h), so a server pays for
// it no more than with --spin-us 0 (0.54-0.71 us of user time per request either way; a fixed
// 50 us spin cost 3.1 us, bench/w8_http.sh on this machine). --io-coalescing-us sets the
// loops' I/O coalescing nap (default 100; 0 turns it off; loop/io_coalescing.h): a loop that
// measures a gain from napping before it blocks does so, and its busy clients then stop paying
// to wake it.
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "examples/http/request_parser.h"
#include "loop/socket.h"
#include "loop/weft.h"
#include "scheduler/runtime.h"
#include "scheduler/server.h"

namespace {

using weft::http::HttpRequest;
using weft::http::HttpRequestParser;
using weft::http::ParseStatus;

constexpr std::string_view kBody = "Hello, World!";

// The whole keep-alive response, with its Date header, rebuilt once per second per thread:
// answering a request is then one copy (W8 measures the per-request user time). Trivially
// constructible (a fixed buffer, no std::string), so that the thread_local below needs no
// initialisation guard on every access.
class HelloResponse {
 public:
  std::string_view get() {
    time_t now = time(nullptr);
    if (now != second_) [[unlikely]] rebuild(now);
    return std::string_view(text_, size_);
  }
  // Without keep-alive: the same with "Connection: close".
  void append_closing(std::string& out) {
    std::string_view full = get();
    out.append(full.substr(0, head_size_));
    out += "Connection: close\r\n";
    out.append(full.substr(head_size_));
  }

 private:
  void rebuild(time_t now) {
    second_ = now;
    tm t;
    gmtime_r(&now, &t);
    constexpr std::string_view kHead =
        "HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n";
    std::memcpy(text_, kHead.data(), kHead.size());
    size_t n = kHead.size();
    n += strftime(text_ + n, sizeof text_ - n, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &t);
    head_size_ = n;
    std::memcpy(text_ + n, "\r\n", 2);
    n += 2;
    std::memcpy(text_ + n, kBody.data(), kBody.size());
    size_ = n + kBody.size();
  }

  time_t second_;
  size_t head_size_;
  size_t size_;
  char text_[256];  // the head is 115 bytes, the body 13
};

// Zero-initialised (second_ == 0: the first get() builds the text).
thread_local HelloResponse t_hello;
static_assert(std::is_trivially_default_constructible_v<HelloResponse>);

void append_bad_request(std::string& out, const char* why) {
  std::string body = std::string("Bad Request: ") + why + "\n";
  out += "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n\r\n";
  out += body;
}

weft::Coro<void> serve_http(weft::Socket conn) {
  std::string in(16 * 1024, '\0');
  size_t have = 0;
  std::string out;
  out.reserve(4096);
  const HttpRequestParser parser;
  try {
    for (;;) {
      if (have == in.size()) in.resize(in.size() * 2);  // a request larger than the buffer
      // readable() + try_recv_into rather than recv_into: no coroutine call per request.
      std::optional<size_t> got;
      do {
        co_await conn.readable();
        got = conn.try_recv_into(std::span<char>(in.data() + have, in.size() - have));
      } while (!got);
      size_t n = *got;
      if (n == 0) co_return;  // the client closed
      have += n;
      size_t used = 0;
      bool close = false;
      size_t hellos = 0;  // keep-alive answers owed, in order before anything `out` gets next
      auto flush_hellos = [&] {
        for (; hellos > 0; --hellos) out.append(t_hello.get());
      };
      HttpRequest req;
      while (used < have) {
        ParseStatus status = parser.parse(std::string_view(in.data() + used, have - used), req);
        if (status == ParseStatus::kIncomplete) break;
        if (status == ParseStatus::kError) {
          flush_hellos();
          append_bad_request(out, req.error);
          close = true;
          break;
        }
        used += req.size;
        if (req.keep_alive) {
          ++hellos;
        } else {
          flush_hellos();
          t_hello.append_closing(out);
          close = true;
          break;
        }
      }
      if (used == have) {
        have = 0;  // the usual case: every byte was a whole request
      } else if (used > 0) {
        std::memmove(in.data(), in.data() + used, have - used);
        have -= used;
      }
      // One request (the usual case): its answer is the cached response itself, no copy.
      std::string_view reply;
      if (hellos == 1 && out.empty()) {
        reply = t_hello.get();
        hellos = 0;
      } else {
        flush_hellos();
        reply = out;
      }
      if (!reply.empty()) {
        // The socket usually has room for a response: send it at once, and await only
        // for what did not fit (kept in `out`: the cached response may change meanwhile).
        size_t sent = conn.try_send(reply).value_or(0);
        if (sent < reply.size()) {
          if (reply.data() == out.data()) {
            out.erase(0, sent);
          } else {
            out.assign(reply.substr(sent));
          }
          co_await conn.sendall(out);
        }
        out.clear();
      }
      if (close) co_return;
    }
  } catch (const weft::ConnectionError&) {
    // The client went away mid-request: nothing to answer.
  }
}

weft::Coro<int> serve(std::string host, uint16_t port, weft::AcceptMode mode,
                      std::optional<weft::Duration> coalescing) {
  // On one loop (weft::run) the option is set here, on the loop that serves.
  if (coalescing) weft::EventLoop::current().set_io_coalescing(*coalescing);
  weft::ServerOptions options;
  options.mode = mode;
  weft::Server server = co_await weft::create_server(serve_http, host, port, options);
  std::printf("listening on %s\n", server.sockets().at(0).to_string().c_str());
  std::fflush(stdout);
  co_await server.serve_forever();
  co_return 0;
}

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--port N] [--threads N] [--mode reuseport|acceptor] [--host H] "
               "[--spin-us N] [--io-coalescing-us N]\n",
               argv0);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  size_t threads = 1;
  weft::AcceptMode mode = weft::AcceptMode::kListenerPerLoop;
  int spin_us = 50;
  std::optional<weft::Duration> coalescing;  // unset: the loop's default
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) usage(argv[0]);
    std::string value = argv[++i];
    if (arg == "--port") {
      port = static_cast<uint16_t>(std::atoi(value.c_str()));
    } else if (arg == "--threads") {
      threads = static_cast<size_t>(std::atoi(value.c_str()));
    } else if (arg == "--spin-us") {
      spin_us = std::atoi(value.c_str());
    } else if (arg == "--io-coalescing-us") {
      coalescing = std::chrono::microseconds(std::atoi(value.c_str()));
    } else if (arg == "--host") {
      host = value;
    } else if (arg == "--mode") {
      if (value == "reuseport") {
        mode = weft::AcceptMode::kListenerPerLoop;
      } else if (value == "acceptor") {
        mode = weft::AcceptMode::kOneAcceptor;
      } else {
        usage(argv[0]);
      }
    } else {
      usage(argv[0]);
    }
  }
  if (threads <= 1) return weft::run(serve(host, port, mode, coalescing));
  weft::RuntimeOptions options{.threads = threads,
                               .spin_before_park = std::chrono::microseconds(spin_us)};
  if (coalescing) options.io_coalescing = *coalescing;
  weft::Runtime rt(options);
  return rt.block_on(serve(host, port, mode, std::nullopt));
}
