// Streams over file descriptors: pipes and connected sockets (asyncio's connect_read_pipe /
// connect_write_pipe, and what open_connection / start_server build on).
//
//   int fds[2]; pipe2(fds, O_CLOEXEC);
//   std::unique_ptr<weft::StreamWriter> out = weft::open_write_pipe(fds[1]);
//   std::unique_ptr<weft::StreamReader> in = weft::open_read_pipe(fds[0]);
//
//   weft::StreamPair conn = weft::open_fd_streams(connected_socket_fd);
//   std::string line = co_await conn.reader->readline();
//   conn.writer->write(line);
//
// Each function adopts the descriptor (it is closed with the stream), makes it non-blocking
// and close-on-exec, and must be called on the loop that will use the streams.
#ifndef WEFT_LOOP_FD_STREAMS_H_
#define WEFT_LOOP_FD_STREAMS_H_

#include <cstddef>
#include <memory>

#include "loop/stream_reader.h"
#include "loop/stream_writer.h"

namespace weft {

// The two halves of a connected socket (or any bidirectional descriptor). Both share the
// descriptor: it is closed by writer->close() (the reader then sees end of file) or when
// both are destroyed.
struct StreamPair {
  std::unique_ptr<StreamReader> reader;
  std::unique_ptr<StreamWriter> writer;
};
StreamPair open_fd_streams(int fd, size_t limit = StreamReader::kDefaultLimit);

// The read end of a pipe as a (pulling) StreamReader.
std::unique_ptr<StreamReader> open_read_pipe(int fd, size_t limit = StreamReader::kDefaultLimit);
// The write end of a pipe as a StreamWriter.
std::unique_ptr<StreamWriter> open_write_pipe(int fd);

}  // namespace weft

#endif  // WEFT_LOOP_FD_STREAMS_H_
