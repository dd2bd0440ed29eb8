// StreamFd: the non-blocking file descriptor behind a stream, shared by its StreamReader
// (through FdReadSource) and its StreamWriter: both directions of a socket, or one end of a
// pipe. It owns the descriptor and the FdWatch (loop/fd_watch.h) through which the reader
// waits for input and the writer's background flush waits for room. Internal: users meet it
// through open_fd_streams / open_read_pipe / open_write_pipe (loop/fd_streams.h).
//
// Closing. The writer closes the stream (StreamWriter::close once its queue is flushed, or
// write_eof on a pipe); the descriptor is also closed when the last owner lets go. close()
// resets the watch first, so a reader waiting on the descriptor wakes (FdReadSource then
// reports end of file) and the number is never confused with a later descriptor. After
// close(), fd() is -1.
//
// Owning loop only.
#ifndef WEFT_LOOP_STREAM_FD_H_
#define WEFT_LOOP_STREAM_FD_H_

#include <sys/types.h>

#include <exception>
#include <memory>
#include <string>

#include "loop/coro.h"
#include "loop/fd_watch.h"
#include "loop/stream_reader.h"

namespace weft::internal {

class StreamFd {
 public:
  // Adopts `fd` (closed on destruction) and makes it non-blocking and close-on-exec.
  // Raises OSError if fd is not an open descriptor.
  explicit StreamFd(int fd);
  ~StreamFd() { close(); }
  StreamFd(const StreamFd&) = delete;
  StreamFd& operator=(const StreamFd&) = delete;

  // -1 once closed.
  int fd() const { return fd_; }
  bool is_socket() const { return is_socket_; }
  // "socket" or "pipe", for messages.
  const char* kind() const { return is_socket_ ? "socket" : "pipe"; }
  FdWatch& watch() { return watch_; }

  // Ends the write direction of a socket: shutdown(SHUT_WR). (A pipe's write end ends by
  // being closed.)
  void shutdown_write();
  // See the file comment. Idempotent.
  void close();
  bool closed() const { return fd_ < 0; }

 private:
  int fd_;
  bool is_socket_ = false;
  FdWatch watch_;
};

// A pulling StreamReader's source: reads the descriptor, waits on its watch.
class FdReadSource final : public ReadSource {
 public:
  explicit FdReadSource(std::shared_ptr<StreamFd> fd) : fd_(std::move(fd)) {}
  // 0 (end of file) once the stream was closed.
  ssize_t read_some(char* dst, size_t max) override;
  Coro<void> wait_readable() override;

 private:
  std::shared_ptr<StreamFd> fd_;
};

// Ignores SIGPIPE for the process if its disposition is the default (once), as CPython does
// at start-up: a write to a pipe whose reader is gone then fails with EPIPE, which the
// writer turns into BrokenPipeError, instead of killing the process. A handler the program
// installed itself is left alone. Children started by create_subprocess_exec get the
// default disposition back.
void ignore_sigpipe_once();

// The exception raise_os_error (loop/os_error.h) would throw, to store and raise later.
std::exception_ptr os_error_ptr(int errno_value, const std::string& what);

}  // namespace weft::internal

#endif  // WEFT_LOOP_STREAM_FD_H_
