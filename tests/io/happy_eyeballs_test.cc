// Tests for create_connection's address racing (scheduler/resolver.h: happy_eyeballs_delay,
// interleave) on loopback: a listening address wins over refusing and silent ones, every
// loser's socket is closed (descriptor counts), all failures are listed, a cancelled race
// closes everything, and asyncio's interleaving order. Every wait that could hang is bounded
// by wait_for, so a broken race fails instead of hanging. No timing assertions: the delays
// only decide when the next attempt may start.
#include <dirent.h>
#include <sys/socket.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "loop/socket.h"
#include "loop/weft.h"
#include "scheduler/resolver.h"
#include "scheduler/runtime.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using ::testing::HasSubstr;

// Bounds every race: far above any delay used here, far below the test's timeout.
constexpr Duration kBound = 20s;

size_t open_fds() {
  size_t n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

AddrInfo tcp(const SocketAddress& address) {
  AddrInfo info;
  info.family = address.family();
  info.type = SOCK_STREAM;
  info.protocol = IPPROTO_TCP;
  info.address = address;
  return info;
}

// A port on a loopback address (127.0.0.1 unless told): listening (with `backlog`), or only
// bound, so that it refuses.
struct Port {
  explicit Port(std::optional<int> backlog, const char* host = "127.0.0.1")
      : socket(SocketAddress::ip(host, 0).family(), SOCK_STREAM) {
    socket.bind(SocketAddress::ip(host, 0));
    if (backlog) socket.listen(*backlog);
    address = socket.getsockname();
  }
  Socket socket;
  SocketAddress address;
};

struct Listener : Port {
  explicit Listener(const char* host = "127.0.0.1") : Port(1024, host) {}
};

struct Refusing : Port {
  explicit Refusing(const char* host = "127.0.0.1") : Port(std::nullopt, host) {}
};

// Why the IPv6 loopback address ::1 cannot be used here, or "" if it can.
std::string ipv6_loopback_missing() {
  try {
    Socket s(AF_INET6, SOCK_STREAM);
    s.bind(SocketAddress::ip("::1", 0));
    return "";
  } catch (const OSError& e) {
    return e.what();
  }
}

// Skips the test, saying why, where [::1] cannot be bound (GTEST_SKIP must be in the test).
#define SKIP_WITHOUT_IPV6_LOOPBACK()                                                        \
  if (std::string why = ipv6_loopback_missing(); !why.empty()) {                          \
    GTEST_SKIP() << "no IPv6 loopback on this machine (bind to [::1]:0 failed: " << why \
                 << ")";                                                                   \
  }

// A listener that never answers: its accept queue (backlog 0: one connection) is full, so the
// kernel drops further SYNs and a connect stays in progress.
struct Silent : Port {
  Silent() : Port(0) {}
  // Fills the queue, then checks that a connect really gets no answer; false if this kernel
  // answers anyway (the test is then skipped rather than wrong).
  Coro<bool> fill() {
    filler.emplace(AF_INET, SOCK_STREAM);
    Coro<void> filling = wait_for(filler->connect(address), kBound);
    co_await std::move(filling);
    Socket probe(AF_INET, SOCK_STREAM);
    try {
      Coro<void> probing = wait_for(probe.connect(address), 200ms);
      co_await std::move(probing);
      co_return false;
    } catch (const TimeoutError&) {
      co_return true;
    }
  }
  std::optional<Socket> filler;
};

// create_connection(addresses, options), bounded by kBound.
Coro<Socket> connect_bounded(std::vector<AddrInfo> addresses, ConnectOptions options) {
  Coro<Socket> connecting = wait_for(create_connection(std::move(addresses), options), kBound);
  co_return co_await std::move(connecting);
}

ConnectOptions happy(Duration delay) { return ConnectOptions{.happy_eyeballs_delay = delay}; }

TEST(HappyEyeballsTest, AListeningAddressWinsOverARefusingOne) {
  run([]() -> Coro<void> {
    Listener good;
    Refusing bad;
    for (const ConnectOptions& options : {ConnectOptions{}, happy(kHappyEyeballsDelay)}) {
      const size_t before = open_fds();
      {
        // Named, not braced temporaries inside co_await: GCC bug 99576 (resolver.h).
        Coro<Socket> connecting = connect_bounded({tcp(bad.address), tcp(good.address)}, options);
        Socket s = co_await std::move(connecting);
        EXPECT_EQ(s.getpeername().to_string(), good.address.to_string());
      }
      EXPECT_EQ(open_fds(), before) << "a socket of the race was left open";
    }
  }());
}

TEST(HappyEyeballsTest, ASilentFirstAddressFallsThroughToTheNext) {
  bool skipped = false;
  run([&]() -> Coro<void> {
    Silent silent;
    if (!co_await silent.fill()) {
      skipped = true;
      co_return;
    }
    Listener good;
    const size_t before = open_fds();
    {
      Coro<Socket> connecting =
          connect_bounded({tcp(silent.address), tcp(good.address)}, happy(50ms));
      Socket s = co_await std::move(connecting);
      EXPECT_EQ(s.getpeername().to_string(), good.address.to_string());
    }
    // The attempt still waiting on the silent address was cancelled and its socket closed.
    EXPECT_EQ(open_fds(), before);

    // One address after another, the same list never gets past the silent one: cancelling
    // that wait (wait_for) closes the attempt too.
    try {
      Coro<Socket> connecting =
          wait_for(create_connection({tcp(silent.address), tcp(good.address)}), 300ms);
      co_await std::move(connecting);
      ADD_FAILURE() << "connected past a silent address without happy eyeballs";
    } catch (const TimeoutError&) {
    }
    EXPECT_EQ(open_fds(), before);
  }());
  if (skipped) GTEST_SKIP() << "this kernel answers a connect to a full accept queue";
}

TEST(HappyEyeballsTest, TwoListeningAddressesOneWinsTheLoserIsClosed) {
  run([]() -> Coro<void> {
    Listener a;
    Listener b;
    const size_t before = open_fds();
    for (int round = 0; round < 20; ++round) {
      // A delay of 1 ns starts both attempts at once: either may connect first, and the
      // other is cancelled, or connects a moment too late and is closed.
      // (The connections wait in the listeners' accept queues, which are not descriptors
      // of this process until accepted.)
      Coro<Socket> connecting = connect_bounded({tcp(a.address), tcp(b.address)}, happy(1ns));
      Socket s = co_await std::move(connecting);
      const std::string peer = s.getpeername().to_string();
      EXPECT_TRUE(peer == a.address.to_string() || peer == b.address.to_string()) << peer;
      s.close();
      EXPECT_EQ(open_fds(), before) << "round " << round;
    }
  }());
}

TEST(HappyEyeballsTest, EveryAddressFailingRaisesAnErrorListingEach) {
  run([]() -> Coro<void> {
    Refusing one;
    Refusing two;
    const size_t before = open_fds();
    for (const ConnectOptions& options : {ConnectOptions{}, happy(kHappyEyeballsDelay)}) {
      try {
        Coro<Socket> connecting = connect_bounded({tcp(one.address), tcp(two.address)}, options);
        co_await std::move(connecting);
        ADD_FAILURE() << "connected to refusing ports";
      } catch (const ConnectionRefusedError& e) {
        // Every address refused: the errno they share, and each attempt in the message.
        EXPECT_THAT(e.what(), HasSubstr(one.address.to_string()));
        EXPECT_THAT(e.what(), HasSubstr(two.address.to_string()));
        EXPECT_THAT(e.what(), HasSubstr("every address failed"));
        // The shared errno's text once, at the end.
        const std::string msg = e.what();
        const size_t first = msg.find("[Errno ");
        EXPECT_NE(first, std::string::npos) << msg;
        EXPECT_EQ(msg.find("[Errno ", first + 1), std::string::npos) << msg;
      }
      EXPECT_EQ(open_fds(), before);
    }
    Coro<Socket> nothing = connect_bounded({}, happy(kHappyEyeballsDelay));
    EXPECT_THROW(co_await std::move(nothing), OSError);
  }());
}

TEST(HappyEyeballsTest, CancellingARaceClosesEveryAttempt) {
  bool skipped = false;
  run([&]() -> Coro<void> {
    Silent silent;
    if (!co_await silent.fill()) {
      skipped = true;
      co_return;
    }
    const size_t before = open_fds();
    try {
      // Three attempts on the silent address, started 10 ms apart, all waiting when the
      // wait_for cancels the race.
      std::vector<AddrInfo> addresses(3, tcp(silent.address));
      Coro<Socket> connecting = wait_for(create_connection(addresses, happy(10ms)), 300ms);
      co_await std::move(connecting);
      ADD_FAILURE() << "connected to a silent address";
    } catch (const TimeoutError&) {
    }
    EXPECT_EQ(open_fds(), before);
  }());
  if (skipped) GTEST_SKIP() << "this kernel answers a connect to a full accept queue";
}

// From spawned tasks on a 2-loop Runtime, several races at once: each connects to the
// listening address, and no socket is left behind.
TEST(HappyEyeballsTest, RacesFromSpawnedTasksOnARuntime) {
  Runtime rt({.threads = 2});
  rt.block_on([]() -> Coro<void> {
    Listener good;
    Refusing bad;
    const size_t before = open_fds();
    std::vector<Task<std::string>> clients;
    for (int i = 0; i < 8; ++i) {
      clients.push_back(spawn([](SocketAddress bad_address,
                                 SocketAddress good_address) -> Coro<std::string> {
        Coro<Socket> connecting =
            connect_bounded({tcp(bad_address), tcp(good_address)}, happy(1ms));
        Socket s = co_await std::move(connecting);
        co_return s.getpeername().to_string();
      }(bad.address, good.address)));
    }
    for (Task<std::string>& c : clients) EXPECT_EQ(co_await c, good.address.to_string());
    clients.clear();
    EXPECT_EQ(open_fds(), before);
  }());
}

// IPv6 first, as getaddrinfo orders "localhost" on a dual-stack host: ::1 refuses, 127.0.0.1
// accepts. Every way of connecting falls through to the IPv4 address and leaves nothing open.
TEST(HappyEyeballsTest, AnIpv6AddressRefusesAndTheIpv4OneAccepts) {
  SKIP_WITHOUT_IPV6_LOOPBACK();
  run([]() -> Coro<void> {
    Refusing v6("::1");
    Listener v4;
    EXPECT_EQ(v6.address.family(), AF_INET6);
    for (const ConnectOptions& options :
         {ConnectOptions{}, happy(kHappyEyeballsDelay), happy(1ns)}) {
      const size_t before = open_fds();
      {
        Coro<Socket> connecting = connect_bounded({tcp(v6.address), tcp(v4.address)}, options);
        Socket s = co_await std::move(connecting);
        EXPECT_EQ(s.family(), AF_INET);
        EXPECT_EQ(s.getpeername().to_string(), v4.address.to_string());
      }
      EXPECT_EQ(open_fds(), before) << "a socket of the race was left open";
    }
  }());
}

// RFC 8305 section 4: the attempts alternate between the families. Of [::1 refusing, ::1
// listening, 127.0.0.1 listening], the race (interleave 1 by default) tries the refusing
// IPv6 address, then the IPv4 one, which connects before the delay (5 s, far longer than a
// loopback connect) would let the second IPv6 address start: IPv4 wins. In getaddrinfo's
// order (interleave 0) the second IPv6 address is next and wins.
TEST(HappyEyeballsTest, TheRaceAlternatesAddressFamilies) {
  SKIP_WITHOUT_IPV6_LOOPBACK();
  run([]() -> Coro<void> {
    Refusing v6_refusing("::1");
    Listener v6("::1");
    Listener v4;
    const std::vector<AddrInfo> addresses = {tcp(v6_refusing.address), tcp(v6.address),
                                             tcp(v4.address)};
    const size_t before = open_fds();
    {
      Coro<Socket> connecting = connect_bounded(addresses, happy(5s));
      Socket s = co_await std::move(connecting);
      EXPECT_EQ(s.getpeername().to_string(), v4.address.to_string()) << "families did not alternate";
    }
    {
      ConnectOptions in_order = happy(5s);
      in_order.interleave = 0;
      Coro<Socket> connecting = connect_bounded(addresses, in_order);
      Socket s = co_await std::move(connecting);
      EXPECT_EQ(s.getpeername().to_string(), v6.address.to_string());
    }
    EXPECT_EQ(open_fds(), before);
  }());
}

// Every address of both families refusing: the error names each attempt, in the order they
// were made (families alternating).
TEST(HappyEyeballsTest, MixedFamiliesAllRefusingListEachAttemptInOrder) {
  SKIP_WITHOUT_IPV6_LOOPBACK();
  run([]() -> Coro<void> {
    Refusing a("::1");
    Refusing b("::1");
    Refusing c;
    Refusing d;
    try {
      Coro<Socket> connecting = connect_bounded(
          {tcp(a.address), tcp(b.address), tcp(c.address), tcp(d.address)}, happy(5s));
      co_await std::move(connecting);
      ADD_FAILURE() << "connected to refusing ports";
    } catch (const ConnectionRefusedError& e) {
      const std::string message = e.what();
      std::vector<size_t> at;
      for (const Port* p : {static_cast<const Port*>(&a), static_cast<const Port*>(&c),
                            static_cast<const Port*>(&b), static_cast<const Port*>(&d)}) {
        at.push_back(message.find("(" + p->address.to_string() + ")"));  // "connect(<address>)"
        EXPECT_NE(at.back(), std::string::npos) << p->address.to_string() << " in " << message;
      }
      EXPECT_TRUE(std::is_sorted(at.begin(), at.end())) << "not in the order ::1, 127.0.0.1, "
                                                           "::1, 127.0.0.1: "
                                                        << message;
    }
  }());
}

TEST(HappyEyeballsTest, InterleaveIsAsyncios) {
  auto ip = [](const char* host, uint16_t port) { return tcp(SocketAddress::ip(host, port)); };
  std::vector<AddrInfo> in = {ip("::1", 1), ip("::1", 2), ip("::1", 3), ip("127.0.0.1", 4),
                              ip("127.0.0.1", 5)};
  auto ports = [](const std::vector<AddrInfo>& v) {
    std::vector<int> out;
    for (const AddrInfo& i : v) out.push_back(i.address.port());
    return out;
  };
  EXPECT_EQ(ports(interleave_addrinfos(in, 1)), (std::vector<int>{1, 4, 2, 5, 3}));
  EXPECT_EQ(ports(interleave_addrinfos(in, 2)), (std::vector<int>{1, 2, 4, 3, 5}));
  EXPECT_EQ(ports(interleave_addrinfos(in, 9)), (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(ports(interleave_addrinfos({}, 1)), std::vector<int>{});
  run([]() -> Coro<void> {
    ConnectOptions bad{.interleave = -1};
    std::vector<AddrInfo> none;
    Coro<Socket> connecting = create_connection(none, bad);
    EXPECT_THROW(co_await std::move(connecting), std::invalid_argument);
  }());
}

}  // namespace
}  // namespace weft
