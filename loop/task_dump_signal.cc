#include "loop/task_dump_signal.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "absl/strings/str_format.h"
#include "loop/signals.h"
#include "loop/errors.h"
#include "loop/introspect.h"

namespace weft {
namespace {

// Leaked: the dump thread runs until the process exits.
struct DumpSignal {
  std::mutex mu;
  std::function<void(const std::string&)> sink;  // guarded by mu
  int pipe_read = -1;
  int pipe_write = -1;  // written by the signal handler only
};

DumpSignal& state() {
  static DumpSignal* s = new DumpSignal();
  return *s;
}

std::atomic<int> g_pipe_write{-1};

void on_signal(int signo) {
  int saved = errno;
  unsigned char b = static_cast<unsigned char>(signo);
  int fd = g_pipe_write.load(std::memory_order_relaxed);
  if (fd >= 0) {
    ssize_t ignored = write(fd, &b, 1);  // a full pipe drops the request: dumps coalesce
    (void)ignored;
  }
  errno = saved;
}

void dump_thread(int fd) {
  for (;;) {
    unsigned char b;
    ssize_t n = read(fd, &b, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    std::string text = absl::StrFormat("weft: task dump (signal %d)\n", b) + dump_all_tasks();
    std::function<void(const std::string&)> sink;
    {
      std::lock_guard<std::mutex> lock(state().mu);
      sink = state().sink;
    }
    if (sink) {
      sink(text);
    } else {
      std::fwrite(text.data(), 1, text.size(), stderr);
      std::fflush(stderr);
    }
  }
}

void start_once() {
  DumpSignal& s = state();
  if (s.pipe_read >= 0) return;  // s.mu held by the caller
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw RuntimeError(absl::StrFormat("enable_task_dump_on_signal: pipe2 failed: %s",
                                       std::strerror(errno)));
  }
  fcntl(fds[1], F_SETFL, O_NONBLOCK);  // the handler must never block
  s.pipe_read = fds[0];
  s.pipe_write = fds[1];
  g_pipe_write.store(fds[1], std::memory_order_relaxed);
  {
    internal::AllSignalsBlocked quiet;  // the thread inherits the full mask (loop/signals.h)
    std::thread(dump_thread, fds[0]).detach();
  }
}

}  // namespace

void enable_task_dump_on_signal(int signo, std::function<void(const std::string&)> sink) {
  DumpSignal& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  start_once();
  s.sink = std::move(sink);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(signo, &sa, nullptr) != 0) {
    throw RuntimeError(absl::StrFormat("enable_task_dump_on_signal(%d): sigaction failed: %s",
                                       signo, std::strerror(errno)));
  }
}

void disable_task_dump_on_signal(int signo) {
  std::lock_guard<std::mutex> lock(state().mu);
  std::signal(signo, SIG_DFL);
}

}  // namespace weft
