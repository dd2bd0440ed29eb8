// Tests for create_server / Server (scheduler/server.h), getaddrinfo (which calls use the blocking
// pool), create_connection and create_datagram_endpoint (scheduler/resolver.h) on loopback: one
// loop and a 2-loop Runtime in both accept modes, Unix servers, close / close_clients / wait_closed
// / serve_forever, a slowloris client that does not stall the others, a failing handler, and EMFILE
// on accept backing off instead of spinning.

#include <sys/resource.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "loop/socket.h"
#include "loop/weft.h"
#include "scheduler/blocking_pool.h"
#include "scheduler/resolver.h"
#include "scheduler/runtime.h"
#include "scheduler/server.h"
#include "tests/io/io_test_util.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using ::testing::HasSubstr;
using io_test::ThreadLog;
using io_test::yield_times;

// Echoes until end of stream.
Coro<void> echo(Socket conn) {
  char buf[4096];
  for (;;) {
    size_t n = co_await conn.recv_into(std::span<char>(buf, sizeof buf));
    if (n == 0) co_return;
    co_await conn.sendall(std::string_view(buf, n));
  }
}

// Connects, sends `msg`, reads it back, and returns what came back.
Coro<std::string> echo_once(std::string host, uint16_t port, std::string msg) {
  Socket s = co_await create_connection(host, port);
  co_await s.sendall(msg);
  std::string got;
  while (got.size() < msg.size()) {
    std::string part = co_await s.recv(4096);
    if (part.empty()) break;
    got += part;
  }
  co_return got;
}

TEST(ResolverTest, NumericAndLocalhost) {
  run([]() -> Coro<void> {
    auto infos = co_await getaddrinfo("127.0.0.1", "80", AF_UNSPEC, SOCK_STREAM);
    EXPECT_EQ(infos.size(), 1u);
    EXPECT_EQ(infos[0].address.to_string(), "127.0.0.1:80");
    // Through the blocking pool (no type given).
    auto local = co_await getaddrinfo("localhost", "7", AF_INET);
    EXPECT_FALSE(local.empty());
    for (const AddrInfo& i : local) EXPECT_EQ(i.address.to_string(), "127.0.0.1:7");
    try {
      co_await getaddrinfo("not an address", "80", AF_UNSPEC, SOCK_STREAM, 0, AI_NUMERICHOST);
      ADD_FAILURE() << "expected GaiError";
    } catch (const GaiError& e) {
      EXPECT_EQ(e.errno_value(), EAI_NONAME);
    }
  }());
}

// A host name is resolved by ::getaddrinfo on the blocking pool (to_thread), on a Runtime
// the Runtime's own (current_blocking_pool() on its loops). "localhost" comes from /etc/hosts,
// so this needs no network. The pool counts a call only after its result was handed over, so
// the count is read once the Runtime has shut its pool down (every call counted by then).
TEST(ResolverTest, AHostNameIsResolvedOnTheRuntimesBlockingPool) {
  Runtime rt({.threads = 2});
  const BlockingPool* used = nullptr;
  rt.block_on([](const BlockingPool*& used) -> Coro<void> {
    used = &current_blocking_pool();
    auto local = co_await getaddrinfo("localhost", "7", AF_INET, SOCK_STREAM);
    EXPECT_FALSE(local.empty());
    for (const AddrInfo& i : local) EXPECT_EQ(i.address.to_string(), "127.0.0.1:7");
  }(used));
  rt.shutdown();
  EXPECT_EQ(used, &rt.blocking_pool());
  EXPECT_EQ(rt.blocking_pool().stats().tasks_run, 1u);
}

// A numeric host with a numeric port and a socket type is answered on the loop's thread, as
// asyncio does (resolver.h): the Runtime's pool never runs a call, nor starts a thread.
TEST(ResolverTest, ANumericHostDoesNotUseTheBlockingPool) {
  Runtime rt({.threads = 2});
  rt.block_on([]() -> Coro<void> {
    auto v4 = co_await getaddrinfo("127.0.0.1", "80", AF_UNSPEC, SOCK_STREAM);
    EXPECT_EQ(v4.size(), 1u);
    for (const AddrInfo& i : v4) {
      EXPECT_EQ(i.address.to_string(), "127.0.0.1:80");
      EXPECT_EQ(i.protocol, IPPROTO_TCP);
    }
    auto v6 = co_await getaddrinfo("::1", "53", AF_INET6, SOCK_DGRAM);
    EXPECT_EQ(v6.size(), 1u);
    for (const AddrInfo& i : v6) {
      EXPECT_EQ(i.address.to_string(), "[::1]:53");
      EXPECT_EQ(i.protocol, IPPROTO_UDP);
    }
    EXPECT_EQ(current_blocking_pool().stats().threads, 0u);
  }());
  rt.shutdown();
  EXPECT_EQ(rt.blocking_pool().stats().tasks_run, 0u);
}

TEST(ResolverTest, CreateConnectionRefused) {
  run([]() -> Coro<void> {
    Socket holder(AF_INET, SOCK_STREAM);
    holder.bind(SocketAddress::ip("127.0.0.1", 0));
    EXPECT_THROW(co_await create_connection("127.0.0.1", holder.getsockname().port()),
                 ConnectionRefusedError);
  }());
}

TEST(ResolverTest, DatagramEndpoints) {
  run([]() -> Coro<void> {
    // Named, not braced temporaries inside co_await: g++ 12 destroys an aggregate temporary
    // in a co_await expression twice (GCC bug 99576).
    HostPort local{"127.0.0.1", 0};
    Socket server = co_await create_datagram_endpoint(local);
    HostPort remote{"127.0.0.1", server.getsockname().port()};
    Socket client = co_await create_datagram_endpoint(std::nullopt, remote);
    co_await client.send("hello udp");
    auto [data, from] = co_await server.recvfrom(100);
    EXPECT_EQ(data, "hello udp");
    co_await server.sendto("back", from);
    EXPECT_EQ(co_await client.recv(100), "back");
    EXPECT_THROW(co_await create_datagram_endpoint(std::nullopt, std::nullopt), RuntimeError);
  }());
}

TEST(ServerTest, EchoOnOneLoop) {
  run([]() -> Coro<void> {
    Server server = co_await create_server(echo, "127.0.0.1", 0);
    EXPECT_EQ(server.sockets().size(), 1u);
    uint16_t port = server.sockets()[0].port();
    EXPECT_NE(port, 0);
    EXPECT_TRUE(server.is_serving());
    EXPECT_EQ(co_await echo_once("127.0.0.1", port, "one"), "one");
    EXPECT_EQ(co_await echo_once("127.0.0.1", port, "two"), "two");
    server.close();
    EXPECT_FALSE(server.is_serving());
    co_await server.wait_closed();
    EXPECT_EQ(server.connections_accepted(), 2u);
    // Closed: new connections are refused.
    EXPECT_THROW(co_await create_connection("127.0.0.1", port), ConnectionRefusedError);
  }());
}

TEST(ServerTest, UnixServer) {
  run([]() -> Coro<void> {
    std::string path = std::string("\0weft-server-test-", 18) + std::to_string(::getpid());
    Server server = co_await create_unix_server(echo, path);
    Socket s(AF_UNIX, SOCK_STREAM);
    co_await s.connect(SocketAddress::unix_path(path));
    co_await s.sendall("unix");
    EXPECT_EQ(co_await s.recv(10), "unix");
    s.close();
    server.close();
    co_await server.wait_closed();
  }());
}

Coro<void> multi_loop_main(AcceptMode mode, ThreadLog& log, int connections) {
  ServerOptions options;
  options.mode = mode;
  Server server = co_await create_server(
      [&log](Socket conn) -> Coro<void> {
        log.add();
        EXPECT_NE(EventLoop::current_or_null(), nullptr);
        return echo(std::move(conn));
      },
      "127.0.0.1", 0, options);
  uint16_t port = server.sockets()[0].port();
  std::vector<Task<std::string>> clients;
  for (int i = 0; i < connections; ++i) {
    clients.push_back(create_task(echo_once("127.0.0.1", port, "msg " + std::to_string(i))));
  }
  for (int i = 0; i < connections; ++i) {
    EXPECT_EQ(co_await clients[i], "msg " + std::to_string(i));
  }
  server.close();
  co_await server.wait_closed();
  EXPECT_EQ(server.connections_accepted(), static_cast<uint64_t>(connections));
}

class MultiLoopServerTest : public ::testing::TestWithParam<AcceptMode> {};

TEST_P(MultiLoopServerTest, ConnectionsAreHandledOnEveryLoop) {
  ThreadLog log;
  run(multi_loop_main(GetParam(), log, 200), {.threads = 2});
  // Round-robin hands out to both loops; SO_REUSEPORT hashes 200 connections over two
  // listeners (all on one: probability 2^-199).
  EXPECT_EQ(log.threads.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Modes, MultiLoopServerTest,
                         ::testing::Values(AcceptMode::kListenerPerLoop, AcceptMode::kOneAcceptor));

TEST(ServerTest, UnixServerOnARuntimeHandsConnectionsOut) {
  ThreadLog log;
  run(
      [](ThreadLog& log) -> Coro<void> {
        std::string path = std::string("\0weft-server-rt-", 16) + std::to_string(::getpid());
        Server server = co_await create_unix_server(
            [&log](Socket conn) -> Coro<void> {
              log.add();
              return echo(std::move(conn));
            },
            path);
        for (int i = 0; i < 4; ++i) {
          Socket s(AF_UNIX, SOCK_STREAM);
          co_await s.connect(SocketAddress::unix_path(path));
          co_await s.sendall("x");
          EXPECT_EQ(co_await s.recv(10), "x");
        }
        server.close();
        co_await server.wait_closed();
      }(log),
      {.threads = 2});
  EXPECT_EQ(log.threads.size(), 2u);
}

TEST(ServerTest, SlowlorisDoesNotStallOthersAndCloseClientsEndsIt) {
  run([]() -> Coro<void> {
    // A line-oriented handler: waits for a full line, answers it.
    auto line_echo = [](Socket conn) -> Coro<void> {
      std::string line;
      while (line.find('\n') == std::string::npos) {
        std::string part = co_await conn.recv(64);
        if (part.empty()) co_return;
        line += part;
      }
      co_await conn.sendall(line);
    };
    Server server = co_await create_server(line_echo, "127.0.0.1", 0);
    uint16_t port = server.sockets()[0].port();
    Socket slow = co_await create_connection("127.0.0.1", port);
    co_await slow.sendall("GET / HTT");  // and never the rest
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(co_await echo_once("127.0.0.1", port, "fast " + std::to_string(i) + "\n"),
                "fast " + std::to_string(i) + "\n");
    }
    server.close();
    server.close_clients();  // cancels the slow handler, which closes its socket
    co_await server.wait_closed();
    EXPECT_EQ(co_await slow.recv(10), "");
  }());
}

TEST(ServerTest, ServeForeverEndsAtCloseAndCancellingItCloses) {
  run([]() -> Coro<void> {
    Server server = co_await create_server(echo, "127.0.0.1", 0);
    Task<void> serving = create_task(server.serve_forever());
    co_await yield_times(3);
    EXPECT_FALSE(serving.done());
    server.close();
    co_await serving;

    Server second = co_await create_server(echo, "127.0.0.1", 0);
    Task<void> serving2 = create_task(second.serve_forever());
    co_await yield_times(3);
    serving2.cancel();
    EXPECT_THROW(co_await serving2, CancelledError);
    EXPECT_FALSE(second.is_serving());
    co_await second.wait_closed();
  }());
}

TEST(ServerTest, AFailingHandlerIsReportedAndTheServerGoesOn) {
  std::vector<std::string> reports;
  run([](std::vector<std::string>& reports) -> Coro<void> {
    EventLoop::current().set_exception_handler(
        [&reports](EventLoop&, const ExceptionContext& c) {
          reports.push_back(c.message + " | " + c.exception_text());
        });
    int calls = 0;
    Server server = co_await create_server(
        [&calls](Socket conn) -> Coro<void> {
          if (++calls == 1) throw std::runtime_error("handler bug");
          return echo(std::move(conn));
        },
        "127.0.0.1", 0);
    uint16_t port = server.sockets()[0].port();
    Socket first = co_await create_connection("127.0.0.1", port);
    EXPECT_EQ(co_await first.recv(10), "");  // its handler failed: the connection closed
    EXPECT_EQ(co_await echo_once("127.0.0.1", port, "still serving"), "still serving");
    server.close();
    co_await server.wait_closed();
  }(reports));
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_THAT(reports[0], HasSubstr("connection handler"));
  EXPECT_THAT(reports[0], HasSubstr("handler bug"));
}

TEST(ServerTest, AcceptOutOfDescriptorsBacksOffWithoutSpinning) {
  if (io_test::kAsan) {
    // The asan config's UBSan needs descriptors (the module list) for its vptr checks, and
    // this test takes them all away; the fastbuild and tsan runs cover it.
    GTEST_SKIP() << "needs every descriptor; UBSan's vptr check needs one too";
  }
  std::vector<std::string> reports;
  run([](std::vector<std::string>& reports) -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    loop.set_exception_handler([&reports](EventLoop&, const ExceptionContext& c) {
      reports.push_back(c.message + " | " + c.exception_text());
    });
    ServerOptions options;
    options.accept_retry_delay = 20ms;
    Server server = co_await create_server(echo, "127.0.0.1", 0, options);
    uint16_t port = server.sockets()[0].port();
    Socket client(AF_INET, SOCK_STREAM);
    co_await yield_times(3);  // the acceptor is waiting (its registration is made)

    // No descriptor number is free below the limit: accept fails with EMFILE.
    rlimit saved{};
    getrlimit(RLIMIT_NOFILE, &saved);
    int lowest_free = ::dup(2);
    ::close(lowest_free);
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(lowest_free);
    setrlimit(RLIMIT_NOFILE, &low);
    co_await client.connect(SocketAddress::ip("127.0.0.1", port));
    uint64_t before = loop.stats().items_run;
    co_await sleep(100ms);  // about five retry periods
    uint64_t ran = loop.stats().items_run - before;
    setrlimit(RLIMIT_NOFILE, &saved);

    // A spinning acceptor would run thousands of steps in 100 ms; backing off, a handful.
    EXPECT_LT(ran, 100u);
    co_await client.sendall("served at last");
    EXPECT_EQ(co_await client.recv(100), "served at last");
    client.close();  // wait_closed waits for the connection's handler, which waits for EOF
    server.close();
    co_await server.wait_closed();
  }(reports));
  ASSERT_EQ(reports.size(), 1u);  // once per episode
  EXPECT_THAT(reports[0], HasSubstr("out of system resources"));
  EXPECT_THAT(reports[0], HasSubstr("Errno 24"));
}

}  // namespace
}  // namespace weft
