// StreamReader: buffered reading from a byte stream (asyncio.StreamReader).
//
//   std::string line = co_await reader.readline();          // up to and including '\n'
//   std::string head = co_await reader.readuntil("\r\n\r\n");
//   std::string body = co_await reader.readexactly(length);
//   std::string rest = co_await reader.read();              // everything up to end of file
//
// Where the bytes come from. A reader either is *fed* (feed_data / feed_eof / set_exception,
// called by whoever produces the bytes: a protocol, a test, a parser), or *pulls* from a
// ReadSource, typically a non-blocking file descriptor (FdReadSource, loop/fd_stream.h: a
// pipe or a socket). The parsing core is the same for both and the fuzz test drives it with
// feed_data alone.
//
// Back-pressure. A pulling reader reads its source only when a caller is waiting for bytes
// that the buffer does not hold, at most read_chunk() bytes at a time: the buffer never holds
// more than limit() + read_chunk() bytes, and a slow reader leaves the rest in the kernel
// (whose full socket buffer then closes the peer's TCP window, or blocks the writer of a
// pipe). A fed reader does what asyncio's does: when the buffer grows above 2 * limit() it
// calls pause_reading() on its ReadFlowControl (if one is set), and resume_reading() once a
// read brings it back to limit() or below.
//
// Semantics are asyncio 3.12's (Lib/asyncio/streams.py), with these C++ spellings:
// - bytes are std::string; read(n) with n < 0 reads to end of file;
// - readexactly raises IncompleteReadError (partial bytes + expected size) at end of file;
// - readuntil raises LimitOverrunError (with consumed(), the bytes left in the buffer) when
//   the separator is not found within limit() bytes, or is found beyond it; the data stays
//   in the buffer, as in asyncio;
// - readline is readuntil("\n") except that at end of file it returns the partial line, and
//   on a limit overrun it discards the data up to and including the separator (or the whole
//   buffer if there is none) and raises LimitOverrunError (asyncio raises ValueError there).
// - set_exception(e): every later read raises e; a caller waiting on a fed reader is woken
//   with it. A read error from the source is stored the same way.
//
// Thread-safety: owning loop only (the loop whose tasks read it). One caller may wait for
// data at a time; a second concurrent read raises RuntimeError, as in asyncio. The reader
// must outlive the reads in flight on it.
#ifndef WEFT_LOOP_STREAM_READER_H_
#define WEFT_LOOP_STREAM_READER_H_

#include <sys/types.h>

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "loop/byte_buffer.h"
#include "loop/coro.h"
#include "loop/errors.h"
#include "loop/future.h"

namespace weft {

// readexactly (or readuntil) met end of file first. partial(): the bytes read before it;
// expected(): the size asked for (nullopt for readuntil).
class IncompleteReadError : public Error {
 public:
  IncompleteReadError(std::string partial, std::optional<size_t> expected);
  const std::string& partial() const noexcept { return partial_; }
  std::optional<size_t> expected() const noexcept { return expected_; }

 private:
  std::string partial_;
  std::optional<size_t> expected_;
};

// readuntil / readline passed the reader's limit. consumed(): how many bytes of the buffer
// the separator search covered (the amount to consume before retrying).
class LimitOverrunError : public Error {
 public:
  LimitOverrunError(const std::string& message, size_t consumed)
      : Error(message), consumed_(consumed) {}
  size_t consumed() const noexcept { return consumed_; }

 private:
  size_t consumed_;
};

// Where a pulling StreamReader gets its bytes.
class ReadSource {
 public:
  // read_some's answer when nothing can be read now.
  static constexpr ssize_t kWouldBlock = -1;
  virtual ~ReadSource() = default;
  // Reads at most `max` (> 0) bytes into `dst` without blocking: the count read, 0 at end of
  // file, or kWouldBlock. Raises OSError (loop/os_error.h) on failure.
  virtual ssize_t read_some(char* dst, size_t max) = 0;
  // Completes when read_some may make progress (cancellable). Awaited after kWouldBlock.
  virtual Coro<void> wait_readable() = 0;
};

// What a fed StreamReader pauses when its buffer is too full (asyncio's transport).
class ReadFlowControl {
 public:
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;

 protected:
  ~ReadFlowControl() = default;
};

class StreamReader {
 public:
  static constexpr size_t kDefaultLimit = 64 * 1024;

  // A fed reader.
  explicit StreamReader(size_t limit = kDefaultLimit);
  // A reader that pulls from `source`.
  explicit StreamReader(std::unique_ptr<ReadSource> source, size_t limit = kDefaultLimit);
  StreamReader(const StreamReader&) = delete;
  StreamReader& operator=(const StreamReader&) = delete;
  ~StreamReader();

  // Up to n bytes: what the buffer holds, waiting for some if it is empty; "" at end of file
  // (and for n == 0). n < 0: everything up to end of file.
  Coro<std::string> read(ssize_t n = -1);
  // Exactly n bytes, or IncompleteReadError at end of file.
  Coro<std::string> readexactly(size_t n);
  // A line including its '\n'; the partial last line at end of file; "" at end of file.
  Coro<std::string> readline();
  // Up to and including `separator` (non-empty, else std::invalid_argument).
  Coro<std::string> readuntil(std::string separator = "\n");

  // End of file was seen and the buffer is empty.
  bool at_eof() const { return eof_ && buffer_.empty(); }

  // --- Feeding (a fed reader; also allowed on a pulling one). Owning loop only. ---
  // Appends bytes and wakes a waiting reader. Raises InvalidStateError after feed_eof.
  void feed_data(std::string_view data);
  void feed_eof();
  void set_exception(std::exception_ptr e);
  std::exception_ptr exception() const { return exception_; }
  // Pause/resume target for a fed reader (not owned; nullptr: none).
  void set_flow_control(ReadFlowControl* flow) { flow_ = flow; }

  size_t limit() const { return limit_; }
  // Bytes buffered and not yet read.
  size_t buffered() const { return buffer_.size(); }
  // The most a pulling reader reads from its source at once.
  size_t read_chunk() const { return read_chunk_; }
  // Whether a fed reader has paused its flow control.
  bool paused() const { return paused_; }

 private:
  // Waits until the buffer grows, end of file or an error (asyncio's _wait_for_data).
  Coro<void> wait_for_data(const char* caller);
  Coro<void> pull(const char* caller);
  void wake_waiter();
  void maybe_resume();
  void raise_if_error() const {
    if (exception_) std::rethrow_exception(exception_);
  }
  [[noreturn]] void throw_busy(const char* caller) const;

  internal::ByteBuffer buffer_;
  size_t limit_;
  size_t read_chunk_;
  std::unique_ptr<ReadSource> source_;
  std::exception_ptr exception_;
  Future<void> waiter_;  // a caller waiting on a fed reader
  ReadFlowControl* flow_ = nullptr;
  bool eof_ = false;
  bool paused_ = false;
  bool pulling_ = false;  // a caller is reading the source
  size_t read_size_ = 4096;      // the next read_some's size (grows up to read_chunk_)
};

}  // namespace weft

#endif  // WEFT_LOOP_STREAM_READER_H_
