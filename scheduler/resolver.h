// getaddrinfo: name resolution without blocking the loop (asyncio's loop.getaddrinfo), and
// create_connection: connect to a host name, trying each of its addresses in turn.
//
//   std::vector<weft::AddrInfo> infos = co_await weft::getaddrinfo("example.com", "443");
//   weft::Socket s = co_await weft::create_connection("localhost", 8080);
//
// getaddrinfo runs ::getaddrinfo on the blocking pool (to_thread: current_blocking_pool(),
// a Runtime's own on its loops), except for a numeric host ("127.0.0.1", "::1"; not "" nor
// one with a "%zone") with a numeric port and a socket type given, which is answered on the
// spot, as asyncio does. Failures raise GaiError (os_error.h) carrying the EAI_* code.
//
// create_connection resolves (host, port) for a stream socket and connects to its addresses
// until one accepts (asyncio's loop.create_connection). By default it tries them one after
// another, in the order getaddrinfo gave them. With ConnectOptions::happy_eyeballs_delay set
// it races them as RFC 8305 ("Happy Eyeballs") and asyncio's staggered_race do: the next
// attempt starts when the previous one failed or has not connected within the delay (250 ms
// is asyncio's and the RFC's recommendation, kHappyEyeballsDelay); the first connection wins,
// every other attempt is cancelled and its socket closed. `interleave` reorders the addresses
// so that families alternate (IPv6, IPv4, IPv6, ...); unset, it is 1 when the delay is set.
// If no address accepts, the error lists every attempt's error: an OSError of the errno they
// share (ConnectionRefusedError when every address refused), or of the last one's errno when
// they differ. Cancellation (wait_for) stops every attempt in progress and closes its socket.
//
// create_datagram_endpoint gives a UDP socket bound to `local` and/or connected to `remote`
// (asyncio's loop.create_datagram_endpoint, returning the socket rather than a transport).
// With g++ 12, pass HostPort variables rather than braced temporaries inside the co_await
// expression: GCC bug 99576 destroys such a temporary twice.
//
// Thread-safety: await inside a task, on any loop.
#ifndef WEFT_SCHEDULER_RESOLVER_H_
#define WEFT_SCHEDULER_RESOLVER_H_

#include <netdb.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loop/clock.h"
#include "loop/coro.h"
#include "loop/socket.h"
#include "loop/socket_address.h"

namespace weft {

// One result of getaddrinfo (Python's 5-tuple).
struct AddrInfo {
  int family = AF_UNSPEC;
  int type = 0;
  int protocol = 0;
  std::string canonname;
  SocketAddress address;
};

[[nodiscard]] Coro<std::vector<AddrInfo>> getaddrinfo(std::string host, std::string port,
                                                      int family = AF_UNSPEC, int type = 0,
                                                      int protocol = 0, int flags = 0);

// asyncio's recommended happy_eyeballs_delay (RFC 8305's "Connection Attempt Delay").
inline constexpr Duration kHappyEyeballsDelay = std::chrono::milliseconds(250);

struct ConnectOptions {
  // asyncio's happy_eyeballs_delay: start the next address's attempt when the previous one
  // has not connected within this time. Unset: one address after another (asyncio's default).
  std::optional<Duration> happy_eyeballs_delay;
  // asyncio's interleave: reorder the addresses by family, `interleave` of the first family
  // first and then one of each family in turn; 0: getaddrinfo's order. Unset: 1 when
  // happy_eyeballs_delay is set, else 0. Negative values raise std::invalid_argument.
  std::optional<int> interleave;
};

[[nodiscard]] Coro<Socket> create_connection(std::string host, uint16_t port,
                                             ConnectOptions options = {});

// The part of create_connection after name resolution: connects to the first of `addresses`
// that accepts, as above (for addresses resolved elsewhere; tests race loopback addresses
// with it). `what` names the target in the error's message. An empty list raises OSError
// (EADDRNOTAVAIL).
[[nodiscard]] Coro<Socket> create_connection(std::vector<AddrInfo> addresses,
                                             ConnectOptions options = {},
                                             std::string what = "create_connection");

// asyncio's _interleave_addrinfos: groups the addresses by family in order of first
// appearance, puts `first_family_count` - 1 of the first family first, then takes one of
// each family in turn.
std::vector<AddrInfo> interleave_addrinfos(std::vector<AddrInfo> addresses,
                                           int first_family_count = 1);

// A host and port pair for the endpoint functions.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// At least one of local and remote must be given (RuntimeError otherwise). With both, the
// local address is looked up in the remote's family.
[[nodiscard]] Coro<Socket> create_datagram_endpoint(std::optional<HostPort> local,
                                                    std::optional<HostPort> remote = std::nullopt);

}  // namespace weft

#endif  // WEFT_SCHEDULER_RESOLVER_H_
