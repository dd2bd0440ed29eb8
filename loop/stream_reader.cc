#include "loop/stream_reader.h"

#include <algorithm>
#include <utility>

#include "loop/event_loop.h"

namespace weft {
namespace {

std::string incomplete_message(size_t got, std::optional<size_t> expected) {
  return std::to_string(got) + " bytes read on a total of " +
         (expected ? std::to_string(*expected) : std::string("undefined")) + " expected bytes";
}

// The smallest read from a source; reads grow from here up to read_chunk() while they keep
// filling what they ask for, so an idle reader keeps a small buffer.
constexpr size_t kMinRead = 4096;
constexpr size_t kMaxRead = 64 * 1024;

}  // namespace

IncompleteReadError::IncompleteReadError(std::string partial, std::optional<size_t> expected)
    : Error(incomplete_message(partial.size(), expected)),
      partial_(std::move(partial)),
      expected_(expected) {}

StreamReader::StreamReader(size_t limit)
    : limit_(limit), read_chunk_(std::clamp(limit, kMinRead, kMaxRead)) {
  if (limit == 0) throw std::invalid_argument("StreamReader: limit must be positive");
}

StreamReader::StreamReader(std::unique_ptr<ReadSource> source, size_t limit)
    : StreamReader(limit) {
  source_ = std::move(source);
}

StreamReader::~StreamReader() = default;

void StreamReader::throw_busy(const char* caller) const {
  throw RuntimeError(std::string(caller) +
                     "() called while another coroutine is already waiting for incoming data "
                     "on this StreamReader: read a stream from one task at a time");
}

void StreamReader::wake_waiter() {
  if (waiter_ && !waiter_.done()) waiter_.set_result();
}

void StreamReader::maybe_resume() {
  if (paused_ && buffer_.size() <= limit_) {
    paused_ = false;
    flow_->resume_reading();
  }
}

void StreamReader::feed_data(std::string_view data) {
  if (eof_) {
    throw InvalidStateError("StreamReader.feed_data() after feed_eof(): no bytes may follow "
                            "the end of the stream");
  }
  if (data.empty()) return;
  buffer_.append(data);
  wake_waiter();
  if (flow_ && !paused_ && buffer_.size() > 2 * limit_) {
    paused_ = true;
    flow_->pause_reading();
  }
}

void StreamReader::feed_eof() {
  eof_ = true;
  wake_waiter();
}

void StreamReader::set_exception(std::exception_ptr e) {
  exception_ = e;
  if (waiter_ && !waiter_.done()) waiter_.set_exception(std::move(e));
}

Coro<void> StreamReader::wait_for_data(const char* caller) {
  if (waiter_ || pulling_) throw_busy(caller);
  if (paused_) {
    paused_ = false;
    flow_->resume_reading();
  }
  if (source_) {
    co_await pull(caller);
    co_return;
  }
  Future<void> waiter = EventLoop::current().create_future<void>();
  waiter_ = waiter;
  struct Forget {
    Future<void>& slot;
    ~Forget() { slot = Future<void>(); }
  } forget{waiter_};
  co_await waiter;
}

Coro<void> StreamReader::pull(const char* caller) {
  pulling_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{pulling_};
  // Read first, wait only when the source has nothing (FdWatch's protocol: with
  // edge-triggered readiness, the edge that announced this data may be long gone).
  for (;;) {
    const size_t want = std::min(read_size_, read_chunk_);
    char* dst = buffer_.prepare(want);
    ssize_t n;
    try {
      n = source_->read_some(dst, want);
    } catch (...) {
      exception_ = std::current_exception();
      throw;
    }
    if (n > 0) {
      buffer_.commit(static_cast<size_t>(n));
      if (static_cast<size_t>(n) == want) read_size_ = std::min(read_size_ * 2, read_chunk_);
      co_return;
    }
    if (n == 0) {
      eof_ = true;
      co_return;
    }
    co_await source_->wait_readable();
    // Fed meanwhile (data, end of file or an error): let the caller look first.
    if (exception_ || eof_) co_return;
  }
}

Coro<std::string> StreamReader::read(ssize_t n) {
  raise_if_error();
  if (n == 0) co_return std::string();
  if (n < 0) {
    std::string out;
    for (;;) {
      raise_if_error();
      if (!buffer_.empty()) {
        out.append(buffer_.view());
        buffer_.clear();
        maybe_resume();
      }
      if (eof_) break;
      co_await wait_for_data("read");
    }
    co_return out;
  }
  if (buffer_.empty() && !eof_) co_await wait_for_data("read");
  std::string out = buffer_.take(std::min(static_cast<size_t>(n), buffer_.size()));
  maybe_resume();
  co_return out;
}

Coro<std::string> StreamReader::readexactly(size_t n) {
  raise_if_error();
  if (n == 0) co_return std::string();
  while (buffer_.size() < n) {
    if (eof_) {
      std::string partial = buffer_.take(buffer_.size());
      maybe_resume();
      throw IncompleteReadError(std::move(partial), n);
    }
    co_await wait_for_data("readexactly");
  }
  std::string out = buffer_.take(n);
  maybe_resume();
  co_return out;
}

Coro<std::string> StreamReader::readuntil(std::string separator) {
  const size_t seplen = separator.size();
  if (seplen == 0) {
    throw std::invalid_argument("StreamReader.readuntil(): the separator must not be empty");
  }
  raise_if_error();
  // Where the next search starts: bytes before it were searched already.
  size_t offset = 0;
  size_t isep;
  for (;;) {
    const size_t buflen = buffer_.size();
    if (buflen >= offset + seplen) {
      isep = buffer_.find(separator, offset);
      if (isep != std::string_view::npos) break;
      offset = buflen + 1 - seplen;
      if (offset > limit_) {
        throw LimitOverrunError("Separator is not found, and chunk exceed the limit", offset);
      }
    }
    if (eof_) {
      std::string partial = buffer_.take(buffer_.size());
      maybe_resume();
      throw IncompleteReadError(std::move(partial), std::nullopt);
    }
    co_await wait_for_data("readuntil");
  }
  if (isep > limit_) {
    throw LimitOverrunError("Separator is found, but chunk is longer than limit", isep);
  }
  std::string out = buffer_.take(isep + seplen);
  maybe_resume();
  co_return out;
}

Coro<std::string> StreamReader::readline() {
  try {
    co_return co_await readuntil("\n");
  } catch (IncompleteReadError& e) {
    co_return e.partial();
  } catch (const LimitOverrunError& e) {
    const size_t consumed = e.consumed();
    if (consumed < buffer_.size() && buffer_.data()[consumed] == '\n') {
      buffer_.consume(consumed + 1);
    } else {
      buffer_.clear();
    }
    maybe_resume();
    throw;
  }
}

}  // namespace weft
