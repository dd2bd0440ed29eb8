#include "loop/poller.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "loop/nocancel_syscalls.h"

namespace weft::internal {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

constexpr int kMaxEvents = 256;

// epoll_event.data of a source: the IoSource pointer with the top bit set. Table entries and
// the eventfd carry the descriptor number (top bits clear).
constexpr uint64_t kSourceTag = uint64_t{1} << 63;

}  // namespace

Poller::Poller() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw_errno("epoll_create1");
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    int saved = errno;
    ::close(epoll_fd_);
    errno = saved;
    throw_errno("eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) < 0) {
    int saved = errno;
    ::close(epoll_fd_);
    ::close(wake_fd_);
    errno = saved;
    throw_errno("epoll_ctl(eventfd)");
  }
}

Poller::~Poller() { close(); }

void Poller::close() {
  for (Watch& w : watches_) {
    if (w.source) w.source->on_poller_closed();
    if (w.reader) w.reader->unref();
    if (w.writer) w.writer->unref();
    w = Watch{};
  }
  num_watches_ = 0;
  num_sources_ = 0;
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  epoll_fd_ = wake_fd_ = -1;
}

void Poller::set(int fd, CallbackNode* node, bool reader) {
  if (fd < 0 || fd == wake_fd_) {
    node->unref();
    throw std::system_error(EBADF, std::generic_category(),
                            "add_reader/add_writer: invalid file descriptor " + std::to_string(fd));
  }
  if (static_cast<size_t>(fd) >= watches_.size()) {
    // Grow the table only for a descriptor that is open: a garbage number must raise EBADF
    // like any other bad descriptor, not allocate a table that large (and INT_MAX + 1
    // overflows). One fcntl per growth only, so the common path pays nothing.
    if (fcntl(fd, F_GETFD) < 0) {
      int saved = errno;
      node->unref();
      throw std::system_error(saved, std::generic_category(),
                              "add_reader/add_writer: invalid file descriptor " +
                                  std::to_string(fd));
    }
    watches_.resize(static_cast<size_t>(fd) + 1);
  }
  Watch& w = watches_[fd];
  if (w.source) {
    node->unref();
    throw std::system_error(EEXIST, std::generic_category(),
                            "add_reader/add_writer: fd " + std::to_string(fd) +
                                " is watched by an FdWatch (a socket or stream) on this loop");
  }
  CallbackNode*& slot = reader ? w.reader : w.writer;
  CallbackNode* old = slot;
  bool was_watched = w.reader || w.writer;
  slot = node;
  try {
    update(fd, w);
  } catch (...) {
    slot = old;
    node->unref();
    throw;
  }
  if (old) {
    old->mark_cancelled();
    old->unref();
  }
  if (!was_watched) ++num_watches_;
}

bool Poller::clear(int fd, bool reader) {
  if (fd < 0 || static_cast<size_t>(fd) >= watches_.size()) return false;
  Watch& w = watches_[fd];
  CallbackNode*& slot = reader ? w.reader : w.writer;
  if (!slot) return false;
  CallbackNode* old = slot;
  slot = nullptr;
  // The descriptor may already be closed (epoll then forgot it by itself): ignore errors.
  try {
    update(fd, w);
  } catch (const std::system_error&) {
    w.events = w.reader || w.writer ? w.events : 0;
  }
  old->mark_cancelled();  // it may still be in the ready queue: it must not run
  old->unref();
  if (!w.reader && !w.writer) --num_watches_;
  return true;
}

void Poller::update(int fd, Watch& w) {
  uint32_t want = (w.reader ? uint32_t{EPOLLIN} : 0u) | (w.writer ? uint32_t{EPOLLOUT} : 0u);
  if (want == w.events) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.fd = fd;
  int rc;
  if (want == 0) {
    rc = epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, &ev);
    if (rc < 0 && (errno == ENOENT || errno == EBADF)) rc = 0;
  } else if (w.events == 0) {
    rc = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    // The fd number was closed and reused without remove_reader: epoll still knows it.
    if (rc < 0 && errno == EEXIST) rc = epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  } else {
    rc = epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
    // The fd was closed and reopened: epoll dropped the old registration.
    if (rc < 0 && errno == ENOENT) rc = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  if (rc < 0) throw_errno("epoll_ctl(fd=" + std::to_string(fd) + ")");
  w.events = want;
}

void Poller::queue(CallbackNode* node, RunQueue& ready) {
  if (!node || node->queued) return;
  node->queued = true;
  node->ref();  // the ready queue's reference
  ready.push_back(node);
}

bool Poller::poll(int64_t timeout_ns, RunQueue& ready, int64_t nap_ns) {
  epoll_event events[kMaxEvents];
  int n;
  if (nap_ns > 0) {
    // Only when nothing is ready yet: a nap then would only delay what is there.
    n = nocancel_epoll_wait(epoll_fd_, events, kMaxEvents, 0);
    if (n == 0) {
      // The sockets are not in this wait: their writers queue data without waking us (the
      // point of the nap); another thread's wake() does end it. EINTR ends it early.
      pollfd wake{wake_fd_, POLLIN, 0};
      timespec ts{static_cast<time_t>(nap_ns / 1000000000),
                  static_cast<long>(nap_ns % 1000000000)};
      nocancel_ppoll(&wake, 1, &ts);
      n = nocancel_epoll_wait(epoll_fd_, events, kMaxEvents, 0);
    }
    if (n < 0 && errno != EINTR) throw_errno("epoll_wait");
    // Events, or a signal (returned as an interrupted wait): no wait.
    if (n != 0) return dispatch(events, n > 0 ? n : 0, ready);
    if (timeout_ns > 0) {
      timeout_ns -= nap_ns;  // what is left of it
      if (timeout_ns <= 0) return dispatch(events, 0, ready);
    }
  }
  for (;;) {
    if (timeout_ns < 0) {
      n = nocancel_epoll_wait(epoll_fd_, events, kMaxEvents, -1);
    } else if (timeout_ns == 0) {
      n = nocancel_epoll_wait(epoll_fd_, events, kMaxEvents, 0);
    } else if (epoll_pwait2_works_) {
      timespec ts{static_cast<time_t>(timeout_ns / 1000000000),
                  static_cast<long>(timeout_ns % 1000000000)};
      n = static_cast<int>(
          syscall(SYS_epoll_pwait2, epoll_fd_, events, kMaxEvents, &ts, nullptr, 0));
      if (n < 0 && errno == ENOSYS) {
        epoll_pwait2_works_ = false;
        continue;
      }
    } else {
      // Round up so that a timer is never polled for before it is due (no busy loop).
      int64_t ms = (timeout_ns + 999999) / 1000000;
      n = nocancel_epoll_wait(epoll_fd_, events, kMaxEvents,
                              ms > 1 << 30 ? 1 << 30 : static_cast<int>(ms));
    }
    if (n >= 0) break;
    if (errno != EINTR) throw_errno("epoll_wait");
    n = 0;
    break;
  }
  return dispatch(events, n, ready);
}

bool Poller::dispatch(const epoll_event* events, int n, RunQueue& ready) {
  bool woke = false;
  uint32_t io_events = static_cast<uint32_t>(n);
  for (int i = 0; i < n; ++i) {
    uint32_t ev = events[i].events;
    if (events[i].data.u64 & kSourceTag) {
      auto* source = reinterpret_cast<IoSource*>(events[i].data.u64 & ~kSourceTag);
      bool error = ev & (EPOLLERR | EPOLLHUP);
      source->on_io(ev & (EPOLLIN | EPOLLRDHUP) || error, ev & EPOLLOUT || error,
                    ev & EPOLLRDHUP || error);
      continue;
    }
    int fd = events[i].data.fd;
    if (fd == wake_fd_) {
      uint64_t value;
      while (read(wake_fd_, &value, sizeof value) > 0) {
      }
      woke = true;
      --io_events;
      continue;
    }
    if (static_cast<size_t>(fd) >= watches_.size()) continue;
    Watch& w = watches_[fd];
    bool error = ev & (EPOLLERR | EPOLLHUP);
    if (ev & (EPOLLIN | EPOLLRDHUP) || error) queue(w.reader, ready);
    if (ev & EPOLLOUT || error) queue(w.writer, ready);
  }
  last_io_events_ = io_events;
  return woke;
}

void Poller::add_source(int fd, IoSource* source) {
  if (fd < 0 || fd == wake_fd_) {
    throw std::system_error(EBADF, std::generic_category(),
                            "FdWatch: invalid file descriptor " + std::to_string(fd));
  }
  if (static_cast<size_t>(fd) < watches_.size() && watches_[fd].events != 0) {
    throw std::system_error(EEXIST, std::generic_category(),
                            "FdWatch: fd " + std::to_string(fd) +
                                " is watched by add_reader/add_writer on this loop");
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = reinterpret_cast<uint64_t>(source) | kSourceTag;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
    throw_errno("FdWatch: epoll_ctl(ADD, fd=" + std::to_string(fd) + ")");
  }
  if (static_cast<size_t>(fd) >= watches_.size()) watches_.resize(static_cast<size_t>(fd) + 1);
  // A stale entry (a source removed from another thread, not forgotten yet) is overwritten.
  if (!watches_[fd].source) ++num_sources_;
  watches_[fd].source = source;
}

void Poller::remove_source(int fd, IoSource* source) {
  epoll_event ev{};
  // ENOENT/EBADF: the descriptor was closed already, and epoll forgot it by itself.
  [[maybe_unused]] int rc = epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, &ev);
  forget_source(fd, source);
}

void Poller::forget_source(int fd, IoSource* source) {
  if (fd < 0 || static_cast<size_t>(fd) >= watches_.size()) return;
  Watch& w = watches_[fd];
  if (w.source != source) return;
  w.source = nullptr;
  --num_sources_;
}

void Poller::wake() {
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: the loop is awake anyway.
  [[maybe_unused]] ssize_t rc = write(wake_fd_, &one, sizeof one);
}

}  // namespace weft::internal
