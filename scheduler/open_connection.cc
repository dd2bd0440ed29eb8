#include "scheduler/open_connection.h"

#include <sys/socket.h>

#include <memory>
#include <utility>

#include "loop/os_error.h"
#include "loop/socket.h"
#include "scheduler/resolver.h"

namespace weft {
namespace {

Coro<void> serve_streams(std::shared_ptr<StreamHandler> handler, size_t limit, Socket conn) {
  StreamPair streams = open_fd_streams(conn.detach(), limit);
  co_await (*handler)(*streams.reader, *streams.writer);
  // Flush what the handler left queued, then close (see the header).
  if (!streams.writer->is_closing()) streams.writer->close();
  try {
    co_await streams.writer->wait_closed();
  } catch (const OSError&) {
  }
}

ConnectionHandler wrap(StreamHandler handler, size_t limit) {
  if (!handler) throw RuntimeError("start_server: the client_connected handler is empty");
  auto shared = std::make_shared<StreamHandler>(std::move(handler));
  return [shared, limit](Socket conn) { return serve_streams(shared, limit, std::move(conn)); };
}

}  // namespace

Coro<StreamPair> open_connection(std::string host, uint16_t port, size_t limit,
                                 ConnectOptions options) {
  Coro<Socket> connecting = create_connection(host, port, options);
  Socket s = co_await std::move(connecting);
  if (s.family() != AF_UNIX) s.set_nodelay();
  co_return open_fd_streams(s.detach(), limit);
}

Coro<StreamPair> open_unix_connection(std::string path, size_t limit) {
  Socket s(AF_UNIX, SOCK_STREAM);
  co_await s.connect(SocketAddress::unix_path(path));
  co_return open_fd_streams(s.detach(), limit);
}

Coro<Server> start_server(StreamHandler handler, std::string host, uint16_t port,
                          ServerOptions options, size_t limit) {
  co_return co_await create_server(wrap(std::move(handler), limit), host, port, options);
}

Coro<Server> start_unix_server(StreamHandler handler, std::string path, ServerOptions options,
                               size_t limit) {
  co_return co_await create_unix_server(wrap(std::move(handler), limit), path, options);
}

}  // namespace weft
