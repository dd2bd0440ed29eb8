// Helpers of the tests/io suites: pipes with a small, known capacity, and a reader of a raw
// descriptor driven by the loop (so that tests wait for bytes without sleeping).
#ifndef WEFT_TESTS_IO_PIPE_UTIL_H_
#define WEFT_TESTS_IO_PIPE_UTIL_H_

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>

#include "loop/weft.h"

namespace weft::io_test {

struct Pipe {
  int read_fd = -1;
  int write_fd = -1;
};

// A pipe whose buffer holds one page (4096 bytes), so tests know when a writer must queue.
inline Pipe small_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  if (fcntl(fds[1], F_SETPIPE_SZ, 4096) < 0) throw std::runtime_error("F_SETPIPE_SZ failed");
  return Pipe{fds[0], fds[1]};
}

inline void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Reads `fd` (non-blocking) whenever the loop says it is readable, appending to `out`, until
// end of file or until `want` bytes were read; the returned future completes then.
class RawDrainer {
 public:
  RawDrainer(int fd, size_t want = SIZE_MAX) : fd_(fd), want_(want) {
    set_nonblocking(fd);
    done_ = EventLoop::current().create_future<void>();
    EventLoop::current().add_reader(fd_, [this] { on_readable(); });
  }
  ~RawDrainer() { stop(); }
  Future<void> done() const { return done_; }
  std::string out;
  bool eof = false;

 private:
  void on_readable() {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        if (out.size() >= want_) return finish();
        continue;
      }
      if (n == 0) {
        eof = true;
        return finish();
      }
      if (errno == EINTR) continue;
      return;  // EAGAIN: wait for the next readiness
    }
  }
  void finish() {
    stop();
    if (!done_.done()) done_.set_result();
  }
  void stop() {
    if (watching_) EventLoop::current().remove_reader(fd_);
    watching_ = false;
  }
  int fd_;
  size_t want_;
  bool watching_ = true;
  Future<void> done_;
};

// Bytes 0..n-1 of a recognisable pattern (a counter), so reordering or loss shows.
inline std::string pattern(size_t n, size_t seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed + i / 251) % 26);
  return s;
}

}  // namespace weft::io_test

#endif  // WEFT_TESTS_IO_PIPE_UTIL_H_
