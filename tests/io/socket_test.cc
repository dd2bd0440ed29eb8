// Tests for Socket and SocketAddress (loop/socket.h) on loopback: every awaitable operation's
// success and failure paths, IPv4/IPv6/Unix, half-close, reset and broken pipe as exceptions,
// cancellation, a connect that times out under wait_for, a large transfer checked by hash and
// many concurrent connections. Ports are picked by the kernel (bind port 0).

#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "loop/socket.h"
#include "loop/weft.h"
#include "tests/io/io_test_util.h"
#include "tests/sanitizers.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using ::testing::HasSubstr;
using io_test::Fnv;
using io_test::yield_times;

constexpr bool kSanitized = test_env::kUnderSanitizer;

Socket listening(const SocketAddress& where, int backlog = 1024) {
  Socket s(where.family(), SOCK_STREAM);
  if (where.is_ip()) s.set_reuse_address();
  s.bind(where);
  s.listen(backlog);
  return s;
}

std::string unix_path(const char* name) {
  return std::string("\0weft-test-", 11) + name + "-" + std::to_string(::getpid());
}

TEST(SocketAddressTest, FormatsAndParses) {
  EXPECT_EQ(SocketAddress::ip("127.0.0.1", 80).to_string(), "127.0.0.1:80");
  EXPECT_EQ(SocketAddress::ip("::1", 443).to_string(), "[::1]:443");
  EXPECT_EQ(SocketAddress::ip("::1", 443).family(), AF_INET6);
  EXPECT_EQ(SocketAddress::unix_path("/tmp/x.sock").to_string(), "/tmp/x.sock");
  EXPECT_EQ(SocketAddress::unix_path(std::string("\0abs", 4)).to_string(), "@abs");
  EXPECT_EQ(SocketAddress::any(AF_INET, 9).to_string(), "0.0.0.0:9");
  EXPECT_EQ(SocketAddress::ip("10.0.0.1", 5), SocketAddress::ip("10.0.0.1", 5));
  EXPECT_FALSE(SocketAddress::ip("10.0.0.1", 5) == SocketAddress::ip("10.0.0.1", 6));
  try {
    SocketAddress::ip("localhost", 1);
    ADD_FAILURE();
  } catch (const OSError& e) {
    EXPECT_EQ(e.errno_value(), EINVAL);
    EXPECT_THAT(e.what(), HasSubstr("getaddrinfo"));
  }
  EXPECT_THROW(SocketAddress::unix_path(std::string(200, 'a')), OSError);
}

Coro<void> round_trip(SocketAddress where) {
  Socket listener = listening(where);
  SocketAddress bound = listener.getsockname();
  Socket client(where.family(), SOCK_STREAM);
  Task<std::pair<Socket, SocketAddress>> accepting = create_task(listener.accept());
  co_await client.connect(bound);
  auto [server, peer] = co_await accepting;
  if (where.is_ip()) {
    EXPECT_EQ(peer, client.getsockname());
    EXPECT_EQ(server.getpeername(), client.getsockname());
    EXPECT_EQ(client.getpeername(), bound);
    EXPECT_NE(bound.port(), 0);
  }
  co_await client.sendall("ping");
  char buf[16];
  size_t n = co_await server.recv_into(std::span<char>(buf, sizeof buf));
  EXPECT_EQ(std::string(buf, n), "ping");
  EXPECT_EQ(co_await server.send("pong"), 4u);
  EXPECT_EQ(co_await client.recv(100), "pong");
}

TEST(SocketTest, RoundTripIPv4) { run(round_trip(SocketAddress::ip("127.0.0.1", 0))); }

TEST(SocketTest, RoundTripIPv6) {
  Socket probe(AF_INET6, SOCK_STREAM);
  try {
    probe.bind(SocketAddress::ip("::1", 0));
  } catch (const OSError&) {
    GTEST_SKIP() << "no IPv6 loopback here";
  }
  run(round_trip(SocketAddress::ip("::1", 0)));
}

TEST(SocketTest, RoundTripUnix) { run(round_trip(SocketAddress::unix_path(unix_path("rt")))); }

TEST(SocketTest, ConnectRefused) {
  run([]() -> Coro<void> {
    // Bound but not listening: the port is ours and nobody accepts on it.
    Socket holder(AF_INET, SOCK_STREAM);
    holder.bind(SocketAddress::ip("127.0.0.1", 0));
    Socket client(AF_INET, SOCK_STREAM);
    try {
      co_await client.connect(holder.getsockname());
      ADD_FAILURE() << "expected ConnectionRefusedError";
    } catch (const ConnectionRefusedError& e) {
      EXPECT_EQ(e.errno_value(), ECONNREFUSED);
      EXPECT_THAT(e.what(), HasSubstr("connect(127.0.0.1:"));
    }
  }());
}

TEST(SocketTest, ConnectTimesOutUnderWaitFor) {
  run([]() -> Coro<void> {
    // A listener whose accept queue is full drops further SYNs: connect hangs.
    Socket listener = listening(SocketAddress::ip("127.0.0.1", 0), /*backlog=*/0);
    SocketAddress where = listener.getsockname();
    std::vector<Socket> fillers;
    bool timed_out = false;
    for (int i = 0; i < 8 && !timed_out; ++i) {
      Socket s(AF_INET, SOCK_STREAM);
      try {
        co_await wait_for(s.connect(where), 200ms);
        fillers.push_back(std::move(s));
      } catch (const TimeoutError&) {
        timed_out = true;
      }
    }
    EXPECT_TRUE(timed_out);
  }());
}

TEST(SocketTest, HalfClose) {
  run([]() -> Coro<void> {
    Socket listener = listening(SocketAddress::ip("127.0.0.1", 0));
    Socket client(AF_INET, SOCK_STREAM);
    Task<std::pair<Socket, SocketAddress>> accepting = create_task(listener.accept());
    co_await client.connect(listener.getsockname());
    Socket server = (co_await accepting).first;
    co_await client.sendall("request");
    client.shutdown(SHUT_WR);
    std::string got;
    for (;;) {
      std::string part = co_await server.recv(3);
      if (part.empty()) break;
      got += part;
    }
    EXPECT_EQ(got, "request");
    co_await server.sendall("reply after eof");
    server.close();
    EXPECT_EQ(co_await client.recv(100), "reply after eof");
    EXPECT_EQ(co_await client.recv(100), "");
  }());
}

// A connected TCP pair on loopback.
Coro<std::pair<Socket, Socket>> tcp_pair() {
  Socket listener = listening(SocketAddress::ip("127.0.0.1", 0));
  Socket client(AF_INET, SOCK_STREAM);
  Task<std::pair<Socket, SocketAddress>> accepting = create_task(listener.accept());
  co_await client.connect(listener.getsockname());
  Socket server = (co_await accepting).first;
  co_return std::pair<Socket, Socket>(std::move(client), std::move(server));
}

// Reads until end of stream; returns what came.
Coro<std::string> read_to_eof(Socket& s) {
  std::string all;
  for (;;) {
    std::string part = co_await s.recv(1024);
    if (part.empty()) co_return all;
    all += part;
  }
}

TEST(SocketTest, ShortReadThatConsumedTheFinIsFollowedByEof) {
  run([]() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    Task<std::string> reading = create_task(read_to_eof(client));
    co_await yield_times(3);  // the reader waits
    // Data and FIN arrive together: one edge. The short read takes both; the next recv
    // must not wait for another edge (none comes) but report end of stream.
    co_await server.sendall("last words");
    server.shutdown(SHUT_WR);
    EXPECT_EQ(co_await reading, "last words");
  }());
}

TEST(SocketTest, ResetByPeerIsConnectionResetError) {
  run([]() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    // SO_LINGER 0: close sends RST.
    linger lg{1, 0};
    EXPECT_EQ(setsockopt(server.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    server.close();
    try {
      co_await client.recv(10);
      ADD_FAILURE() << "expected ConnectionResetError";
    } catch (const ConnectionResetError& e) {
      EXPECT_EQ(e.errno_value(), ECONNRESET);
    }
  }());
}

TEST(SocketTest, WritingToAClosedPeerIsAConnectionErrorNotSigpipe) {
  run([]() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    server.close();
    std::string chunk(64 * 1024, 'x');
    try {
      for (int i = 0; i < 1000; ++i) co_await client.sendall(chunk);
      ADD_FAILURE() << "expected BrokenPipeError or ConnectionResetError";
    } catch (const ConnectionError& e) {
      EXPECT_TRUE(e.errno_value() == EPIPE || e.errno_value() == ECONNRESET) << e.what();
    }
  }());
}

TEST(SocketTest, TrySendSendsWhatFitsAndNeverWaits) {
  run([]() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    EXPECT_EQ(client.try_send("hello"), std::optional<size_t>(5));
    char buf[16];
    size_t n = co_await server.recv_into(std::span<char>(buf, sizeof buf));
    EXPECT_EQ(std::string(buf, n), "hello");
    // Nobody reads: the kernel's buffers fill, and then try_send reports it would block
    // instead of waiting; what it did send arrives whole.
    std::string chunk(64 * 1024, 'x');
    size_t sent = 0;
    for (;;) {
      std::optional<size_t> k = client.try_send(chunk);
      if (!k) break;
      EXPECT_GT(*k, 0u);
      sent += *k;
      if (sent > (size_t{1} << 30)) {
        ADD_FAILURE() << "try_send never reported a full buffer";
        co_return;
      }
    }
    EXPECT_EQ(client.try_send("more"), std::nullopt);
    size_t got = 0;
    std::vector<char> in(64 * 1024);
    while (got < sent) got += co_await server.recv_into(std::span<char>(in.data(), in.size()));
    EXPECT_EQ(got, sent);
  }());
}

TEST(SocketTest, TrySendToAClosedPeerIsAConnectionError) {
  run([]() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    linger lg{1, 0};
    EXPECT_EQ(setsockopt(server.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    server.close();  // RST
    // The RST may take a moment on loopback: wait until the socket reports it.
    co_await client.watch().readable();
    try {
      client.try_send("x");
      ADD_FAILURE() << "expected a ConnectionError";
    } catch (const ConnectionError& e) {
      EXPECT_TRUE(e.errno_value() == EPIPE || e.errno_value() == ECONNRESET) << e.what();
    }
    client.close();
    try {
      client.try_send("x");
      ADD_FAILURE() << "expected OSError(EBADF)";
    } catch (const OSError& e) {
      EXPECT_EQ(e.errno_value(), EBADF);
      EXPECT_THAT(e.what(), HasSubstr("try_send on a closed socket"));
    }
  }());
}

// The Tokio-style receive loop: readable(), then try_recv_into.
Coro<std::string> read_with_try_recv(Socket& sock, size_t max_bytes) {
  std::string out(max_bytes, '\0');
  for (;;) {
    co_await sock.readable();
    if (std::optional<size_t> n = sock.try_recv_into(std::span<char>(out.data(), out.size()))) {
      out.resize(*n);
      co_return out;
    }
  }
}

TEST(SocketTest, TryRecvIntoNeverWaitsAndReadableWaitsForData) {
  run([]() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    char buf[16];
    EXPECT_EQ(server.try_recv_into(std::span<char>(buf, sizeof buf)), std::nullopt);
    // Nothing came: readable() waits until something does.
    Task<std::string> reading = create_task(read_with_try_recv(server, 16));
    co_await yield_times(3);
    EXPECT_FALSE(reading.done());
    co_await client.sendall("ping");
    EXPECT_EQ(co_await reading, "ping");
    // That read was short: the next readable() waits for the next edge again.
    reading = create_task(read_with_try_recv(server, 16));
    co_await yield_times(3);
    EXPECT_FALSE(reading.done());
    co_await client.sendall("pong");
    EXPECT_EQ(co_await reading, "pong");
    // A full read leaves readable() ready at once: the rest is read without waiting.
    co_await client.sendall("0123456789");
    EXPECT_EQ(co_await read_with_try_recv(server, 4), "0123");
    EXPECT_EQ(co_await read_with_try_recv(server, 16), "456789");
    // End of stream: readable() returns, try_recv_into reports 0, and keeps doing so.
    client.shutdown(SHUT_WR);
    EXPECT_EQ(co_await read_with_try_recv(server, 16), "");
    EXPECT_EQ(co_await read_with_try_recv(server, 16), "");
  }());
}

TEST(SocketTest, CancelledReadableLeavesTheSocketUsable) {
  run([]() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    char buf[16];
    EXPECT_EQ(server.try_recv_into(std::span<char>(buf, sizeof buf)), std::nullopt);
    Task<std::string> reading = create_task(read_with_try_recv(server, 16));
    co_await yield_times(3);
    reading.cancel();
    EXPECT_THROW(co_await reading, CancelledError);
    co_await client.sendall("after");
    EXPECT_EQ(co_await read_with_try_recv(server, 16), "after");
    // Mixed with the awaitable call: recv_into after try_recv_into sees the same state.
    co_await client.sendall("mixed");
    EXPECT_EQ(co_await server.recv(16), "mixed");
  }());
}

TEST(SocketTest, TryRecvIntoReportsConnectionReset) {
  run([]() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    linger lg{1, 0};
    EXPECT_EQ(setsockopt(server.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    server.close();
    try {
      co_await read_with_try_recv(client, 16);
      ADD_FAILURE() << "expected ConnectionResetError";
    } catch (const ConnectionResetError& e) {
      EXPECT_EQ(e.errno_value(), ECONNRESET);
    }
  }());
}

TEST(SocketTest, OperationsOnAClosedSocketRaiseEbadf) {
  run([]() -> Coro<void> {
    Socket s(AF_INET, SOCK_STREAM);
    s.close();
    EXPECT_FALSE(s.is_open());
    try {
      co_await s.recv(1);
      ADD_FAILURE();
    } catch (const OSError& e) {
      EXPECT_EQ(e.errno_value(), EBADF);
      EXPECT_THAT(e.what(), HasSubstr("closed socket"));
    }
    try {
      char buf[1];
      s.try_recv_into(std::span<char>(buf, 1));
      ADD_FAILURE();
    } catch (const OSError& e) {
      EXPECT_EQ(e.errno_value(), EBADF);
      EXPECT_THAT(e.what(), HasSubstr("closed socket"));
    }
    EXPECT_THROW(s.bind(SocketAddress::ip("127.0.0.1", 0)), OSError);
  }());
}

TEST(SocketTest, BindToAnAddressInUse) {
  Socket a = listening(SocketAddress::ip("127.0.0.1", 0));
  Socket b(AF_INET, SOCK_STREAM);
  try {
    b.bind(a.getsockname());
    ADD_FAILURE();
  } catch (const OSError& e) {
    EXPECT_EQ(e.errno_value(), EADDRINUSE);
  }
}

TEST(SocketTest, CancelledRecvLeavesTheSocketUsable) {
  run([]() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    Task<std::string> reading = create_task(server.recv(10));
    co_await yield_times(3);
    reading.cancel();
    EXPECT_THROW(co_await reading, CancelledError);
    co_await client.sendall("after");
    EXPECT_EQ(co_await server.recv(10), "after");
  }());
}

TEST(SocketTest, CloseWhileAcceptingWakesTheAcceptorWithEbadf) {
  run([]() -> Coro<void> {
    Socket listener = listening(SocketAddress::ip("127.0.0.1", 0));
    Task<std::pair<Socket, SocketAddress>> accepting = create_task(listener.accept());
    co_await yield_times(3);
    listener.close();
    try {
      co_await accepting;
      ADD_FAILURE();
    } catch (const OSError& e) {
      EXPECT_EQ(e.errno_value(), EBADF);
    }
  }());
}

TEST(SocketTest, UdpSendtoRecvfrom) {
  run([]() -> Coro<void> {
    Socket a(AF_INET, SOCK_DGRAM);
    Socket b(AF_INET, SOCK_DGRAM);
    a.bind(SocketAddress::ip("127.0.0.1", 0));
    b.bind(SocketAddress::ip("127.0.0.1", 0));
    Task<std::pair<std::string, SocketAddress>> receiving = create_task(b.recvfrom(100));
    co_await yield_times(2);
    EXPECT_EQ(co_await a.sendto("datagram", b.getsockname()), 8u);
    auto [data, from] = co_await receiving;
    EXPECT_EQ(data, "datagram");
    EXPECT_EQ(from, a.getsockname());
  }());
}

TEST(SocketTest, LargeTransferCheckedByHash) {
  const size_t total = kSanitized ? (8u << 20) : (100u << 20);
  run([total]() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    auto send_all = [](Socket& s, size_t total) -> Coro<uint64_t> {
      std::string block(256 * 1024, '\0');
      io_test::RandomBytes bytes;
      Fnv hash;
      for (size_t sent = 0; sent < total; sent += block.size()) {
        bytes.fill(block);
        hash.add(block);
        co_await s.sendall(block);
      }
      s.shutdown(SHUT_WR);
      co_return hash.h;
    };
    auto receive_all = [](Socket& s) -> Coro<std::pair<size_t, uint64_t>> {
      std::vector<char> buf(128 * 1024);
      Fnv hash;
      size_t got = 0;
      for (;;) {
        size_t n = co_await s.recv_into(std::span<char>(buf.data(), buf.size()));
        if (n == 0) break;
        hash.add(buf.data(), n);
        got += n;
      }
      co_return std::pair<size_t, uint64_t>(got, hash.h);
    };
    Task<uint64_t> sending = create_task(send_all(client, total));
    auto [got, received_hash] = co_await receive_all(server);
    uint64_t sent_hash = co_await sending;
    EXPECT_EQ(got, total);
    EXPECT_EQ(received_hash, sent_hash);
  }());
}

TEST(SocketTest, ThousandConcurrentConnections) {
  static constexpr int kConnections = 1000;
  if (!io_test::raise_fd_limit(2 * kConnections + 64)) GTEST_SKIP() << "RLIMIT_NOFILE too low";
  run([]() -> Coro<void> {
    Socket listener = listening(SocketAddress::ip("127.0.0.1", 0));
    SocketAddress where = listener.getsockname();
    auto serve_one = [](Socket conn) -> Coro<void> {
      // Echo one message, then close.
      std::string msg = co_await conn.recv(64);
      co_await conn.sendall(msg);
    };
    auto acceptor = [&]() -> Coro<void> {
      std::vector<Task<void>> handlers;
      for (int i = 0; i < kConnections; ++i) {
        auto [conn, peer] = co_await listener.accept();
        handlers.push_back(create_task(serve_one(std::move(conn))));
      }
      for (auto& h : handlers) co_await h;
    };
    auto client = [](SocketAddress where, int i) -> Coro<bool> {
      Socket s(AF_INET, SOCK_STREAM);
      co_await s.connect(where);
      std::string msg = "hello " + std::to_string(i);
      co_await s.sendall(msg);
      std::string got;
      while (got.size() < msg.size()) {
        std::string part = co_await s.recv(64);
        if (part.empty()) break;
        got += part;
      }
      co_return got == msg;
    };
    Task<void> accepting = create_task(acceptor());
    std::vector<Task<bool>> clients;
    for (int i = 0; i < kConnections; ++i) clients.push_back(create_task(client(where, i)));
    int ok = 0;
    for (auto& c : clients) ok += co_await c;
    co_await accepting;
    EXPECT_EQ(ok, kConnections);
  }());
}

}  // namespace
}  // namespace weft
