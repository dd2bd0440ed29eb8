#include "scheduler/resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include <cstdlib>
#include <exception>

#include "loop/errors.h"
#include "loop/os_error.h"
#include "scheduler/to_thread.h"

namespace weft {
namespace {

// Python's socket.getaddrinfo on the calling thread: raises GaiError, or OSError for
// EAI_SYSTEM.
std::vector<AddrInfo> blocking_getaddrinfo(const std::string& host, const std::string& port,
                                           int family, int type, int protocol, int flags) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = type;
  hints.ai_protocol = protocol;
  hints.ai_flags = flags;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.empty() ? nullptr : port.c_str(),
                         &hints, &res);
  std::string what = "getaddrinfo(" + host + ", " + port + ")";
  if (rc == EAI_SYSTEM) raise_os_error(errno, what);
  if (rc != 0) throw GaiError(rc, what);
  std::vector<AddrInfo> out;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    AddrInfo info;
    info.family = ai->ai_family;
    info.type = ai->ai_socktype;
    info.protocol = ai->ai_protocol;
    if (ai->ai_canonname) info.canonname = ai->ai_canonname;
    info.address = SocketAddress(ai->ai_addr, ai->ai_addrlen);
    out.push_back(std::move(info));
  }
  freeaddrinfo(res);
  return out;
}

// The answer for a numeric host and port without a thread hop, or nothing.
std::optional<std::vector<AddrInfo>> numeric_answer(const std::string& host, const std::string& port,
                                                    int family, int type, int protocol) {
  if (type == 0 || host.empty() || host.find('%') != std::string::npos) return std::nullopt;
  char* end = nullptr;
  unsigned long p = std::strtoul(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p > 65535) return std::nullopt;
  in6_addr buf;
  int host_family = inet_pton(AF_INET, host.c_str(), &buf) == 1    ? AF_INET
                    : inet_pton(AF_INET6, host.c_str(), &buf) == 1 ? AF_INET6
                                                                   : AF_UNSPEC;
  if (host_family == AF_UNSPEC || (family != AF_UNSPEC && family != host_family)) return std::nullopt;
  AddrInfo info;
  info.family = host_family;
  info.type = type;
  info.protocol = protocol != 0 ? protocol : (type == SOCK_STREAM ? IPPROTO_TCP : type == SOCK_DGRAM ? IPPROTO_UDP : 0);
  info.address = SocketAddress::ip(host, static_cast<uint16_t>(p));
  return std::vector<AddrInfo>{std::move(info)};
}

}  // namespace

Coro<std::vector<AddrInfo>> getaddrinfo(std::string host, std::string port, int family, int type,
                                        int protocol, int flags) {
  if (auto answer = numeric_answer(host, port, family, type, protocol)) co_return std::move(*answer);
  co_return co_await to_thread(blocking_getaddrinfo, host, port, family, type, protocol, flags);
}

Coro<Socket> create_connection(std::string host, uint16_t port) {
  std::vector<AddrInfo> infos = co_await getaddrinfo(host, std::to_string(port), AF_UNSPEC, SOCK_STREAM);
  std::exception_ptr last;
  std::string attempts;
  int last_errno = 0;
  bool same_errno = true;
  for (const AddrInfo& info : infos) {
    try {
      Socket s(info.family, SOCK_STREAM, info.protocol);
      co_await s.connect(info.address);
      co_return s;
    } catch (const OSError& e) {
      if (last && e.errno_value() != last_errno) same_errno = false;
      last_errno = e.errno_value();
      last = std::current_exception();
      attempts += std::string(attempts.empty() ? "" : "; ") + e.what();
    }
  }
  if (!last) throw OSError(EADDRNOTAVAIL, "create_connection(" + host + ", " + std::to_string(port) + "): no address");
  if (same_errno) std::rethrow_exception(last);
  throw OSError(last_errno, "create_connection(" + host + ", " + std::to_string(port) +
                                "): every address failed: " + attempts);
}

Coro<Socket> create_datagram_endpoint(std::optional<HostPort> local, std::optional<HostPort> remote) {
  if (!local && !remote) {
    throw RuntimeError("create_datagram_endpoint: give a local address, a remote one, or both");
  }
  int family = AF_UNSPEC;
  std::optional<AddrInfo> remote_info;
  if (remote) {
    std::vector<AddrInfo> infos =
        co_await getaddrinfo(remote->host, std::to_string(remote->port), AF_UNSPEC, SOCK_DGRAM);
    remote_info = infos.at(0);
    family = remote_info->family;
  }
  std::optional<AddrInfo> local_info;
  if (local) {
    std::vector<AddrInfo> infos = co_await getaddrinfo(local->host, std::to_string(local->port), family,
                                                       SOCK_DGRAM, 0, AI_PASSIVE);
    local_info = infos.at(0);
    family = local_info->family;
  }
  Socket s(family, SOCK_DGRAM);
  if (local_info) s.bind(local_info->address);
  if (remote_info) co_await s.connect(remote_info->address);
  co_return s;
}

}  // namespace weft
