#include "loop/socket_address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

#include "loop/os_error.h"

namespace weft {

SocketAddress::SocketAddress() noexcept : storage_{}, len_(0) { storage_.ss_family = AF_UNSPEC; }

SocketAddress::SocketAddress(const sockaddr* sa, socklen_t len) : storage_{}, len_(len) {
  if (len > sizeof storage_) {
    throw OSError(EINVAL, "SocketAddress: address of " + std::to_string(len) + " bytes");
  }
  std::memcpy(&storage_, sa, len);
}

SocketAddress SocketAddress::ip(std::string_view host, uint16_t port) {
  SocketAddress out;
  std::string h(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage_);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.len_ = sizeof(sockaddr_in);
    return out;
  }
  out.storage_ = {};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage_);
  std::string addr = h;
  size_t pct = h.find('%');
  if (pct != std::string::npos) {
    addr = h.substr(0, pct);
    std::string scope = h.substr(pct + 1);
    unsigned index = if_nametoindex(scope.c_str());
    if (index == 0) {
      char* end = nullptr;
      unsigned long n = std::strtoul(scope.c_str(), &end, 10);
      if (scope.empty() || *end != '\0') {
        throw OSError(EINVAL, "SocketAddress::ip: unknown IPv6 scope '" + scope + "'");
      }
      index = static_cast<unsigned>(n);
    }
    v6->sin6_scope_id = index;
  }
  if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.len_ = sizeof(sockaddr_in6);
    return out;
  }
  throw OSError(EINVAL, "SocketAddress::ip: '" + h +
                            "' is not a numeric IPv4 or IPv6 address (resolve host names with "
                            "weft::getaddrinfo)");
}

SocketAddress SocketAddress::any(int family, uint16_t port) {
  if (family == AF_INET) return ip("0.0.0.0", port);
  if (family == AF_INET6) return ip("::", port);
  throw OSError(EAFNOSUPPORT, "SocketAddress::any: family " + std::to_string(family));
}

SocketAddress SocketAddress::unix_path(std::string_view path) {
  SocketAddress out;
  auto* un = reinterpret_cast<sockaddr_un*>(&out.storage_);
  if (path.size() >= sizeof un->sun_path) {
    throw OSError(ENAMETOOLONG, "SocketAddress::unix_path: '" + std::string(path) + "'");
  }
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  // Abstract addresses ('\0' first) count their exact length; paths include the NUL.
  bool abstract = !path.empty() && path[0] == '\0';
  out.len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  return out;
}

std::string SocketAddress::host() const {
  char buf[INET6_ADDRSTRLEN + 1] = {};
  switch (family()) {
    case AF_INET:
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
                sizeof buf);
      return buf;
    case AF_INET6:
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
                sizeof buf);
      return buf;
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
      size_t n = len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
      std::string path(un->sun_path, n);
      if (!path.empty() && path[0] != '\0') path = path.c_str();  // drop the NUL terminator(s)
      return path;
    }
    default:
      return "";
  }
}

uint16_t SocketAddress::port() const {
  switch (family()) {
    case AF_INET:
      return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    case AF_INET6:
      return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    default:
      return 0;
  }
}

std::string SocketAddress::to_string() const {
  switch (family()) {
    case AF_INET:
      return host() + ":" + std::to_string(port());
    case AF_INET6:
      return "[" + host() + "]:" + std::to_string(port());
    case AF_UNIX: {
      std::string path = host();
      if (!path.empty() && path[0] == '\0') path[0] = '@';
      return path;
    }
    default:
      return "<unspecified>";
  }
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
  return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
}

}  // namespace weft
