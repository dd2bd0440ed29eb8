// EventLoop::add_signal_handler / remove_signal_handler (signalfd), and weft::run's SIGINT
// handling (in child processes, so that the test runner never sees a SIGINT).
#include "loop/signals.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loop/weft.h"
#include "scheduler/to_thread.h"

namespace weft {
namespace {

using ::testing::HasSubstr;

bool blocked_in_this_thread(int sig) {
  sigset_t current;
  pthread_sigmask(SIG_BLOCK, nullptr, &current);
  return sigismember(&current, sig);
}

TEST(SignalsTest, AHandlerRunsOnTheLoopWhenTheSignalArrives) {
  weft::run([]() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    Future<int> got = loop.create_future<int>();
    EventLoop* ran_on = nullptr;
    int calls = 0;
    loop.add_signal_handler(SIGUSR2, [&] {
      ran_on = EventLoop::current_or_null();
      if (++calls == 1) got.set_result(SIGUSR2);
    });
    EXPECT_TRUE(blocked_in_this_thread(SIGUSR2));
    EXPECT_EQ(kill(getpid(), SIGUSR2), 0);
    EXPECT_EQ(co_await got, SIGUSR2);
    EXPECT_EQ(ran_on, &loop);
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
    EXPECT_FALSE(blocked_in_this_thread(SIGUSR2));
    EXPECT_FALSE(loop.remove_signal_handler(SIGUSR2));
  }());
}

TEST(SignalsTest, ASecondHandlerReplacesTheFirst) {
  weft::run([]() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    Future<std::string> got = loop.create_future<std::string>();
    loop.add_signal_handler(SIGUSR2, [&] { got.set_result("first"); });
    loop.add_signal_handler(SIGUSR2, [&] { got.set_result("second"); });
    kill(getpid(), SIGUSR2);
    EXPECT_EQ(co_await got, "second");
    loop.remove_signal_handler(SIGUSR2);
  }());
}

TEST(SignalsTest, SeveralSignalsShareOneDescriptor) {
  weft::run([]() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    Future<void> a = loop.create_future<void>();
    Future<void> b = loop.create_future<void>();
    loop.add_signal_handler(SIGUSR1, [&] { a.set_result(); });
    loop.add_signal_handler(SIGUSR2, [&] { b.set_result(); });
    kill(getpid(), SIGUSR2);
    co_await b;
    EXPECT_FALSE(a.done());
    kill(getpid(), SIGUSR1);
    co_await a;
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
    // SIGUSR2 still routed after the other one left.
    Future<void> c = loop.create_future<void>();
    loop.add_signal_handler(SIGUSR2, [&] { c.set_result(); });
    kill(getpid(), SIGUSR2);
    co_await c;
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
  }());
}

TEST(SignalsTest, AHandlerMayRemoveItself) {
  weft::run([]() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    Future<void> got = loop.create_future<void>();
    loop.add_signal_handler(SIGUSR2, [&] {
      EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
      got.set_result();
    });
    kill(getpid(), SIGUSR2);
    co_await got;
    EXPECT_FALSE(blocked_in_this_thread(SIGUSR2));
  }());
}

TEST(SignalsTest, AThrowingHandlerGoesToTheExceptionHandler) {
  std::vector<std::string> reports;
  weft::run([](std::vector<std::string>* reports) -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    Future<void> after = loop.create_future<void>();
    loop.set_exception_handler([&, reports](EventLoop&, const ExceptionContext& c) {
      reports->push_back(c.message + " / " + c.exception_text());
      after.set_result();
    });
    loop.add_signal_handler(SIGUSR2, [] { throw std::runtime_error("handler failed"); });
    kill(getpid(), SIGUSR2);
    co_await after;
    loop.remove_signal_handler(SIGUSR2);
  }(&reports));
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_THAT(reports[0], HasSubstr("Exception in the handler of signal 12"));
  EXPECT_THAT(reports[0], HasSubstr("handler failed"));
}

TEST(SignalsTest, RemovingDiscardsAPendingDelivery) {
  weft::run([]() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    loop.add_signal_handler(SIGUSR2, [] { ADD_FAILURE() << "the handler was removed"; });
    kill(getpid(), SIGUSR2);  // pending: the loop has not read it yet
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
    // Unblocked again without the default action (which would end this process).
    EXPECT_FALSE(blocked_in_this_thread(SIGUSR2));
    co_await sleep(Duration::zero());
  }());
}

TEST(SignalsTest, InvalidSignalsAreRefused) {
  weft::run([]() -> Coro<void> {
    EventLoop& loop = EventLoop::current();
    try {
      loop.add_signal_handler(SIGKILL, [] {});
      ADD_FAILURE() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), HasSubstr("cannot be caught"));
    }
    EXPECT_THROW(loop.add_signal_handler(SIGSTOP, [] {}), std::invalid_argument);
    EXPECT_THROW(loop.add_signal_handler(0, [] {}), std::invalid_argument);
    EXPECT_THROW(loop.add_signal_handler(NSIG, [] {}), std::invalid_argument);
    EXPECT_THROW(loop.remove_signal_handler(-1), std::invalid_argument);
    co_return;
  }());
}

TEST(SignalsTest, OffTheMainThreadIsAnError) {
  std::string error;
  std::thread t([&] {
    EventLoop loop;
    try {
      loop.add_signal_handler(SIGUSR2, [] {});
    } catch (const RuntimeError& e) {
      error = e.what();
    }
    loop.close();
  });
  t.join();
  EXPECT_THAT(error, HasSubstr("called from a thread other than the main thread"));
}

TEST(SignalsTest, OneLiveLoopOwnsTheHandlers) {
  EventLoop a;
  a.add_signal_handler(SIGUSR2, [] {});
  {
    EventLoop b;
    try {
      b.add_signal_handler(SIGUSR1, [] {});
      ADD_FAILURE() << "expected RuntimeError";
    } catch (const RuntimeError& e) {
      EXPECT_THAT(e.what(), HasSubstr("another live event loop owns"));
    }
    EXPECT_FALSE(b.remove_signal_handler(SIGUSR2));
    b.close();
  }
  // Closing the owner without removing its handlers hands them over to the next loop.
  a.close();
  EventLoop c;
  c.add_signal_handler(SIGUSR1, [] {});
  EXPECT_TRUE(blocked_in_this_thread(SIGUSR1));
  EXPECT_FALSE(blocked_in_this_thread(SIGUSR2));
  EXPECT_TRUE(c.remove_signal_handler(SIGUSR1));
  c.close();
}

TEST(SignalsTest, BlockSignalsBlocksInTheCallingThread) {
  std::thread t([] {
    EXPECT_FALSE(blocked_in_this_thread(SIGHUP));
    block_signals({SIGHUP});
    EXPECT_TRUE(blocked_in_this_thread(SIGHUP));
  });
  t.join();
  EXPECT_THROW(block_signals({SIGKILL}), std::invalid_argument);
}

// --- weft::run and SIGINT: each case runs in a child process (a death test). ---

enum ExitCode : int { kKeyboardInterrupt = 3, kReturned = 4, kOther = 5 };

[[noreturn]] void exit_with(int code) {
  std::fflush(nullptr);
  std::_Exit(code);
}

template <class Main>
void run_in_child(Main main) {
  try {
    const int r = weft::run(main());
    exit_with(kReturned * 10 + r);
  } catch (const KeyboardInterrupt&) {
    exit_with(kKeyboardInterrupt);
  } catch (...) {
    exit_with(kOther);
  }
}

class RunSigintTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(RunSigintTest, TheFirstSigintCancelsTheMainTask) {
  EXPECT_EXIT(run_in_child([]() -> Coro<int> {
                kill(getpid(), SIGINT);
                try {
                  co_await EventLoop::current().create_future<int>();  // forever
                } catch (const CancelledError&) {
                  std::fprintf(stderr, "main task cancelled\n");
                  throw;
                }
                co_return 0;
              }),
              ::testing::ExitedWithCode(kKeyboardInterrupt), "main task cancelled");
}

TEST_F(RunSigintTest, AMainTaskThatSwallowsTheCancellationReturnsNormally) {
  EXPECT_EXIT(run_in_child([]() -> Coro<int> {
                kill(getpid(), SIGINT);
                try {
                  co_await EventLoop::current().create_future<int>();
                } catch (const CancelledError&) {
                }
                co_return 2;
              }),
              ::testing::ExitedWithCode(kReturned * 10 + 2), "");
}

// Sends this process a SIGINT and swallows the cancellation of the main task it causes (the
// first Ctrl-C), saying so on stderr.
Coro<void> swallow_a_sigint() {
  kill(getpid(), SIGINT);
  try {
    co_await EventLoop::current().create_future<int>();
  } catch (const CancelledError&) {
    std::fprintf(stderr, "ignoring the first\n");
  }
}

TEST_F(RunSigintTest, TheSecondSigintStopsTheLoop) {
  EXPECT_EXIT(run_in_child([]() -> Coro<int> {
                co_await swallow_a_sigint();
                kill(getpid(), SIGINT);
                try {
                  co_await EventLoop::current().create_future<int>();
                } catch (const CancelledError&) {
                  // weft::run's shutdown cancels the tasks still pending.
                  std::fprintf(stderr, "cancelled by the shutdown\n");
                  throw;
                }
                co_return 0;
              }),
              ::testing::ExitedWithCode(kKeyboardInterrupt),
              "ignoring the first\n(.|\n)*cancelled by the shutdown");
}

// A hard stop does not wait for a blocking call that never returns: the run's pool is left
// to its threads (a normal end would wait for the call, as asyncio's shutdown_default_executor
// does).
TEST_F(RunSigintTest, TheSecondSigintDoesNotWaitForAStuckBlockingCall) {
  EXPECT_EXIT(run_in_child([]() -> Coro<int> {
                static std::mutex mu;
                static std::condition_variable never;
                (void)to_thread([] {
                  std::unique_lock<std::mutex> lock(mu);
                  never.wait(lock, [] { return false; });
                });
                co_await swallow_a_sigint();
                kill(getpid(), SIGINT);
                co_await EventLoop::current().create_future<int>();
                co_return 0;
              }),
              ::testing::ExitedWithCode(kKeyboardInterrupt), "ignoring the first");
}

TEST_F(RunSigintTest, AProgramsOwnSigintHandlerReplacesRuns) {
  EXPECT_EXIT(run_in_child([]() -> Coro<int> {
                EventLoop& loop = EventLoop::current();
                Future<int> got = loop.create_future<int>();
                loop.add_signal_handler(SIGINT, [&] { got.set_result(6); });
                kill(getpid(), SIGINT);
                const int v = co_await got;
                loop.remove_signal_handler(SIGINT);
                co_return v;
              }),
              ::testing::ExitedWithCode(kReturned * 10 + 6), "");
}

template <class Main>
void run_on_runtime_in_child(Main main) {
  try {
    const int r = weft::run(main(), {.threads = 2});
    exit_with(kReturned * 10 + r);
  } catch (const KeyboardInterrupt&) {
    exit_with(kKeyboardInterrupt);
  } catch (...) {
    exit_with(kOther);
  }
}

TEST_F(RunSigintTest, OnARuntimeTheFirstSigintCancelsTheMainTask) {
  EXPECT_EXIT(run_on_runtime_in_child([]() -> Coro<int> {
                kill(getpid(), SIGINT);
                try {
                  co_await EventLoop::current().create_future<int>();  // forever
                } catch (const CancelledError&) {
                  std::fprintf(stderr, "main task cancelled\n");
                  throw;
                }
                co_return 0;
              }),
              ::testing::ExitedWithCode(kKeyboardInterrupt), "main task cancelled");
}

TEST_F(RunSigintTest, OnARuntimeASwallowedCancellationReturnsNormally) {
  EXPECT_EXIT(run_on_runtime_in_child([]() -> Coro<int> {
                kill(getpid(), SIGINT);
                try {
                  co_await EventLoop::current().create_future<int>();
                } catch (const CancelledError&) {
                }
                co_return 3;
              }),
              ::testing::ExitedWithCode(kReturned * 10 + 3), "");
}

TEST_F(RunSigintTest, OnARuntimeTheSecondSigintEndsTheProcess) {
  EXPECT_EXIT(run_on_runtime_in_child([]() -> Coro<int> {
                kill(getpid(), SIGINT);
                try {
                  co_await EventLoop::current().create_future<int>();
                } catch (const CancelledError&) {
                }
                kill(getpid(), SIGINT);
                co_await EventLoop::current().create_future<int>();  // until killed
                co_return 0;
              }),
              ::testing::KilledBySignal(SIGINT), "");
}

TEST_F(RunSigintTest, SigintIsRestoredAfterRun) {
  EXPECT_EXIT(
      {
        weft::run([]() -> Coro<void> {
          EXPECT_TRUE(blocked_in_this_thread(SIGINT));
          co_return;
        }());
        if (blocked_in_this_thread(SIGINT)) exit_with(kOther);
        // The default action again: this ends the child by SIGINT.
        kill(getpid(), SIGINT);
        exit_with(kOther);
      },
      ::testing::KilledBySignal(SIGINT), "");
}

}  // namespace
}  // namespace weft
