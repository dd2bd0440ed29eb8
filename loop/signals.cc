#include "loop/signals.h"

#include <signal.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "absl/functional/any_invocable.h"
#include "loop/event_loop.h"
#include "loop/task_base.h"

namespace weft {
namespace internal {
namespace {

bool on_main_thread() { return static_cast<pid_t>(syscall(SYS_gettid)) == getpid(); }

std::string signal_name(int sig) {
  const char* d = strsignal(sig);
  return "signal " + std::to_string(sig) + (d ? std::string(" (") + d + ")" : std::string());
}

void check_signal(int sig, const char* what) {
  if (sig <= 0 || sig >= NSIG) {
    throw std::invalid_argument(std::string(what) + ": invalid signal number " +
                                std::to_string(sig));
  }
  if (sig == SIGKILL || sig == SIGSTOP) {
    throw std::invalid_argument(std::string(what) + ": " + signal_name(sig) +
                                " cannot be caught");
  }
}

void check_main_thread(const char* what) {
  if (!on_main_thread()) {
    throw RuntimeError(
        std::string(what) +
        "() called from a thread other than the main thread: a loop receives signals through a "
        "signalfd, which needs the signal blocked in every thread, and weft blocks it in the "
        "main thread (whose mask new threads inherit). Add signal handlers on the main "
        "thread's loop (see loop/signals.h)");
  }
}

// The process's signal handlers: one signalfd, read by the one loop that owns them.
// Main thread only, hence no lock.
class SignalHub {
 public:
  SignalHub() {
    sigemptyset(&mask_);
    sigemptyset(&blocked_by_us_);
  }

  uint64_t add(EventLoop* loop, int sig, absl::AnyInvocable<void()> fn) {
    check_signal(sig, "add_signal_handler");
    check_main_thread("add_signal_handler");
    loop->check_open("add_signal_handler");
    forget_dead_loop();
    if (loop_ && loop_ != loop) {
      throw RuntimeError(
          "add_signal_handler: another live event loop owns this process's signal handlers; "
          "remove them there (remove_signal_handler) or close that loop first");
    }
    sigset_t one, old;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_BLOCK, &one, &old);
    if (!sigismember(&old, sig)) sigaddset(&blocked_by_us_, sig);
    sigaddset(&mask_, sig);
    const int fd = signalfd(fd_, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      sigdelset(&mask_, sig);
      release_signal(sig);
      throw std::system_error(err, std::generic_category(), "add_signal_handler: signalfd");
    }
    if (fd_ < 0) {
      fd_ = fd;
      loop_ = loop;
      serial_ = loop_serial(loop);
      loop->add_reader(fd_, [this] { dispatch(); });
    }
    const uint64_t id = next_id_++;
    handlers_[sig] = Handler{id, std::make_shared<absl::AnyInvocable<void()>>(std::move(fn))};
    return id;
  }

  // only_id != 0: remove only if the handler is still that one.
  bool remove(EventLoop* loop, int sig, uint64_t only_id) {
    check_signal(sig, "remove_signal_handler");
    check_main_thread("remove_signal_handler");
    forget_dead_loop();
    if (loop_ != loop) return false;
    auto it = handlers_.find(sig);
    if (it == handlers_.end() || (only_id != 0 && it->second.id != only_id)) return false;
    handlers_.erase(it);
    sigdelset(&mask_, sig);
    if (handlers_.empty()) {
      if (!loop_->is_closed()) loop_->remove_reader(fd_);
      close_fd();
    } else {
      signalfd(fd_, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
    }
    release_signal(sig);
    return true;
  }

 private:
  struct Handler {
    uint64_t id;
    // Shared so that a handler that removes itself is not destroyed while it runs.
    std::shared_ptr<absl::AnyInvocable<void()>> fn;
  };

  // The owning loop was closed or destroyed without removing its handlers.
  void forget_dead_loop() {
    if (!loop_) return;
    if (loop_is_alive(loop_) && loop_serial(loop_) == serial_ && !loop_->is_closed()) return;
    for (auto& [sig, handler] : handlers_) release_signal(sig);
    handlers_.clear();
    sigemptyset(&mask_);
    close_fd();
  }

  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    loop_ = nullptr;
    serial_ = 0;
  }

  // Unblocks `sig` if weft blocked it, discarding deliveries still pending so that the
  // default action does not act on them.
  void release_signal(int sig) {
    if (!sigismember(&blocked_by_us_, sig)) return;
    sigdelset(&blocked_by_us_, sig);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    const timespec zero{0, 0};
    while (sigtimedwait(&one, nullptr, &zero) == sig) {
    }
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  }

  void dispatch() {
    signalfd_siginfo infos[16];
    for (;;) {
      const ssize_t n = ::read(fd_, infos, sizeof infos);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(signalfd_siginfo); ++i) {
        const int sig = static_cast<int>(infos[i].ssi_signo);
        auto it = handlers_.find(sig);
        if (it == handlers_.end()) continue;
        std::shared_ptr<absl::AnyInvocable<void()>> fn = it->second.fn;
        EventLoop* loop = loop_;
        try {
          (*fn)();
        } catch (...) {
          ExceptionContext ctx;
          ctx.message = "Exception in the handler of " + signal_name(sig);
          ctx.exception = std::current_exception();
          loop->call_exception_handler(ctx);
        }
        if (fd_ < 0) return;  // a handler removed the last handler
      }
    }
  }

  EventLoop* loop_ = nullptr;
  uint64_t serial_ = 0;
  int fd_ = -1;
  sigset_t mask_;           // the signals routed to fd_
  sigset_t blocked_by_us_;  // the ones weft blocked (and unblocks again)
  std::map<int, Handler> handlers_;
  uint64_t next_id_ = 1;
};

SignalHub& hub() {
  static SignalHub* h = new SignalHub;  // never destroyed: handlers may run until exit
  return *h;
}

}  // namespace

RunnerSigint::RunnerSigint(EventLoop& loop, TaskBase& main_task) : loop_(loop), task_(main_task) {
  if (!on_main_thread()) return;
  struct sigaction sa;
  if (sigaction(SIGINT, nullptr, &sa) != 0) return;
  if ((sa.sa_flags & SA_SIGINFO) || sa.sa_handler != SIG_DFL) return;  // the program's own
  try {
    id_ = hub().add(&loop, SIGINT, [this] { on_sigint(); });
  } catch (const std::exception&) {
    // Another live loop owns the signal handlers (or no descriptor is left for a signalfd):
    // run without Ctrl-C handling rather than not at all.
    id_ = 0;
  }
}

void RunnerSigint::on_sigint() {
  ++interrupts_;
  if (interrupts_ == 1 && !task_.done()) {
    task_.cancel("");
    return;
  }
  loop_.stop();
}

void RunnerSigint::restore() {
  if (id_ == 0) return;
  hub().remove(&loop_, SIGINT, id_);
  id_ = 0;
}

void RunnerSigint::raise_if_interrupted() {
  if (interrupts_ > 0 && task_.cancelled() && task_.uncancel() == 0) throw KeyboardInterrupt();
}

MultiLoopSigint::MultiLoopSigint() {
  if (!on_main_thread()) return;
  struct sigaction sa;
  if (sigaction(SIGINT, nullptr, &sa) != 0) return;
  if ((sa.sa_flags & SA_SIGINFO) || sa.sa_handler != SIG_DFL) return;  // the program's own
  sigset_t one, old;
  sigemptyset(&one);
  sigaddset(&one, SIGINT);
  pthread_sigmask(SIG_BLOCK, &one, &old);
  blocked_by_us_ = !sigismember(&old, SIGINT);
  signal_fd_ = signalfd(-1, &one, SFD_NONBLOCK | SFD_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (signal_fd_ < 0 || stop_fd_ < 0) {
    restore();  // no descriptors left: run without Ctrl-C handling
    return;
  }
  // The watcher inherits the mask: SIGINT blocked.
  watcher_ = std::thread([this] { watch(); });
}

void MultiLoopSigint::watch() {
  for (;;) {
    pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    signalfd_siginfo info;
    if (::read(signal_fd_, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) continue;
    if (interrupts_.fetch_add(1) + 1 >= 2) {
      // The hard stop: SIGINT's default action, now, from this thread.
      signal(SIGINT, SIG_DFL);
      sigset_t one;
      sigemptyset(&one);
      sigaddset(&one, SIGINT);
      pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
      raise(SIGINT);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (live_) {
      live_->cancel("");
    } else {
      cancel_on_start_ = true;
    }
  }
}

void MultiLoopSigint::set_main_task(TaskBase* task) {
  std::lock_guard<std::mutex> lock(mu_);
  live_ = task;
  if (!task) return;
  if (!main_) {
    main_ = task;
    main_->ref();
  }
  if (cancel_on_start_) {
    cancel_on_start_ = false;
    task->cancel("");
  }
}

void MultiLoopSigint::restore() {
  if (watcher_.joinable()) {
    const uint64_t one = 1;
    if (::write(stop_fd_, &one, sizeof one) < 0) {
    }
    watcher_.join();
  }
  if (signal_fd_ >= 0) ::close(signal_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  signal_fd_ = stop_fd_ = -1;
  if (blocked_by_us_) {
    blocked_by_us_ = false;
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGINT);
    const timespec zero{0, 0};
    while (sigtimedwait(&one, nullptr, &zero) == SIGINT) {
    }
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  }
}

MultiLoopSigint::~MultiLoopSigint() {
  restore();
  if (main_) main_->unref();
}

void MultiLoopSigint::raise_if_interrupted() {
  if (interrupts_.load() > 0 && main_ && main_->cancelled() && main_->uncancel() == 0) {
    throw KeyboardInterrupt();
  }
}

}  // namespace internal

void block_signals(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : signals) {
    internal::check_signal(sig, "block_signals");
    sigaddset(&set, sig);
  }
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void EventLoop::add_signal_handler(int sig, absl::AnyInvocable<void()> fn) {
  internal::hub().add(this, sig, std::move(fn));
}

bool EventLoop::remove_signal_handler(int sig) { return internal::hub().remove(this, sig, 0); }

namespace internal {

AllSignalsBlocked::AllSignalsBlocked() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old_);
}

AllSignalsBlocked::~AllSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

}  // namespace internal

}  // namespace weft
