// Socket: a non-blocking socket owned by value, with awaitable operations (asyncio's
// loop.sock_* methods on a socket object).
//
//   weft::Socket s(AF_INET, SOCK_STREAM);
//   co_await s.connect(weft::SocketAddress::ip("127.0.0.1", port));
//   co_await s.sendall("ping");
//   std::string reply = co_await s.recv(4096);   // "" at end of stream
//
//   weft::Socket listener(AF_INET6, SOCK_STREAM);
//   listener.set_reuse_address();
//   listener.bind(weft::SocketAddress::any(AF_INET6, 0));   // port 0: the kernel picks one
//   listener.listen();
//   auto [conn, peer] = co_await listener.accept();
//
// Every operation tries its system call first and waits for readiness (FdWatch, registered
// once with the loop that first waits) only when the call would block, so a socket with data
// waiting costs one system call and no suspension. One exception, as Tokio does: after a
// stream socket's recv returned less than asked (the kernel's queue was empty then), the
// next recv waits for readability first instead of meeting EAGAIN (one system call less per
// request-response round; any data that came since has raised an edge, so nothing is missed;
// once an edge reported the peer's FIN or an error, it never waits first, since that edge
// does not repeat). Failures raise OSError subclasses named as
// Python names them (os_error.h): ConnectionResetError, BrokenPipeError (send never raises
// SIGPIPE), ConnectionRefusedError... Cancelling a task suspended in an operation stops the
// wait at once; what was transferred before is not undone (sendall may have sent part).
//
// Ownership and threads. A Socket owns its descriptor: the destructor and close() unregister
// it from its loop and close it. Movable, not copyable; do not move a Socket while a task
// waits on it. The awaitable operations run in tasks of ONE loop (the loop of the first wait;
// RuntimeError from another); close() and destruction belong on that loop's thread too. At
// most one task may wait to read and one to write at a time (a reader and a writer in two
// tasks at once is fine). The synchronous helpers (bind, listen, setsockopt, ...) may be
// called from any thread that owns the Socket.
#ifndef WEFT_LOOP_SOCKET_H_
#define WEFT_LOOP_SOCKET_H_

#include <sys/socket.h>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "loop/coro.h"
#include "loop/fd_watch.h"
#include "loop/socket_address.h"

namespace weft {

class Socket;

namespace internal {

// What `co_await socket.readable()` is: ready at once unless the last receive found the
// socket's queue empty, else a wait for the next readiness edge. Lives in the awaiting frame.
class SocketReadable {
 public:
  SocketReadable(FdWatch& watch, bool& drained)
      : wait_(watch.readable()), watch_(&watch), drained_(&drained) {}

  bool await_ready() noexcept {
    if (!*drained_) return true;
    // The peer's FIN or an error was reported: that edge does not repeat, receive at once.
    if (watch_->hung_up()) {
      *drained_ = false;
      return true;
    }
    return false;
  }
  bool await_suspend(TaskBase& task) {
    // Cleared before waiting: a wait that ends in cancellation must not leave the next one
    // waiting for an edge that was already consumed.
    *drained_ = false;
    return wait_.await_suspend(task);
  }
  void await_resume() const { wait_.await_resume(); }

 private:
  FdWaitAwaiter wait_;
  FdWatch* watch_;
  bool* drained_;
};

}  // namespace internal

class Socket {
 public:
  // An empty socket (is_open() false).
  Socket() noexcept = default;
  // socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol). Raises OSError.
  Socket(int family, int type, int protocol = 0);
  // Takes ownership of `fd` and makes it non-blocking. Raises OSError(EBADF) for fd < 0.
  static Socket adopt(int fd);

  Socket(Socket&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)),
        watch_(std::move(other.watch_)),
        stream_(other.stream_),
        read_drained_(std::exchange(other.read_drained_, false)) {}
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { close(); }

  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  // Unregisters from the loop and closes; a task waiting on the socket gets OSError(EBADF).
  // Idempotent.
  void close() noexcept;
  // Unregisters and gives up ownership of the descriptor (Python's socket.detach()).
  int detach() noexcept;

  // --- Synchronous helpers (raise OSError). ---
  int family() const;
  int type() const;
  void bind(const SocketAddress& address);
  void listen(int backlog = 1024);
  void setsockopt(int level, int option, int value);
  int getsockopt(int level, int option) const;
  void set_reuse_address(bool on = true) { setsockopt(SOL_SOCKET, SO_REUSEADDR, on); }
  void set_reuse_port(bool on = true) { setsockopt(SOL_SOCKET, SO_REUSEPORT, on); }
  // TCP_NODELAY (TCP sockets only).
  void set_nodelay(bool on = true);
  SocketAddress getsockname() const;
  SocketAddress getpeername() const;
  // SHUT_RD, SHUT_WR (half-close: the peer reads end of stream), SHUT_RDWR.
  void shutdown(int how);

  // --- Awaitable operations (inside a task). ---
  // Connects; ConnectionRefusedError, OSError(ETIMEDOUT/ENETUNREACH/...) on failure. Wrap in
  // wait_for() for a deadline of your own.
  [[nodiscard]] Coro<void> connect(SocketAddress address);
  // Accepts one connection (non-blocking, close-on-exec) and its peer's address. Raises
  // OSError(EMFILE/ENFILE) when out of descriptors: the caller decides how to back off.
  [[nodiscard]] Coro<std::pair<Socket, SocketAddress>> accept();
  // Receives at least one byte and at most buf.size(); 0 means end of stream (or an empty
  // datagram).
  [[nodiscard]] Coro<size_t> recv_into(std::span<char> buf);
  // Receives up to `max_bytes`; "" at end of stream.
  [[nodiscard]] Coro<std::string> recv(size_t max_bytes);
  // Sends what the kernel takes now (at least one byte, waiting for room if needed).
  [[nodiscard]] Coro<size_t> send(std::string_view data);
  // Sends all of `data`; `data` must stay valid until the returned Coro completes.
  [[nodiscard]] Coro<void> sendall(std::string_view data);
  // Datagrams.
  [[nodiscard]] Coro<std::pair<size_t, SocketAddress>> recvfrom_into(std::span<char> buf);
  [[nodiscard]] Coro<std::pair<std::string, SocketAddress>> recvfrom(size_t max_bytes);
  [[nodiscard]] Coro<size_t> sendto(std::string_view data, SocketAddress address);

  // --- Readiness and non-waiting operations (Tokio's readable() / try_read / try_write). ---
  // For a hot path that receives and answers without an awaitable call (a coroutine frame)
  // per operation:
  //   for (;;) {
  //     co_await sock.readable();
  //     if (std::optional<size_t> n = sock.try_recv_into(buf)) return *n;  // 0: end of stream
  //   }
  // readable() returns at once unless the last receive found nothing waiting (a would-block,
  // or a stream's short read, as recv_into does); then it waits for the next readiness edge
  // (inside a task; OSError(EBADF) if the socket is closed meanwhile). A wake-up can be
  // spurious: try_recv_into then reports would-block again and the loop waits again.
  [[nodiscard]] internal::SocketReadable readable() {
    return internal::SocketReadable(watch_, read_drained_);
  }
  // One recv(): at least one byte and at most buf.size(), 0 at end of stream, or nullopt if
  // nothing is waiting. Raises OSError as recv_into does; never waits.
  std::optional<size_t> try_recv_into(std::span<char> buf);
  // One send() of what the kernel takes now: the bytes sent, or nullopt if it would block
  // (nothing was sent); raises OSError as send() does (BrokenPipeError, never SIGPIPE).
  // Tokio's try_write: a writer that usually has room (a response after a request) sends
  // at once without the frame of an awaitable call, and awaits sendall() for the rest:
  //   size_t sent = sock.try_send(reply).value_or(0);
  //   if (sent < reply.size()) co_await sock.sendall(std::string_view(reply).substr(sent));
  std::optional<size_t> try_send(std::string_view data);

  // Readiness of the descriptor, for code that makes its own system calls (streams).
  FdWatch& watch() { return watch_; }

 private:
  Socket(int fd, bool stream) noexcept : fd_(fd), watch_(fd), stream_(stream) {}
  // Inline: every operation starts with it, and the closed case is cold.
  // One recv(): the bytes, or nullopt if it would block. Notes a short read in
  // read_drained_ (and leaves a would-block's to the caller).
  std::optional<size_t> recv_once(std::span<char> buf);
  void check_open(const char* what) const {
    if (fd_ < 0) [[unlikely]] throw_closed(what);
  }
  [[noreturn]] static void throw_closed(const char* what);

  int fd_ = -1;
  FdWatch watch_;
  bool stream_ = false;        // SOCK_STREAM: a short read means the queue was drained
  bool read_drained_ = false;  // the last recv was short: wait before the next one
};

}  // namespace weft

#endif  // WEFT_LOOP_SOCKET_H_
