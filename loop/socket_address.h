// SocketAddress: an IPv4, IPv6 or Unix-domain socket address, by value.
//
//   auto a = weft::SocketAddress::ip("127.0.0.1", 8080);   // or "::1", "fe80::1%eth0"
//   auto u = weft::SocketAddress::unix_path("/run/app.sock");
//   a.to_string();   // "127.0.0.1:8080", "[::1]:8080", "/run/app.sock"
//
// ip() takes numeric addresses only (no name lookup: see getaddrinfo in scheduler/resolver.h);
// a malformed one raises OSError(EINVAL). A Unix path longer than sun_path raises
// OSError(ENAMETOOLONG). Linux abstract addresses are written with a leading '\0' (or '@' in
// to_string()). A plain value: copy it, compare it, use it from any thread.
#ifndef WEFT_LOOP_SOCKET_ADDRESS_H_
#define WEFT_LOOP_SOCKET_ADDRESS_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace weft {

class SocketAddress {
 public:
  // An empty address (family() == AF_UNSPEC).
  SocketAddress() noexcept;
  // Copies `len` bytes of `sa`. Raises OSError(EINVAL) if len exceeds sockaddr_storage.
  SocketAddress(const sockaddr* sa, socklen_t len);

  // A numeric IPv4 or IPv6 address (with an optional %scope for link-local IPv6).
  static SocketAddress ip(std::string_view host, uint16_t port);
  // The wildcard address of `family` (AF_INET: 0.0.0.0, AF_INET6: ::).
  static SocketAddress any(int family, uint16_t port);
  static SocketAddress unix_path(std::string_view path);

  int family() const { return storage_.ss_family; }
  bool is_ip() const { return family() == AF_INET || family() == AF_INET6; }
  // The numeric host ("127.0.0.1", "::1") of an IP address; the path of a Unix one.
  std::string host() const;
  // The port of an IP address; 0 otherwise.
  uint16_t port() const;
  std::string to_string() const;

  const sockaddr* data() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* mutable_data() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t size() const { return len_; }
  // For the system calls that fill an address in (accept, recvfrom, getsockname).
  socklen_t* mutable_size() { return &len_; }
  static constexpr socklen_t capacity() { return sizeof(sockaddr_storage); }

  friend bool operator==(const SocketAddress& a, const SocketAddress& b);

 private:
  sockaddr_storage storage_;
  socklen_t len_;
};

}  // namespace weft

#endif  // WEFT_LOOP_SOCKET_ADDRESS_H_
