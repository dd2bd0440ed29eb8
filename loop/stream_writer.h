// StreamWriter: buffered, flow-controlled writing to a pipe or a socket (asyncio.StreamWriter).
//
//   writer.write("HTTP/1.1 200 OK\r\n");
//   writer.writelines({header, "\r\n", body});   // one writev, no copy if nothing is queued
//   co_await writer.drain();                      // waits while more than 64 KiB are queued
//   writer.close();
//   co_await writer.wait_closed();
//
// write() tries the descriptor at once; what the kernel does not take is queued and flushed
// in the background as the descriptor becomes writable (a small task, started only while
// something is queued, that waits on the descriptor's FdWatch), whether or not anyone calls
// drain(). write(std::string&&) queues the string itself rather than a copy,
// and writelines() hands every part to one writev/sendmsg call when nothing is queued.
//
// Flow control (asyncio's): once more than the high-water mark (64 KiB) is queued, drain()
// waits until the queue is down to the low-water mark (16 KiB); below the high mark it
// returns at once. set_write_buffer_limits() changes the marks.
//
// Failures. EPIPE, ECONNRESET and every other write error (a peer that closed mid-write, a
// pipe whose reader exited) become an OSError subclass (loop/os_error.h: BrokenPipeError,
// ConnectionResetError, ...) whose message names the descriptor: the queue is dropped, the
// stream is closed, and the error is raised by the write() that met it (or, if the
// background flush met it, by the next write() or drain()), by every later write() and
// drain(), and by wait_closed(). SIGPIPE never fires: sockets are written with MSG_NOSIGNAL,
// and SIGPIPE is ignored once a pipe stream exists (loop/stream_fd.h).
//
// Ending. write_eof() ends the write direction after the queue is flushed: shutdown(SHUT_WR)
// on a socket (the peer reads end of file, and can still answer), close on a pipe. close()
// closes the stream once the queue is flushed; wait_closed() waits for that. A write() after
// either raises RuntimeError. Destroying the writer drops whatever is still queued.
//
// Thread-safety: owning loop only (the loop running when it was created). The writer must
// outlive the drain() and wait_closed() calls in flight on it.
#ifndef WEFT_LOOP_STREAM_WRITER_H_
#define WEFT_LOOP_STREAM_WRITER_H_

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <deque>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loop/coro.h"
#include "loop/future.h"
#include "loop/stream_fd.h"
#include "loop/task.h"

namespace weft {

class EventLoop;

class StreamWriter {
 public:
  static constexpr size_t kDefaultHighWater = 64 * 1024;
  static constexpr size_t kDefaultLowWater = 16 * 1024;

  // Writes to `fd` (see loop/fd_streams.h for the public ways to make one). Must be created
  // on a running loop (RuntimeError otherwise).
  explicit StreamWriter(std::shared_ptr<internal::StreamFd> fd);
  StreamWriter(const StreamWriter&) = delete;
  StreamWriter& operator=(const StreamWriter&) = delete;
  ~StreamWriter();

  void write(std::string_view data);
  void write(std::string&& data);
  void write(const char* data) { write(std::string_view(data)); }
  void writelines(std::span<const std::string_view> parts);
  void writelines(std::initializer_list<std::string_view> parts) {
    writelines(std::span<const std::string_view>(parts.begin(), parts.size()));
  }
  void writelines(const std::vector<std::string>& parts);

  // Waits while the queue is above the high-water mark, until it is at the low one. Raises
  // the stream's error, or ConnectionResetError if the stream was closed.
  Coro<void> drain();

  // See the file comment. can_write_eof() is true for sockets and pipes.
  void write_eof();
  bool can_write_eof() const { return true; }
  void close();
  bool is_closing() const { return closing_; }
  // Completes once the stream is closed; raises the error that closed it, if any.
  Coro<void> wait_closed();

  // high must be >= low. low defaults to high / 4 (asyncio's rule).
  void set_write_buffer_limits(size_t high, std::optional<size_t> low = std::nullopt);
  // Bytes queued and not yet taken by the kernel.
  size_t get_write_buffer_size() const { return queued_; }
  // The descriptor (asyncio's get_extra_info("socket") / ("pipe")), -1 once closed: for
  // getpeername / getsockname and socket options.
  int fileno() const { return fd_->fd(); }
  bool is_socket() const { return fd_->is_socket(); }
  EventLoop& get_loop() const { return *loop_; }

 private:
  // Writes `parts` (already not queued) directly; returns how many bytes the kernel took,
  // or -1 after a fatal error.
  ssize_t write_now(const iovec* iov, int n);
  void check_writable(const char* what) const;
  void queue(std::string_view data);
  void queue(std::string&& data);
  void after_queue();
  void on_writable();
  void flush_finished();
  void fail(int err, const char* what);
  void finish_close();
  void wake_drainers();
  void stop_flusher();
  // The background flush: waits for room, writes, until the queue is empty or the stream
  // closed. Holds `fd` so that a cancelled wait never touches a destroyed watch.
  Coro<void> flush_loop(std::shared_ptr<internal::StreamFd> fd);

  EventLoop* loop_;
  std::shared_ptr<internal::StreamFd> fd_;
  std::deque<std::string> chunks_;
  size_t front_offset_ = 0;  // bytes of chunks_.front() already written
  size_t queued_ = 0;
  size_t high_ = kDefaultHighWater;
  size_t low_ = kDefaultLowWater;
  std::exception_ptr error_;
  std::vector<Future<void>> drain_waiters_;
  std::vector<Future<void>> close_waiters_;
  Task<void> flusher_;     // the background flush, while one runs
  bool paused_ = false;    // above the high-water mark
  bool closing_ = false;
  bool closed_ = false;
  bool eof_requested_ = false;
  bool eof_done_ = false;
};

}  // namespace weft

#endif  // WEFT_LOOP_STREAM_WRITER_H_
