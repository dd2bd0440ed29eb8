// getaddrinfo: name resolution without blocking the loop (asyncio's loop.getaddrinfo), and
// create_connection: connect to a host name, trying each of its addresses in turn.
//
//   std::vector<weft::AddrInfo> infos = co_await weft::getaddrinfo("example.com", "443");
//   weft::Socket s = co_await weft::create_connection("localhost", 8080);
//
// getaddrinfo runs ::getaddrinfo on the shared blocking pool (to_thread), except for numeric
// hosts ("127.0.0.1", "::1", "" with AI_PASSIVE), which are answered on the spot, as asyncio
// does. Failures raise GaiError (os_error.h) carrying the EAI_* code.
//
// create_connection resolves (host, port) for a stream socket and connects to each address in
// the order getaddrinfo gave them until one accepts (asyncio.open_connection without happy
// eyeballs). If none does, it raises the last address's error when all failed the same way,
// else OSError naming every attempt. Cancellation (wait_for) stops the attempt in progress.
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

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

[[nodiscard]] Coro<Socket> create_connection(std::string host, uint16_t port);

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
