// Streams over TCP and Unix connections (asyncio.open_connection / start_server /
// open_unix_connection / start_unix_server).
//
//   weft::StreamPair conn = co_await weft::open_connection("localhost", 8080);
//   conn.writer->write("ping\n");
//   std::string reply = co_await conn.reader->readline();
//
//   weft::Coro<void> on_client(weft::StreamReader& reader, weft::StreamWriter& writer) {
//     while (true) {
//       std::string line = co_await reader.readline();
//       if (line.empty()) co_return;            // end of file
//       writer.write(line);
//       co_await writer.drain();
//     }
//   }
//   weft::Server server = co_await weft::start_server(on_client, "127.0.0.1", 0);
//
// The streams are io-proc's StreamReader / StreamWriter (loop/stream_reader.h,
// loop/stream_writer.h) over the connected socket; servers are create_server's
// (scheduler/server.h): on a Runtime every loop accepts, and a connection's handler and
// streams live on the loop that accepted it.
//
// Handler lifetime. The reader and writer are valid until the handler's Coro finishes. Then
// the writer is closed after flushing what is still queued (an error while flushing, e.g.
// the client went away, is dropped: nobody is left to receive it); if the handler raised
// or was cancelled (Server::close_clients), the connection is closed at once instead.
//
// Thread-safety: await inside a task; the streams belong to the loop that created them.
#ifndef WEFT_SCHEDULER_OPEN_CONNECTION_H_
#define WEFT_SCHEDULER_OPEN_CONNECTION_H_

#include <cstdint>
#include <functional>
#include <string>

#include "loop/coro.h"
#include "loop/fd_streams.h"
#include "loop/stream_reader.h"
#include "loop/stream_writer.h"
#include "scheduler/resolver.h"
#include "scheduler/server.h"

namespace weft {

using StreamHandler = std::function<Coro<void>(StreamReader&, StreamWriter&)>;

// Connects to an address of `host` (create_connection: in turn, or raced with
// options.happy_eyeballs_delay, scheduler/resolver.h) and wraps the socket.
[[nodiscard]] Coro<StreamPair> open_connection(std::string host, uint16_t port,
                                               size_t limit = StreamReader::kDefaultLimit,
                                               ConnectOptions options = {});
[[nodiscard]] Coro<StreamPair> open_unix_connection(std::string path,
                                                    size_t limit = StreamReader::kDefaultLimit);

[[nodiscard]] Coro<Server> start_server(StreamHandler handler, std::string host, uint16_t port,
                                        ServerOptions options = {},
                                        size_t limit = StreamReader::kDefaultLimit);
[[nodiscard]] Coro<Server> start_unix_server(StreamHandler handler, std::string path,
                                             ServerOptions options = {},
                                             size_t limit = StreamReader::kDefaultLimit);

}  // namespace weft

#endif  // WEFT_SCHEDULER_OPEN_CONNECTION_H_
