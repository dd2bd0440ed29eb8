#include "loop/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <utility>

#include "loop/event_loop.h"
#include "loop/fd_streams.h"
#include "loop/gather.h"
#include "loop/os_error.h"
#include "loop/task.h"

extern char** environ;

namespace weft {
namespace {

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// Closes the descriptors it holds unless released: the parent's ends until they become
// streams, the child's ends until the child has them.
class FdList {
 public:
  ~FdList() {
    for (int fd : fds_) ::close(fd);
  }
  int add(int fd) {
    fds_.push_back(fd);
    return fd;
  }
  int release(int fd) {
    std::erase(fds_, fd);
    return fd;
  }

 private:
  std::vector<int> fds_;
};

class SpawnActions {
 public:
  SpawnActions() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnActions() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

void check(int err, const char* what) {
  if (err != 0) raise_os_error(err, std::string("create_subprocess_exec: ") + what);
}

// The child reaps itself through the loop after its Process is gone.
void reap_when_exited(EventLoop* loop, pid_t pid, int pidfd) {
  loop->add_reader(pidfd, [loop, pid, pidfd] {
    int status;
    if (waitpid(pid, &status, WNOHANG) == 0) return;  // not yet
    loop->remove_reader(pidfd);
    ::close(pidfd);
  });
}

}  // namespace

Process::Process(EventLoop* loop, pid_t pid, int pidfd) : loop_(loop), pid_(pid), pidfd_(pidfd) {}

Process::~Process() {
  if (watching_ && !loop_->is_closed()) loop_->remove_reader(pidfd_);
  if (pidfd_ < 0) return;
  if (!returncode_ && !loop_->is_closed()) {
    reap_when_exited(loop_, pid_, pidfd_);
  } else {
    ::close(pidfd_);
  }
}

void Process::watch_exit() {
  if (watching_ || returncode_) return;
  loop_->add_reader(pidfd_, [this] { on_exit_readable(); });
  watching_ = true;
}

void Process::on_exit_readable() {
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return;  // readable before the exit is reapable: wait for the next wake
  if (r < 0 && errno == EINTR) return;
  if (r == pid_) {
    returncode_ = WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
  } else {
    returncode_ = 255;  // reaped by someone else: the status is lost (asyncio does the same)
  }
  loop_->remove_reader(pidfd_);
  watching_ = false;
  ::close(pidfd_);
  pidfd_ = -1;
  for (Future<int>& w : exit_waiters_) {
    if (!w.done()) w.set_result(*returncode_);
  }
}

Coro<int> Process::wait() {
  if (returncode_) co_return *returncode_;
  watch_exit();
  Future<int> w = loop_->create_future<int>();
  exit_waiters_.push_back(w);
  struct Forget {
    std::vector<Future<int>>& waiters;
    Future<int>& w;
    ~Forget() {
      std::erase_if(waiters, [&](const Future<int>& f) { return f.base() == w.base(); });
    }
  } guard{exit_waiters_, w};
  co_return co_await w;
}

void Process::send_signal(int sig) {
  if (returncode_ || pidfd_ < 0) return;
  if (pidfd_send_signal(pidfd_, sig) != 0) {
    const int err = errno;
    if (err == ESRCH) return;  // exited, not yet reaped: nothing left to signal
    raise_os_error(err, "Process.send_signal(" + std::to_string(sig) + ") to pid " +
                            std::to_string(pid_));
  }
}

void Process::terminate() { send_signal(SIGTERM); }
void Process::kill() { send_signal(SIGKILL); }

Coro<void> Process::feed_stdin(std::optional<std::string> input) {
  try {
    if (input && !input->empty()) {
      stdin_->write(std::move(*input));
      co_await stdin_->drain();
    }
  } catch (const BrokenPipeError&) {
    // The child exited (or closed its stdin) without reading everything: not an error.
  } catch (const ConnectionResetError&) {
  }
  stdin_->close();
}

Coro<std::string> Process::read_all(StreamReader* r) {
  if (!r) co_return std::string();
  co_return co_await r->read();
}

Coro<CommunicateResult> Process::communicate(std::optional<std::string> input) {
  if (input && !stdin_) {
    throw std::invalid_argument(
        "Process.communicate(input): the child's stdin is not a pipe; start it with "
        "stdin = Stdio::kPipe to send it input");
  }
  CommunicateResult result;
  if (stdin_) {
    auto [ignored, out, err] =
        co_await gather(feed_stdin(std::move(input)), read_all(stdout_.get()),
                        read_all(stderr_.get()));
    result.stdout = std::move(out);
    result.stderr = std::move(err);
  } else {
    auto [out, err] = co_await gather(read_all(stdout_.get()), read_all(stderr_.get()));
    result.stdout = std::move(out);
    result.stderr = std::move(err);
  }
  co_await wait();
  co_return result;
}

std::unique_ptr<Process> create_subprocess_exec(std::string program,
                                                std::vector<std::string> args,
                                                SubprocessOptions options) {
  EventLoop& loop = EventLoop::current();
  if (options.stdin == Stdio::kStdout || options.stdout == Stdio::kStdout) {
    throw std::invalid_argument(
        "create_subprocess_exec: Stdio::kStdout is only for stderr (it sends stderr where "
        "stdout goes)");
  }
  FdList parent_ends;
  FdList child_ends;
  SpawnActions spawn;
  int parent_fd[3] = {-1, -1, -1};
  const Stdio modes[3] = {options.stdin, options.stdout, options.stderr};
  for (int target = 0; target < 3; ++target) {
    switch (modes[target]) {
      case Stdio::kInherit:
        break;
      case Stdio::kPipe: {
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) check(errno, "pipe2");
        const bool child_reads = target == 0;
        parent_fd[target] = parent_ends.add(child_reads ? p[1] : p[0]);
        const int child_fd = child_ends.add(child_reads ? p[0] : p[1]);
        check(posix_spawn_file_actions_adddup2(&spawn.actions_, child_fd, target), "dup2");
        break;
      }
      case Stdio::kDevNull:
        check(posix_spawn_file_actions_addopen(&spawn.actions_, target, "/dev/null",
                                               target == 0 ? O_RDONLY : O_WRONLY, 0),
              "open /dev/null");
        break;
      case Stdio::kStdout:
        check(posix_spawn_file_actions_adddup2(&spawn.actions_, 1, 2), "dup2 stdout");
        break;
    }
  }
  if (options.cwd) {
    check(posix_spawn_file_actions_addchdir_np(&spawn.actions_, options.cwd->c_str()), "chdir");
  }
  // The child starts with an empty signal mask (weft blocks the signals it routes to a
  // signalfd) and SIGPIPE at its default (weft ignores it in the parent).
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  check(posix_spawnattr_setsigmask(&spawn.attr_, &empty), "sigmask");
  check(posix_spawnattr_setsigdefault(&spawn.attr_, &defaults), "sigdefault");
  check(posix_spawnattr_setflags(&spawn.attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
        "flags");

  std::vector<char*> argv;
  argv.push_back(program.data());
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (options.env) {
    for (std::string& e : *options.env) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
  pid_t pid;
  const int err = posix_spawnp(&pid, program.c_str(), &spawn.actions_, &spawn.attr_, argv.data(),
                               options.env ? envp.data() : environ);
  if (err != 0) raise_os_error(err, "create_subprocess_exec: cannot run '" + program + "'");
  const int pidfd = pidfd_open(pid);
  if (pidfd < 0) {
    const int e = errno;
    ::kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    raise_os_error(e, "create_subprocess_exec: pidfd_open (Linux >= 5.3 is required)");
  }
  std::unique_ptr<Process> proc(new Process(&loop, pid, pidfd));
  // From here the Process owns the child; the streams own the parent's ends.
  if (parent_fd[0] >= 0) proc->stdin_ = open_write_pipe(parent_ends.release(parent_fd[0]));
  if (parent_fd[1] >= 0) {
    proc->stdout_ = open_read_pipe(parent_ends.release(parent_fd[1]), options.limit);
  }
  if (parent_fd[2] >= 0) {
    proc->stderr_ = open_read_pipe(parent_ends.release(parent_fd[2]), options.limit);
  }
  return proc;
}

}  // namespace weft
