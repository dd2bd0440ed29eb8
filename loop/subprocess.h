// Child processes with pipes as streams (asyncio.create_subprocess_exec and asyncio's
// Process).
//
//   auto proc = weft::create_subprocess_exec(
//       "grep", {"-c", "weft"},
//       {.stdin = weft::Stdio::kPipe, .stdout = weft::Stdio::kPipe});
//   auto [out, err] = co_await proc->communicate("weft\nasyncio\nweft\n");   // out == "2\n"
//   int status = co_await proc->wait();                                      // 0
//
//   auto tail = weft::create_subprocess_exec("tail", {"-f", "log"},
//                                            {.stdout = weft::Stdio::kPipe});
//   std::string line = co_await tail->stdout()->readline();
//   tail->terminate();
//   co_await tail->wait();   // -SIGTERM
//
// Spawning is synchronous, unlike asyncio's coroutine: posix_spawnp returns as soon as the
// child has exec'd, with nothing to wait for. (It also keeps braced argument lists usable:
// g++ 12 rejects `co_await f("x", {"a", "b"})`, "array used as initializer".)
// posix_spawnp (vfork + exec: fast whatever the parent's size; `program` is looked
// up in PATH unless it contains a slash), with every descriptor of the parent close-on-exec
// (weft opens its own that way; descriptors the program opened without O_CLOEXEC are
// inherited, as with exec), an empty signal mask and SIGPIPE at its default disposition
// in the child. A program that cannot be started raises OSError from create_subprocess_exec
// ("cannot run 'nosuch': [Errno 2] No such file or directory").
//
// Standard streams: Stdio::kInherit (the parent's), kPipe (a stream: stdin() is a
// StreamWriter, stdout() / stderr() are StreamReaders with options.limit), kDevNull, and
// for stderr kStdout (into wherever stdout goes).
//
// Exit. The child's exit is noticed through a pidfd (pidfd_open, Linux >= 5.3) watched by the
// loop: no SIGCHLD handler, so weft never reaps (steals) children it did not start, and a
// pid is never reused under a Process (send_signal goes through the pidfd too). returncode()
// is the exit status, or -N when signal N killed the child; it stays unset until the loop has
// seen the exit (await wait()). If something else reaped the child first (a SIGCHLD handler
// calling waitpid(-1), or SIGCHLD set to SIG_IGN), the status is lost and returncode() is 255,
// as asyncio reports it.
//
// Lifetime: create_subprocess_exec returns a unique_ptr<Process>. Destroying a Process whose
// child still runs neither waits for nor kills it: the loop keeps watching the child and reaps
// it when it exits, so no zombie is left behind (unless the loop is closed first).
// The streams are the Process's: they go with it.
//
// Thread-safety: owning loop only (the loop that created the Process).
#ifndef WEFT_LOOP_SUBPROCESS_H_
#define WEFT_LOOP_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loop/coro.h"
#include "loop/future.h"
#include "loop/stream_reader.h"
#include "loop/stream_writer.h"

namespace weft {

class EventLoop;

// Where a child's standard stream goes (asyncio's None, PIPE, DEVNULL, STDOUT).
enum class Stdio { kInherit, kPipe, kDevNull, kStdout };

struct SubprocessOptions {
  Stdio stdin = Stdio::kInherit;
  Stdio stdout = Stdio::kInherit;
  Stdio stderr = Stdio::kInherit;
  // The child's working directory; unset: the parent's.
  std::optional<std::string> cwd;
  // The child's environment as "NAME=value" entries; unset: the parent's.
  std::optional<std::vector<std::string>> env;
  // The buffer limit of the stdout / stderr StreamReaders.
  size_t limit = StreamReader::kDefaultLimit;
};

// What communicate() collected ("" for a stream that is not a pipe).
struct CommunicateResult {
  std::string stdout;
  std::string stderr;
};

class Process {
 public:
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // The pipes (nullptr unless Stdio::kPipe).
  StreamWriter* stdin() const { return stdin_.get(); }
  StreamReader* stdout() const { return stdout_.get(); }
  StreamReader* stderr() const { return stderr_.get(); }

  // The exit status (-N if killed by signal N); unset while the loop has not seen the exit.
  std::optional<int> returncode() const { return returncode_; }
  // Waits for the child to exit; returns returncode(). Any number of tasks may wait;
  // cancelling one does not disturb the others.
  Coro<int> wait();
  // Writes `input` to stdin (if given) and closes it, reads stdout and stderr to end of file,
  // all at once (so that a child blocked writing a full pipe never deadlocks against a parent
  // blocked writing its stdin), then waits for the exit. A child that exits without reading
  // all of its input is not an error (BrokenPipeError is ignored, as asyncio does).
  // Passing input without stdin=kPipe raises std::invalid_argument.
  Coro<CommunicateResult> communicate(std::optional<std::string> input = std::nullopt);

  // Sends `sig` through the pidfd. Does nothing once the exit was seen (returncode() is set).
  // Raises OSError if the kernel refuses.
  void send_signal(int sig);
  void terminate();  // SIGTERM
  void kill();       // SIGKILL

 private:
  friend std::unique_ptr<Process> create_subprocess_exec(std::string program,
                                                         std::vector<std::string> args,
                                                         SubprocessOptions options);
  Process(EventLoop* loop, pid_t pid, int pidfd);
  void watch_exit();
  void on_exit_readable();
  Coro<void> feed_stdin(std::optional<std::string> input);
  static Coro<std::string> read_all(StreamReader* r);

  EventLoop* loop_;
  pid_t pid_;
  int pidfd_;
  bool watching_ = false;
  std::optional<int> returncode_;
  std::vector<Future<int>> exit_waiters_;
  std::unique_ptr<StreamWriter> stdin_;
  std::unique_ptr<StreamReader> stdout_;
  std::unique_ptr<StreamReader> stderr_;
};

// Starts `program` with arguments `args` (argv[0] is `program`). Called on a running loop,
// which the Process belongs to (RuntimeError otherwise).
std::unique_ptr<Process> create_subprocess_exec(std::string program,
                                                std::vector<std::string> args = {},
                                                SubprocessOptions options = {});

}  // namespace weft

#endif  // WEFT_LOOP_SUBPROCESS_H_
