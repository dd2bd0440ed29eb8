// create_subprocess_exec and Process: pipes, communicate, exit statuses, signals, and
// children reaped by other code (weft does not reap theirs; theirs reaping weft's gives 255).
#include "loop/subprocess.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loop/os_error.h"
#include "loop/weft.h"
#include "tests/io/io_test_util.h"
#include "tests/io/pipe_util.h"

namespace weft {
namespace {

using ::testing::HasSubstr;
using io_test::pattern;
using io_test::yield_times;

template <class Body>
void run_test(Body body) {
  weft::run(body());
}

TEST(SubprocessTest, ReadsAChildsStdout) {
  run_test([]() -> Coro<void> {
    auto p = create_subprocess_exec("echo", {"hello", "world"},
                                             {.stdout = Stdio::kPipe});
    EXPECT_GT(p->pid(), 0);
    EXPECT_EQ(p->stdin(), nullptr);
    EXPECT_EQ(p->stderr(), nullptr);
    EXPECT_EQ(co_await p->stdout()->readline(), "hello world\n");
    EXPECT_EQ(co_await p->stdout()->read(), "");
    EXPECT_EQ(co_await p->wait(), 0);
    EXPECT_EQ(p->returncode(), 0);
  });
}

TEST(SubprocessTest, ExitStatusAndKillingSignalAreTheReturncode) {
  run_test([]() -> Coro<void> {
    auto a = create_subprocess_exec("sh", {"-c", "exit 7"});
    EXPECT_EQ(a->returncode(), std::nullopt);
    EXPECT_EQ(co_await a->wait(), 7);
    auto b = create_subprocess_exec("sh", {"-c", "kill -TERM $$"});
    EXPECT_EQ(co_await b->wait(), -SIGTERM);
  });
}

TEST(SubprocessTest, SeveralWaitersAndACancelledOne) {
  run_test([]() -> Coro<void> {
    auto p = create_subprocess_exec("cat", {}, {.stdin = Stdio::kPipe});
    Task<int> w1 = create_task(p->wait());
    Task<int> w2 = create_task(p->wait());
    Task<int> w3 = create_task(p->wait());
    co_await sleep(Duration::zero());
    w2.cancel();
    co_await sleep(Duration::zero());
    EXPECT_TRUE(w2.cancelled());
    p->stdin()->close();  // cat sees end of file and exits
    EXPECT_EQ(co_await w1, 0);
    EXPECT_EQ(co_await w3, 0);
    EXPECT_EQ(co_await p->wait(), 0);
  });
}

TEST(SubprocessTest, StdinPipeToStdoutPipe) {
  run_test([]() -> Coro<void> {
    auto p = create_subprocess_exec("cat", {},
                                             {.stdin = Stdio::kPipe, .stdout = Stdio::kPipe});
    p->stdin()->write("line 1\nline 2\n");
    EXPECT_EQ(co_await p->stdout()->readline(), "line 1\n");
    EXPECT_EQ(co_await p->stdout()->readline(), "line 2\n");
    p->stdin()->write_eof();
    EXPECT_EQ(co_await p->stdout()->readline(), "");
    EXPECT_TRUE(p->stdout()->at_eof());
    EXPECT_EQ(co_await p->wait(), 0);
  });
}

TEST(SubprocessTest, CommunicateLargeInputAndOutputDoesNotDeadlock) {
  run_test([]() -> Coro<void> {
    // 4 MiB through cat while 1.3 MiB go to stderr, before and after: the child blocks on a
    // full stdout or stderr pipe unless the parent reads both while it writes stdin.
    const std::string input = pattern(4 << 20);
    auto p = create_subprocess_exec(
        "sh", {"-c", "seq 1 100000 >&2; cat; seq 100001 200000 >&2"},
        {.stdin = Stdio::kPipe, .stdout = Stdio::kPipe, .stderr = Stdio::kPipe});
    CommunicateResult r = co_await p->communicate(input);
    EXPECT_EQ(r.stdout.size(), input.size());
    EXPECT_TRUE(r.stdout == input);
    EXPECT_THAT(r.stderr, ::testing::StartsWith("1\n2\n3\n"));
    EXPECT_THAT(r.stderr, ::testing::HasSubstr("\n99999\n100000\n100001\n"));
    EXPECT_THAT(r.stderr, ::testing::EndsWith("\n200000\n"));
    EXPECT_EQ(p->returncode(), 0);
  });
}

TEST(SubprocessTest, CommunicateWithAChildThatDoesNotReadItsInput) {
  run_test([]() -> Coro<void> {
    auto p = create_subprocess_exec("sh", {"-c", "exec 0<&-; echo done"},
                                             {.stdin = Stdio::kPipe, .stdout = Stdio::kPipe});
    CommunicateResult r = co_await p->communicate(pattern(1 << 20));
    EXPECT_EQ(r.stdout, "done\n");
    EXPECT_EQ(r.stderr, "");
    EXPECT_EQ(p->returncode(), 0);
  });
}

TEST(SubprocessTest, CommunicateInputWithoutAStdinPipeIsAnError) {
  run_test([]() -> Coro<void> {
    auto p = create_subprocess_exec("true");
    EXPECT_THROW(co_await p->communicate("x"), std::invalid_argument);
    CommunicateResult r = co_await p->communicate();
    EXPECT_EQ(r.stdout, "");
    EXPECT_EQ(p->returncode(), 0);
  });
}

TEST(SubprocessTest, StderrIntoStdoutAndDevNull) {
  run_test([]() -> Coro<void> {
    auto a = create_subprocess_exec("sh", {"-c", "echo out; echo err >&2"},
                                             {.stdout = Stdio::kPipe, .stderr = Stdio::kStdout});
    EXPECT_EQ(a->stderr(), nullptr);
    CommunicateResult r = co_await a->communicate();
    EXPECT_EQ(r.stdout, "out\nerr\n");
    auto b = create_subprocess_exec(
        "sh", {"-c", "cat; echo err >&2"},
        {.stdin = Stdio::kDevNull, .stdout = Stdio::kPipe, .stderr = Stdio::kDevNull});
    r = co_await b->communicate();
    EXPECT_EQ(r.stdout, "");
    EXPECT_EQ(r.stderr, "");
    EXPECT_EQ(b->returncode(), 0);
  });
}

TEST(SubprocessTest, CwdAndEnv) {
  run_test([]() -> Coro<void> {
    auto p = create_subprocess_exec(
        "/bin/sh", {"-c", "pwd; echo $WEFT_TEST_VAR"},
        {.stdout = Stdio::kPipe, .cwd = "/", .env = std::vector<std::string>{"WEFT_TEST_VAR=42"}});
    CommunicateResult r = co_await p->communicate();
    EXPECT_EQ(r.stdout, "/\n42\n");
  });
}

TEST(SubprocessTest, AProgramThatDoesNotExistRaisesOSError) {
  run_test([]() -> Coro<void> {
    try {
      create_subprocess_exec("weft-no-such-program", {"x"});
      ADD_FAILURE() << "expected OSError";
    } catch (const OSError& e) {
      EXPECT_EQ(e.errno_value(), ENOENT);
      EXPECT_THAT(e.what(), HasSubstr("cannot run 'weft-no-such-program'"));
    }
    EXPECT_THROW(create_subprocess_exec("true", {}, {.stdout = Stdio::kStdout}),
                 std::invalid_argument);
    co_return;
  });
}

TEST(SubprocessTest, KilledMidStreamEndsTheStreamAndReportsTheSignal) {
  run_test([]() -> Coro<void> {
    // The child prints a line, then blocks reading its stdin, which nobody writes.
    auto p = create_subprocess_exec(
        "sh", {"-c", "echo ready; echo partial-no-newline | tr -d '\\n'; read x; echo never"},
        {.stdin = Stdio::kPipe, .stdout = Stdio::kPipe});
    EXPECT_EQ(co_await p->stdout()->readline(), "ready\n");
    EXPECT_EQ(co_await p->stdout()->readexactly(18), "partial-no-newline");
    Task<std::string> rest = create_task(p->stdout()->read());
    co_await sleep(Duration::zero());
    EXPECT_FALSE(rest.done());
    p->kill();
    EXPECT_EQ(co_await p->wait(), -SIGKILL);
    EXPECT_EQ(co_await rest, "");  // end of file: the writer is gone
    // The exit is known: signals are no-ops now, and writing to its stdin fails cleanly.
    p->send_signal(SIGTERM);
    EXPECT_THROW(p->stdin()->write("x"), BrokenPipeError);
    EXPECT_THROW(co_await p->stdin()->drain(), BrokenPipeError);
  });
}

TEST(SubprocessTest, TerminateAndSendSignal) {
  run_test([]() -> Coro<void> {
    auto p = create_subprocess_exec("cat", {}, {.stdin = Stdio::kPipe});
    p->terminate();
    EXPECT_EQ(co_await p->wait(), -SIGTERM);
    auto q = create_subprocess_exec(
        "sh", {"-c", "trap 'exit 3' USR1; echo armed; read x"},
        {.stdin = Stdio::kPipe, .stdout = Stdio::kPipe});
    EXPECT_EQ(co_await q->stdout()->readline(), "armed\n");
    try {
      q->send_signal(12345);
      ADD_FAILURE() << "expected OSError";
    } catch (const OSError& e) {
      EXPECT_EQ(e.errno_value(), EINVAL);
      EXPECT_THAT(e.what(), HasSubstr("Process.send_signal(12345) to pid"));
    }
    q->send_signal(SIGUSR1);
    EXPECT_EQ(co_await q->wait(), 3);
  });
}

TEST(SubprocessTest, TheChildStartsWithAnEmptySignalMask) {
  run_test([]() -> Coro<void> {
    // weft::run blocks SIGINT in this thread (its Ctrl-C handling); the child must not
    // inherit that.
    auto p = create_subprocess_exec("grep", {"^SigBlk", "/proc/self/status"},
                                             {.stdout = Stdio::kPipe});
    CommunicateResult r = co_await p->communicate();
    EXPECT_EQ(r.stdout, "SigBlk:\t0000000000000000\n");
  });
}

TEST(SubprocessTest, DroppingARunningProcessLeavesNoZombie) {
  run_test([]() -> Coro<void> {
    pid_t pid;
    int pidfd;
    {
      auto p = create_subprocess_exec("cat", {}, {.stdin = Stdio::kPipe});
      pid = p->pid();
      pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    }  // stdin closes with the Process: cat sees end of file and exits
    EXPECT_GE(pidfd, 0);
    FdWatch exited(pidfd);
    co_await exited.readable();
    // The loop's reaper saw the same exit in the same poll; let it run.
    for (int i = 0; i < 3; ++i) co_await sleep(Duration::zero());
    siginfo_t info{};
    EXPECT_EQ(waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);  // already reaped: no zombie left
    exited.reset();
    ::close(pidfd);
  });
}

// weft watches its own children through pidfds and never reaps with waitpid(-1): a child the
// test forks itself, while a Process is alive and being waited on, stays the test's to reap,
// and the Process still reports its own exit status afterwards (the test never reaps for it).
TEST(SubprocessTest, ChildrenForkedByOtherCodeAreNotReaped) {
  run_test([]() -> Coro<void> {
    auto p = create_subprocess_exec("sh", {"-c", "read line; exit 5"}, {.stdin = Stdio::kPipe});
    Task<int> waiter = create_task(p->wait());
    co_await yield_times(2);  // the wait is under way: the loop watches the child
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(7);
    EXPECT_GT(pid, 0);
    // Waits until the child has exited, without reaping it: its SIGCHLD is pending by then.
    // Then lets the loop poll (a watch on the child's pidfd, readable in that same poll as
    // any signalfd of weft's would be) and run what that poll found, so that a SIGCHLD
    // handler on the loop, as well as a sigaction one, has had its chance to reap.
    siginfo_t info{};
    EXPECT_EQ(waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT), 0)
        << std::strerror(errno);
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
      FdWatch exited(pidfd);
      co_await exited.readable();
      exited.reset();
      ::close(pidfd);
    }
    co_await yield_times(3);
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid) << std::strerror(errno);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 7);
    EXPECT_FALSE(waiter.done());
    EXPECT_EQ(p->returncode(), std::nullopt);
    p->stdin()->write("go\n");
    p->stdin()->close();
    EXPECT_EQ(co_await waiter, 5);
    EXPECT_EQ(p->returncode(), 5);
  });
}

// The header: a child reaped behind weft's back has returncode 255 (its status is lost), as
// in asyncio. Reaped before anyone waits, and while a wait is under way.
TEST(SubprocessTest, AChildReapedByOtherCodeReports255) {
  run_test([]() -> Coro<void> {
    auto a = create_subprocess_exec("sh", {"-c", "exit 3"});
    int status = 0;
    EXPECT_EQ(waitpid(a->pid(), &status, 0), a->pid()) << std::strerror(errno);
    EXPECT_EQ(WEXITSTATUS(status), 3);
    EXPECT_EQ(co_await a->wait(), 255);
    EXPECT_EQ(a->returncode(), 255);

    auto b = create_subprocess_exec("sh", {"-c", "read line; exit 4"}, {.stdin = Stdio::kPipe});
    Task<int> waiter = create_task(b->wait());
    co_await yield_times(2);
    b->stdin()->close();  // sh reads end of file and exits
    // Blocks this loop's thread: the loop cannot see the exit before this reaps it.
    EXPECT_EQ(waitpid(b->pid(), &status, 0), b->pid()) << std::strerror(errno);
    EXPECT_EQ(WEXITSTATUS(status), 4);
    EXPECT_EQ(co_await waiter, 255);
    EXPECT_EQ(b->returncode(), 255);
  });
}

}  // namespace
}  // namespace weft
