#include "loop/socket.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "loop/nocancel_syscalls.h"
#include "loop/os_error.h"

namespace weft {
namespace {

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// Out of line and cold: building the message's std::string inline would give every
// try_recv_into / try_send a stack protector and a larger frame.
[[noreturn, gnu::cold, gnu::noinline]] void raise_socket_error(int err, const char* what) {
  raise_os_error(err, what);
}

}  // namespace

Socket::Socket(int family, int type, int protocol) {
  int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) raise_os_error(errno, "socket");
  fd_ = fd;
  watch_ = FdWatch(fd);
  stream_ = (type & 0xf) == SOCK_STREAM;
}

Socket Socket::adopt(int fd) {
  if (fd < 0) throw OSError(EBADF, "Socket::adopt: invalid descriptor " + std::to_string(fd));
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    raise_os_error(errno, "Socket::adopt: fcntl(O_NONBLOCK)");
  }
  int type = 0;
  socklen_t len = sizeof type;
  bool stream = ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
  return Socket(fd, stream);
}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    watch_ = std::move(other.watch_);
    stream_ = other.stream_;
    read_drained_ = std::exchange(other.read_drained_, false);
  }
  return *this;
}

void Socket::close() noexcept {
  if (fd_ < 0) return;
  watch_.reset();
  ::close(fd_);
  fd_ = -1;
}

int Socket::detach() noexcept {
  watch_.reset();
  return std::exchange(fd_, -1);
}

void Socket::throw_closed(const char* what) {
  throw OSError(EBADF, std::string("Socket::") + what + " on a closed socket");
}

int Socket::family() const { return getsockopt(SOL_SOCKET, SO_DOMAIN); }
int Socket::type() const { return getsockopt(SOL_SOCKET, SO_TYPE); }

void Socket::bind(const SocketAddress& address) {
  check_open("bind");
  if (::bind(fd_, address.data(), address.size()) < 0) {
    raise_os_error(errno, "bind(" + address.to_string() + ")");
  }
}

void Socket::listen(int backlog) {
  check_open("listen");
  if (::listen(fd_, backlog) < 0) raise_os_error(errno, "listen");
}

void Socket::setsockopt(int level, int option, int value) {
  check_open("setsockopt");
  if (::setsockopt(fd_, level, option, &value, sizeof value) < 0) {
    raise_os_error(errno, "setsockopt(" + std::to_string(level) + ", " + std::to_string(option) + ")");
  }
}

int Socket::getsockopt(int level, int option) const {
  check_open("getsockopt");
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(fd_, level, option, &value, &len) < 0) {
    raise_os_error(errno, "getsockopt(" + std::to_string(level) + ", " + std::to_string(option) + ")");
  }
  return value;
}

void Socket::set_nodelay(bool on) { setsockopt(IPPROTO_TCP, TCP_NODELAY, on); }

SocketAddress Socket::getsockname() const {
  check_open("getsockname");
  SocketAddress out;
  *out.mutable_size() = SocketAddress::capacity();
  if (::getsockname(fd_, out.mutable_data(), out.mutable_size()) < 0) {
    raise_os_error(errno, "getsockname");
  }
  return out;
}

SocketAddress Socket::getpeername() const {
  check_open("getpeername");
  SocketAddress out;
  *out.mutable_size() = SocketAddress::capacity();
  if (::getpeername(fd_, out.mutable_data(), out.mutable_size()) < 0) {
    raise_os_error(errno, "getpeername");
  }
  return out;
}

void Socket::shutdown(int how) {
  check_open("shutdown");
  if (::shutdown(fd_, how) < 0) raise_os_error(errno, "shutdown");
}

Coro<void> Socket::connect(SocketAddress address) {
  check_open("connect");
  if (::connect(fd_, address.data(), address.size()) == 0) co_return;
  int err = errno;
  if (err == EAGAIN && address.family() == AF_UNIX) {
    // A Unix listener's backlog is full: nothing is in progress; retry when there is room.
    for (;;) {
      co_await watch_.writable();
      if (::connect(fd_, address.data(), address.size()) == 0) co_return;
      err = errno;
      if (err != EAGAIN) break;
    }
  }
  if (err != EINPROGRESS && err != EINTR) raise_os_error(err, "connect(" + address.to_string() + ")");
  // In progress: writable once it completes either way; SO_ERROR says how.
  for (;;) {
    co_await watch_.writable();
    int so_error = getsockopt(SOL_SOCKET, SO_ERROR);
    if (so_error == 0) {
      // A wake-up remembered from before can be early: connected only if there is a peer.
      sockaddr_storage peer;
      socklen_t len = sizeof peer;
      if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &len) == 0) co_return;
      if (errno != ENOTCONN) raise_os_error(errno, "connect(" + address.to_string() + ")");
      continue;
    }
    raise_os_error(so_error, "connect(" + address.to_string() + ")");
  }
}

Coro<std::pair<Socket, SocketAddress>> Socket::accept() {
  check_open("accept");
  for (;;) {
    SocketAddress peer;
    *peer.mutable_size() = SocketAddress::capacity();
    int fd = ::accept4(fd_, peer.mutable_data(), peer.mutable_size(), SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) co_return std::pair<Socket, SocketAddress>(Socket(fd, stream_), peer);
    int err = errno;
    if (would_block(err)) {
      co_await watch_.readable();
      continue;
    }
    // The connection died in the backlog: take the next one (as asyncio and Tokio do).
    if (err == ECONNABORTED || err == EINTR || err == EPROTO) continue;
    raise_os_error(err, "accept");
  }
}

std::optional<size_t> Socket::recv_once(std::span<char> buf) {
  for (;;) {
    ssize_t n = internal::nocancel_recv(fd_, buf.data(), buf.size(), 0);
    if (n >= 0) {
      read_drained_ = stream_ && n > 0 && static_cast<size_t>(n) < buf.size();
      return static_cast<size_t>(n);
    }
    int err = errno;
    if (would_block(err)) return std::nullopt;
    if (err != EINTR) raise_socket_error(err, "recv");
  }
}

Coro<size_t> Socket::recv_into(std::span<char> buf) {
  check_open("recv_into");
  if (read_drained_) {
    read_drained_ = false;
    // A short read may also have consumed the FIN (or met the error) whose edge came
    // before it: then no edge is coming, and the recv below reports end of stream.
    if (!watch_.hung_up()) co_await watch_.readable();
  }
  for (;;) {
    if (std::optional<size_t> n = recv_once(buf)) co_return *n;
    co_await watch_.readable();
  }
}

std::optional<size_t> Socket::try_recv_into(std::span<char> buf) {
  check_open("try_recv_into");
  std::optional<size_t> n = recv_once(buf);
  if (!n) read_drained_ = true;  // the next readable() waits for an edge
  return n;
}

Coro<std::string> Socket::recv(size_t max_bytes) {
  std::string out(max_bytes, '\0');
  size_t n = co_await recv_into(std::span<char>(out.data(), out.size()));
  out.resize(n);
  co_return out;
}

Coro<size_t> Socket::send(std::string_view data) {
  check_open("send");
  for (;;) {
    ssize_t n = internal::nocancel_send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) co_return static_cast<size_t>(n);
    int err = errno;
    if (would_block(err)) {
      co_await watch_.writable();
    } else if (err != EINTR) {
      raise_os_error(err, "send");
    }
  }
}

std::optional<size_t> Socket::try_send(std::string_view data) {
  check_open("try_send");
  for (;;) {
    ssize_t n = internal::nocancel_send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    int err = errno;
    if (would_block(err)) return std::nullopt;
    if (err != EINTR) raise_socket_error(err, "send");
  }
}

Coro<void> Socket::sendall(std::string_view data) {
  check_open("sendall");
  while (!data.empty()) {
    ssize_t n = internal::nocancel_send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    int err = errno;
    if (would_block(err)) {
      co_await watch_.writable();
    } else if (err != EINTR) {
      raise_os_error(err, "sendall");
    }
  }
}

Coro<std::pair<size_t, SocketAddress>> Socket::recvfrom_into(std::span<char> buf) {
  check_open("recvfrom_into");
  for (;;) {
    SocketAddress from;
    *from.mutable_size() = SocketAddress::capacity();
    ssize_t n = internal::nocancel_recvfrom(fd_, buf.data(), buf.size(), 0, from.mutable_data(),
                                            from.mutable_size());
    if (n >= 0) co_return std::pair<size_t, SocketAddress>(static_cast<size_t>(n), from);
    int err = errno;
    if (would_block(err)) {
      co_await watch_.readable();
    } else if (err != EINTR) {
      raise_os_error(err, "recvfrom");
    }
  }
}

Coro<std::pair<std::string, SocketAddress>> Socket::recvfrom(size_t max_bytes) {
  std::string out(max_bytes, '\0');
  auto [n, from] = co_await recvfrom_into(std::span<char>(out.data(), out.size()));
  out.resize(n);
  co_return std::pair<std::string, SocketAddress>(std::move(out), from);
}

Coro<size_t> Socket::sendto(std::string_view data, SocketAddress address) {
  check_open("sendto");
  for (;;) {
    ssize_t n = internal::nocancel_sendto(fd_, data.data(), data.size(), MSG_NOSIGNAL,
                                          address.data(), address.size());
    if (n >= 0) co_return static_cast<size_t>(n);
    int err = errno;
    if (would_block(err)) {
      co_await watch_.writable();
    } else if (err != EINTR) {
      raise_os_error(err, "sendto(" + address.to_string() + ")");
    }
  }
}

}  // namespace weft
