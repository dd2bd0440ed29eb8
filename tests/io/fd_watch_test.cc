// Tests for FdWatch (loop/fd_watch.h): waiting for readability and writability on
// socketpairs, remembered edges, hang-up, cancellation, reset while waiting, one waiter per
// direction, loop binding, and the conflict with add_reader. No sleeps: tasks are ordered by
// yielding through the loop.

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <thread>
#include <string>
#include <system_error>
#include <vector>

#include "loop/weft.h"
#include "tests/io/io_test_util.h"

namespace weft {
namespace {

using ::testing::HasSubstr;
using io_test::SocketPair;
using io_test::yield_times;

// Reads what is there, waiting for readability on EAGAIN. Returns "" at EOF.
Coro<std::string> read_some(int fd, FdWatch& watch) {
  char buf[256];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n >= 0) co_return std::string(buf, static_cast<size_t>(n));
    if (errno != EAGAIN) raise_os_error(errno, "read");
    co_await watch.readable();
  }
}

TEST(FdWatchTest, ReadableWakesWhenDataArrives) {
  SocketPair sp;
  FdWatch watch(sp.a);
  std::string got = run([&]() -> Coro<std::string> {
    Task<std::string> reader = create_task(read_some(sp.a, watch));
    co_await yield_times(3);  // the reader is waiting now
    EXPECT_FALSE(reader.done());
    EXPECT_EQ(::write(sp.b, "hello", 5), 5);
    co_return co_await reader;
  }());
  EXPECT_EQ(got, "hello");
}

TEST(FdWatchTest, HangUpWakesReaderWhichSeesEof) {
  SocketPair sp;
  FdWatch watch(sp.a);
  std::string got = run([&]() -> Coro<std::string> {
    Task<std::string> reader = create_task(read_some(sp.a, watch));
    co_await yield_times(3);
    ::close(sp.b);
    sp.b = -1;
    co_return co_await reader;
  }());
  EXPECT_EQ(got, "");
}

TEST(FdWatchTest, EdgeThatCameWhileNobodyWaitedIsRemembered) {
  SocketPair sp;
  FdWatch watch(sp.a);
  run([&]() -> Coro<void> {
    // Registers (the socket is writable: that first edge is remembered for writers).
    co_await watch.writable();
    EXPECT_EQ(::write(sp.b, "x", 1), 1);
    co_await yield_times(2);  // the poller sees the input edge; nobody waits for it
    // The wait returns at once although nobody waited when the edge came.
    co_await watch.readable();
    char c;
    EXPECT_EQ(::read(sp.a, &c, 1), 1);
    EXPECT_EQ(c, 'x');
  }());
}

// Reads everything there is after a few trips through the loop.
Coro<void> drain_later(int fd) {
  co_await yield_times(2);
  char buf[65536];
  while (::read(fd, buf, sizeof buf) > 0) {
  }
}

TEST(FdWatchTest, WritableWakesWhenThePeerDrains) {
  SocketPair sp;
  int size = 4096;
  setsockopt(sp.a, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  FdWatch watch(sp.a);
  size_t written = run([&]() -> Coro<size_t> {
    std::vector<char> chunk(4096, 'z');
    size_t total = 0;
    int waits = 0;
    // Fill the socket, then wait for room twice (the drainer below makes it).
    while (waits < 2) {
      ssize_t n = ::write(sp.a, chunk.data(), chunk.size());
      if (n > 0) {
        total += static_cast<size_t>(n);
        continue;
      }
      EXPECT_EQ(errno, EAGAIN);
      Task<void> drainer = create_task(drain_later(sp.b));
      co_await watch.writable();
      co_await drainer;
      ++waits;
    }
    co_return total;
  }());
  EXPECT_GT(written, 0u);
}

TEST(FdWatchTest, CancelRemovesTheWaitAndTheWatchStaysUsable) {
  SocketPair sp;
  FdWatch watch(sp.a);
  run([&]() -> Coro<void> {
    Task<std::string> reader = create_task(read_some(sp.a, watch));
    co_await yield_times(3);
    reader.cancel("stop reading");
    try {
      co_await reader;
      ADD_FAILURE() << "expected CancelledError";
    } catch (const CancelledError& e) {
      EXPECT_STREQ(e.what(), "stop reading");
    }
    // The slot is free again: a new reader may wait.
    Task<std::string> second = create_task(read_some(sp.a, watch));
    co_await yield_times(3);
    EXPECT_EQ(::write(sp.b, "ok", 2), 2);
    EXPECT_EQ(co_await second, "ok");
  }());
}

TEST(FdWatchTest, SecondWaiterInTheSameDirectionIsRefused) {
  SocketPair sp;
  FdWatch watch(sp.a);
  run([&]() -> Coro<void> {
    Task<std::string> first = create_task(read_some(sp.a, watch));
    co_await yield_times(3);
    try {
      co_await watch.readable();
      ADD_FAILURE() << "expected RuntimeError";
    } catch (const RuntimeError& e) {
      EXPECT_THAT(e.what(), HasSubstr("already waiting for fd"));
    }
    EXPECT_EQ(::write(sp.b, "1", 1), 1);
    EXPECT_EQ(co_await first, "1");
  }());
}

TEST(FdWatchTest, ResetWhileWaitingRaisesEbadfInTheWaiter) {
  SocketPair sp;
  FdWatch watch(sp.a);
  run([&]() -> Coro<void> {
    Task<std::string> reader = create_task(read_some(sp.a, watch));
    co_await yield_times(3);
    watch.reset();
    EXPECT_EQ(watch.fd(), -1);
    try {
      co_await reader;
      ADD_FAILURE() << "expected OSError";
    } catch (const OSError& e) {
      EXPECT_EQ(e.errno_value(), EBADF);
      EXPECT_THAT(e.what(), HasSubstr("closed while a task waited"));
    }
  }());
}

TEST(FdWatchTest, WaitingOnAResetWatchRaisesEbadf) {
  FdWatch watch;
  run([&]() -> Coro<void> {
    try {
      co_await watch.readable();
      ADD_FAILURE() << "expected OSError";
    } catch (const OSError& e) {
      EXPECT_EQ(e.errno_value(), EBADF);
    }
  }());
}

TEST(FdWatchTest, InvalidDescriptorRaisesOSError) {
  FdWatch watch(1 << 20);  // not open
  run([&]() -> Coro<void> {
    try {
      co_await watch.readable();
      ADD_FAILURE() << "expected OSError";
    } catch (const OSError& e) {
      EXPECT_EQ(e.errno_value(), EBADF);
    }
  }());
}

TEST(FdWatchTest, WaitFromAnotherLoopIsRefusedUntilTheFirstLoopCloses) {
  SocketPair sp;
  FdWatch watch(sp.a);
  EXPECT_EQ(::write(sp.b, "ab", 2), 2);
  auto wait_once = [&]() -> Coro<void> { co_await watch.readable(); };
  auto first = std::make_unique<EventLoop>();
  first->run_until_complete(wait_once());
  EXPECT_EQ(watch.loop(), first.get());
  {
    EventLoop second;
    try {
      second.run_until_complete(wait_once());
      ADD_FAILURE() << "expected RuntimeError";
    } catch (const RuntimeError& e) {
      EXPECT_THAT(e.what(), HasSubstr("registered with another event loop"));
    }
    first->close();
    EXPECT_EQ(watch.loop(), nullptr);
    second.run_until_complete(wait_once());  // registers with `second` now
    EXPECT_EQ(watch.loop(), &second);
    watch.reset();
  }
}

TEST(FdWatchTest, WatchOutlivingItsLoopIsSafe) {
  SocketPair sp;
  FdWatch watch(sp.a);
  run([&]() -> Coro<void> { co_await watch.writable(); }());
  EXPECT_EQ(watch.loop(), nullptr);  // weft::run closed its loop
  watch.reset();
}

TEST(FdWatchTest, AddReaderOnAWatchedFdIsRefused) {
  SocketPair sp;
  FdWatch watch(sp.a);
  run([&]() -> Coro<void> {
    co_await watch.writable();
    try {
      EventLoop::current().add_reader(sp.a, [] {});
      ADD_FAILURE() << "expected std::system_error";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EEXIST);
      EXPECT_THAT(e.what(), HasSubstr("FdWatch"));
    }
    watch.reset();
    // Once unregistered, add_reader may take the descriptor.
    EventLoop::current().add_reader(sp.a, [] {});
    EXPECT_TRUE(EventLoop::current().remove_reader(sp.a));
  }());
}

TEST(FdWatchTest, PingPongManyRounds) {
  SocketPair sp;
  FdWatch wa(sp.a);
  FdWatch wb(sp.b);
  constexpr int kRounds = 2000;
  run([&]() -> Coro<void> {
    auto player = [](int fd, FdWatch& w, bool serve) -> Coro<int> {
      int rounds = 0;
      if (serve) {
        EXPECT_EQ(::write(fd, "p", 1), 1);
      }
      while (rounds < kRounds) {
        char c;
        ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EAGAIN) {
          co_await w.readable();
          continue;
        }
        EXPECT_EQ(n, 1);
        ++rounds;
        if (!(serve && rounds == kRounds)) {
          EXPECT_EQ(::write(fd, "p", 1), 1);
        }
      }
      co_return rounds;
    };
    Task<int> a = create_task(player(sp.a, wa, true));
    Task<int> b = create_task(player(sp.b, wb, false));
    EXPECT_EQ(co_await a, kRounds);
    EXPECT_EQ(co_await b, kRounds);
  }());
}

TEST(FdWatchTest, ResetFromAnotherThreadWhileTheLoopRuns) {
  SocketPair sp;
  FdWatch watch(sp.a);
  EventLoop loop;
  std::atomic<bool> registered{false};
  Future<void> release = loop.create_future<void>();
  std::thread t([&] {
    loop.run_until_complete([&]() -> Coro<void> {
      co_await watch.writable();
      registered.store(true, std::memory_order_release);
      co_await release;
    }());
  });
  // Wait (without sleeping) until the loop has registered the descriptor.
  while (!registered.load(std::memory_order_acquire)) std::this_thread::yield();
  // Reset off the loop's thread: the removal is posted to the loop.
  watch.reset();
  loop.call_soon_threadsafe([&] { release.set_result(); });
  t.join();
}

}  // namespace
}  // namespace weft
