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

StreamFd::StreamFd(int fd) : fd_(fd) {
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    raise_os_error(fd < 0 ? EBADF : errno, "stream on fd " + std::to_string(fd));
  }
  is_socket_ = S_ISSOCK(st.st_mode);
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0 && !(flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (!is_socket_) ignore_sigpipe_once();
}

StreamFd::~StreamFd() {
  if (fd_ >= 0) ::close(fd_);
}

void StreamFd::shutdown_write() {
  if (fd_ >= 0 && is_socket_) ::shutdown(fd_, SHUT_WR);
}

void StreamFd::close() {
  if (close_requested_) return;
  close_requested_ = true;
  if (fd_ < 0) return;
  // A waiting reader wakes to end of file; it closes the descriptor then.
  if (is_socket_) ::shutdown(fd_, SHUT_RDWR);
  if (reader_waits_ == 0) close_now();
}

void StreamFd::end_reader_wait() {
  --reader_waits_;
  if (reader_waits_ == 0 && close_requested_) close_now();
}

void StreamFd::close_now() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
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
