// StreamFd: the non-blocking file descriptor behind a stream, shared by its StreamReader
// (through FdReadSource) and its StreamWriter: both ends of a socket, or one end of a pipe.
// Internal: users meet it through open_fd_streams / open_read_pipe / open_write_pipe
// (loop/fd_streams.h).
//
// Closing. The writer closes the stream (StreamWriter::close after its buffer is flushed, or
// write_eof on a pipe). A socket is shut down both ways first, so a reader waiting for
// readiness on it wakes and sees end of file; the descriptor itself is closed at once if no
// reader waits on it, otherwise by that reader when it wakes, and in any case when the last
// owner lets go. Every use after close() sees fd() == -1.
//
// Owning loop only.
#ifndef WEFT_LOOP_STREAM_FD_H_
#define WEFT_LOOP_STREAM_FD_H_

#include <exception>
#include <string>

namespace weft::internal {

class StreamFd {
 public:
  // Adopts `fd` (closed on destruction) and makes it non-blocking and close-on-exec.
  // Raises OSError if fd is not an open descriptor.
  explicit StreamFd(int fd);
  ~StreamFd();
  StreamFd(const StreamFd&) = delete;
  StreamFd& operator=(const StreamFd&) = delete;

  // -1 once closed.
  int fd() const { return fd_; }
  bool is_socket() const { return is_socket_; }
  // "socket" or "pipe", for messages.
  const char* kind() const { return is_socket_ ? "socket" : "pipe"; }

  // Ends the write direction: shutdown(SHUT_WR) on a socket. (A pipe's write end ends by
  // being closed.)
  void shutdown_write();
  // See the file comment.
  void close();
  // Whether close() was called.
  bool close_requested() const { return close_requested_; }

  // A reader is waiting for readiness on the descriptor: close() must not close it under
  // the poller; the reader closes it when it wakes (finish_deferred_close).
  void begin_reader_wait() { ++reader_waits_; }
  void end_reader_wait();

 private:
  void close_now();

  int fd_;
  bool is_socket_ = false;
  bool close_requested_ = false;
  int reader_waits_ = 0;
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
