#include "loop/stream_writer.h"

#include <limits.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "loop/event_loop.h"
#include "loop/os_error.h"

namespace weft {
namespace {

// Small writes are appended to the last queued chunk up to this size, so that many tiny
// writes do not become many tiny iovecs.
constexpr size_t kCoalesce = 16 * 1024;
// The most iovecs one flush hands the kernel.
constexpr int kMaxIov = 64;

// Removes `f` from `waiters` (the waiter's own cleanup, whether it was woken or cancelled).
void forget(std::vector<Future<void>>& waiters, const Future<void>& f) {
  auto it = std::find_if(waiters.begin(), waiters.end(),
                         [&](const Future<void>& w) { return w.base() == f.base(); });
  if (it != waiters.end()) waiters.erase(it);
}

}  // namespace

StreamWriter::StreamWriter(std::shared_ptr<internal::StreamFd> fd)
    : loop_(&EventLoop::current()), fd_(std::move(fd)) {}

StreamWriter::~StreamWriter() { stop_flusher(); }

void StreamWriter::stop_flusher() {
  // A cancelled flush raises CancelledError at its wait and unwinds without touching `this`.
  if (flusher_ && !flusher_.done()) flusher_.cancel();
  flusher_ = Task<void>();
}

Coro<void> StreamWriter::flush_loop(std::shared_ptr<internal::StreamFd> fd) {
  while (queued_ > 0 && !closed_) {
    try {
      co_await fd->watch().writable();
    } catch (const OSError&) {
      co_return;  // the stream was closed meanwhile
    }
    on_writable();
  }
}

void StreamWriter::check_writable(const char* what) const {
  if (error_) std::rethrow_exception(error_);
  if (closing_) {
    throw RuntimeError(std::string("StreamWriter.") + what +
                       "() after close(): the stream is closing; write before closing it");
  }
  if (eof_requested_) {
    throw RuntimeError(std::string("StreamWriter.") + what +
                       "() after write_eof(): the write direction is ended");
  }
}

ssize_t StreamWriter::write_now(const iovec* iov, int n) {
  const int fd = fd_->fd();
  for (;;) {
    ssize_t r;
    if (fd_->is_socket()) {
      msghdr msg{};
      msg.msg_iov = const_cast<iovec*>(iov);
      msg.msg_iovlen = static_cast<size_t>(n);
      r = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    } else {
      r = ::writev(fd, iov, n);
    }
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    fail(errno, "write");
    return -1;
  }
}

void StreamWriter::fail(int err, const char* what) {
  error_ = internal::os_error_ptr(
      err, std::string(what) + " to " + fd_->kind() + " fd " + std::to_string(fd_->fd()));
  chunks_.clear();
  front_offset_ = 0;
  queued_ = 0;
  finish_close();
}

void StreamWriter::write(std::string_view data) {
  check_writable("write");
  if (data.empty()) return;
  if (queued_ == 0) {
    iovec iov{const_cast<char*>(data.data()), data.size()};
    const ssize_t n = write_now(&iov, 1);
    if (n < 0) std::rethrow_exception(error_);
    if (static_cast<size_t>(n) == data.size()) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
  queue(data);
  after_queue();
}

void StreamWriter::write(std::string&& data) {
  check_writable("write");
  if (data.empty()) return;
  if (queued_ == 0) {
    iovec iov{data.data(), data.size()};
    const ssize_t n = write_now(&iov, 1);
    if (n < 0) std::rethrow_exception(error_);
    if (static_cast<size_t>(n) == data.size()) return;
    // The string itself is queued; the written part is skipped by offset, not erased.
    queued_ = data.size() - static_cast<size_t>(n);
    front_offset_ = static_cast<size_t>(n);
    chunks_.push_back(std::move(data));
  } else {
    queue(std::move(data));
  }
  after_queue();
}

void StreamWriter::writelines(std::span<const std::string_view> parts) {
  check_writable("writelines");
  size_t first = 0;
  size_t offset = 0;
  if (queued_ == 0) {
    absl::InlinedVector<iovec, 16> iov;
    for (std::string_view p : parts) {
      if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
      if (iov.size() == IOV_MAX) break;
    }
    if (iov.empty()) return;
    ssize_t n = write_now(iov.data(), static_cast<int>(iov.size()));
    if (n < 0) std::rethrow_exception(error_);
    // Skip what the kernel took.
    size_t left = static_cast<size_t>(n);
    while (first < parts.size() && left >= parts[first].size()) {
      left -= parts[first].size();
      ++first;
    }
    offset = left;
  }
  for (size_t i = first; i < parts.size(); ++i) {
    queue(parts[i].substr(i == first ? offset : 0));
  }
  after_queue();
}

void StreamWriter::writelines(const std::vector<std::string>& parts) {
  absl::InlinedVector<std::string_view, 16> views(parts.begin(), parts.end());
  writelines(std::span<const std::string_view>(views.data(), views.size()));
}

void StreamWriter::queue(std::string_view data) {
  if (data.empty()) return;
  if (!chunks_.empty() && chunks_.back().size() + data.size() <= kCoalesce) {
    chunks_.back().append(data);
  } else {
    chunks_.emplace_back(data);
  }
  queued_ += data.size();
}

void StreamWriter::queue(std::string&& data) {
  queued_ += data.size();
  chunks_.push_back(std::move(data));
}

void StreamWriter::after_queue() {
  if (queued_ == 0) return;
  if (!flusher_ || flusher_.done()) {
    flusher_ = loop_->create_task(flush_loop(fd_), "StreamWriter flush");
  }
  if (queued_ > high_) paused_ = true;
}

void StreamWriter::on_writable() {
  iovec iov[kMaxIov];
  int n = 0;
  for (auto it = chunks_.begin(); it != chunks_.end() && n < kMaxIov; ++it, ++n) {
    const size_t skip = n == 0 ? front_offset_ : 0;
    iov[n] = {it->data() + skip, it->size() - skip};
  }
  const ssize_t written = write_now(iov, n);
  if (written < 0) return;  // fail() closed the stream and told the waiters
  size_t left = static_cast<size_t>(written);
  queued_ -= left;
  while (left > 0) {
    const size_t in_front = chunks_.front().size() - front_offset_;
    if (left < in_front) {
      front_offset_ += left;
      break;
    }
    left -= in_front;
    chunks_.pop_front();
    front_offset_ = 0;
  }
  if (paused_ && queued_ <= low_) {
    paused_ = false;
    wake_drainers();
  }
  if (queued_ == 0) flush_finished();
}

void StreamWriter::flush_finished() {
  if (closing_) {
    finish_close();
  } else if (eof_requested_ && !eof_done_) {
    eof_done_ = true;
    if (fd_->is_socket()) {
      fd_->shutdown_write();
    } else {
      closing_ = true;
      finish_close();
    }
  }
}

void StreamWriter::wake_drainers() {
  for (Future<void>& w : drain_waiters_) {
    if (!w.done()) w.set_result();
  }
}

void StreamWriter::finish_close() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  paused_ = false;
  fd_->close();
  for (std::vector<Future<void>>* waiters : {&drain_waiters_, &close_waiters_}) {
    for (Future<void>& w : *waiters) {
      if (w.done()) continue;
      if (error_) {
        w.set_exception(error_);
      } else {
        w.set_result();
      }
    }
  }
}

Coro<void> StreamWriter::drain() {
  if (error_) std::rethrow_exception(error_);
  if (closed_) {
    throw ConnectionResetError(ECONNRESET,
                               "StreamWriter.drain(): connection lost (the stream is closed)");
  }
  if (!paused_) co_return;
  Future<void> w = loop_->create_future<void>();
  drain_waiters_.push_back(w);
  struct Forget {
    std::vector<Future<void>>& waiters;
    Future<void>& w;
    ~Forget() { forget(waiters, w); }
  } guard{drain_waiters_, w};
  co_await w;
}

void StreamWriter::write_eof() {
  if (closing_ || eof_requested_) return;
  eof_requested_ = true;
  if (queued_ == 0) flush_finished();
}

void StreamWriter::close() {
  if (closing_) return;
  closing_ = true;
  if (queued_ == 0) finish_close();
}

Coro<void> StreamWriter::wait_closed() {
  if (closed_) {
    if (error_) std::rethrow_exception(error_);
    co_return;
  }
  Future<void> w = loop_->create_future<void>();
  close_waiters_.push_back(w);
  struct Forget {
    std::vector<Future<void>>& waiters;
    Future<void>& w;
    ~Forget() { forget(waiters, w); }
  } guard{close_waiters_, w};
  co_await w;
}

void StreamWriter::set_write_buffer_limits(size_t high, std::optional<size_t> low) {
  const size_t lo = low.value_or(high / 4);
  if (lo > high) {
    throw std::invalid_argument("StreamWriter.set_write_buffer_limits(): high (" +
                                std::to_string(high) + ") must be >= low (" +
                                std::to_string(lo) + ")");
  }
  high_ = high;
  low_ = lo;
  if (queued_ > high_) {
    paused_ = true;
  } else if (paused_ && queued_ <= low_) {
    paused_ = false;
    wake_drainers();
  }
}

}  // namespace weft
