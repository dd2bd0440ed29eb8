#include "loop/stream_fd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <string>

#include "loop/os_error.h"

namespace weft::internal {

StreamFd::StreamFd(int fd) : fd_(fd), watch_(fd) {
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    const int err = fd < 0 ? EBADF : errno;
    fd_ = -1;
    watch_ = FdWatch();
    raise_os_error(err, "stream on fd " + std::to_string(fd));
  }
  is_socket_ = S_ISSOCK(st.st_mode);
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0 && !(flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (!is_socket_) ignore_sigpipe_once();
}

void StreamFd::shutdown_write() {
  if (fd_ >= 0 && is_socket_) ::shutdown(fd_, SHUT_WR);
}

void StreamFd::close() {
  if (fd_ < 0) return;
  // Before the close: a waiting reader wakes, and the number leaves the poller.
  watch_.reset();
  ::close(fd_);
  fd_ = -1;
}

ssize_t FdReadSource::read_some(char* dst, size_t max) {
  for (;;) {
    const int fd = fd_->fd();
    if (fd < 0) return 0;
    const ssize_t n = ::read(fd, dst, max);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return kWouldBlock;
    raise_os_error(errno, std::string("read from ") + fd_->kind() + " fd " + std::to_string(fd));
  }
}

Coro<void> FdReadSource::wait_readable() {
  if (fd_->closed()) co_return;
  try {
    co_await fd_->watch().readable();
  } catch (const OSError&) {
    // The watch was reset because the stream closed: read_some reports end of file.
    if (!fd_->closed()) throw;
  }
}

std::exception_ptr os_error_ptr(int errno_value, const std::string& what) {
  try {
    raise_os_error(errno_value, what);
  } catch (...) {
    return std::current_exception();
  }
}

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current;
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL &&
        !(current.sa_flags & SA_SIGINFO)) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

}  // namespace weft::internal
