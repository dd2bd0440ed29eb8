// Server and create_server: accept TCP or Unix connections and run a handler task per
// connection, on every loop of a Runtime (asyncio's loop.create_server / asyncio.Server).
//
//   weft::Coro<void> echo(weft::Socket conn) {
//     char buf[4096];
//     while (size_t n = co_await conn.recv_into(buf)) co_await conn.sendall({buf, n});
//   }
//   weft::Server server = co_await weft::create_server(echo, "127.0.0.1", 0);
//   uint16_t port = server.sockets()[0].port();
//   co_await server.serve_forever();      // until close(), or the task is cancelled
//
// Across loops. Inside a Runtime (weft::run(main, {.threads = N})), the default
// (AcceptMode::kListenerPerLoop) gives every loop its own listening socket on the same
// address with SO_REUSEPORT; the kernel spreads incoming connections over them, and each
// connection is handled by a task pinned to the loop that accepted it. AcceptMode::kOneAcceptor
// accepts on the calling loop only and hands connections to the loops in turn (measured
// against each other: bench/w8_http.sh, docs/ARCHITECTURE.md "I/O"). On a plain loop there is
// one listener.
//
// Handler. Called on the accepting loop with the connected Socket (non-blocking, owned by the
// handler). Its exceptions (other than CancelledError) go to that loop's exception handler;
// the server keeps serving. One handler object is shared by every loop, possibly called on
// several at once: keep it free of unsynchronised state.
//
// Out of descriptors. When accept fails with EMFILE/ENFILE/ENOBUFS/ENOMEM, the error is
// reported once per episode through the loop's exception handler and that loop stops
// accepting for accept_retry_delay (asyncio: 1 s), then tries again: no busy loop. Pending
// connections wait in the kernel's backlog meanwhile.
//
// Closing. close() stops accepting on every loop (the listeners close on their own loops
// soon after; new connections are refused); connections being handled go on.
// close_clients() cancels their handler tasks (asyncio 3.13's Server.close_clients). wait_closed()
// returns once the listeners are closed and every handler task has finished.
//
// Thread-safety: the Server is a handle to shared state; its methods may be called from any
// loop of the Runtime, and copies are fine. create_server must be awaited on a loop.
#ifndef WEFT_SCHEDULER_SERVER_H_
#define WEFT_SCHEDULER_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loop/clock.h"
#include "loop/coro.h"
#include "loop/socket.h"
#include "loop/socket_address.h"

namespace weft {

using ConnectionHandler = std::function<Coro<void>(Socket)>;

enum class AcceptMode {
  kListenerPerLoop,  // SO_REUSEPORT listener on every loop
  kOneAcceptor,      // one listener; connections handed to the loops round-robin
};

struct ServerOptions {
  int backlog = 1024;
  AcceptMode mode = AcceptMode::kListenerPerLoop;
  // How long a loop stops accepting after EMFILE and friends.
  Duration accept_retry_delay = std::chrono::seconds(1);
  // TCP_NODELAY on accepted TCP connections (asyncio sets it on every TCP transport).
  bool nodelay = true;
};

namespace internal {
struct ServerState;
}

class Server {
 public:
  Server() = default;

  // The bound addresses, one per listening address (not per loop).
  std::vector<SocketAddress> sockets() const;
  bool is_serving() const;
  // See the file comment. Idempotent. Any loop.
  void close();
  // Cancels every handler task still running. Any loop.
  void close_clients();
  [[nodiscard]] Coro<void> wait_closed();
  // Waits until close() (then waits for wait_closed()); cancelling the awaiting task closes
  // the server first (asyncio's serve_forever).
  [[nodiscard]] Coro<void> serve_forever();
  // Connections accepted so far, summed over loops (for tests and statistics).
  uint64_t connections_accepted() const;

 private:
  friend Coro<Server> create_server(ConnectionHandler, std::string, uint16_t, ServerOptions);
  friend Coro<Server> create_unix_server(ConnectionHandler, std::string, ServerOptions);
  explicit Server(std::shared_ptr<internal::ServerState> state) : state_(std::move(state)) {}
  std::shared_ptr<internal::ServerState> state_;
};

// Listens on every address `host` resolves to (AI_PASSIVE; "" means every interface), port 0
// meaning one the kernel picks. Raises OSError (EADDRINUSE...) or GaiError.
[[nodiscard]] Coro<Server> create_server(ConnectionHandler handler, std::string host, uint16_t port,
                                         ServerOptions options = {});
// A Unix stream socket at `path` (an existing socket file there is replaced, as asyncio does).
[[nodiscard]] Coro<Server> create_unix_server(ConnectionHandler handler, std::string path,
                                              ServerOptions options = {});

}  // namespace weft

#endif  // WEFT_SCHEDULER_SERVER_H_
