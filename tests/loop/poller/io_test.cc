// Tests for EventLoop::add_reader / add_writer / remove_reader / remove_writer (the epoll
// poller) on pipes, socketpairs and eventfds: readiness fires the callback, level-triggered
// repeats until drained, removal and replacement (also from inside the callback), errors.
//
// To show that a callback does NOT fire, a test runs the loop through one more I/O poll
// (run_through_one_poll): a poll reports every ready descriptor at once, so a descriptor
// that is still readable would have had its callback run in that same run. No sleeps.

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "loop/weft.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using ::testing::HasSubstr;

class Pipe {
 public:
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  void close_read() {
    if (r >= 0) ::close(r);
    r = -1;
  }
  void close_write() {
    if (w >= 0) ::close(w);
    w = -1;
  }
  void write_str(const std::string& s) const {
    ASSERT_EQ(::write(w, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  int r = -1;
  int w = -1;
};

// Reads at most n bytes (non-blocking).
std::string read_some(int fd, size_t n) {
  std::string buf(n, '\0');
  ssize_t got = ::read(fd, buf.data(), n);
  buf.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return buf;
}

// Runs the loop until it has been through at least one I/O poll, then stops it.
void run_through_one_poll(EventLoop& loop) {
  int probe = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);  // readable at once
  ASSERT_GE(probe, 0);
  loop.add_reader(probe, [&loop, probe] {
    loop.remove_reader(probe);
    // Callbacks queued by the same poll run in this step; stop after them.
    loop.call_soon([&loop] { loop.stop(); });
  });
  loop.run_forever();
  ::close(probe);
}

TEST(IoReader, FiresWhenReadable) {
  EventLoop loop;
  Pipe p;
  p.write_str("x");
  std::string got;
  loop.add_reader(p.r, [&] {
    got += read_some(p.r, 16);
    EXPECT_TRUE(loop.remove_reader(p.r));
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(got, "x");
}

TEST(IoReader, WakesAParkedLoopWhenAnotherThreadWrites) {
  // No timers: the loop blocks in epoll until the pipe becomes readable.
  for (int round = 0; round < 20; ++round) {
    EventLoop loop;
    Pipe p;
    std::string got;
    std::thread writer;
    loop.add_reader(p.r, [&] {
      got += read_some(p.r, 16);
      loop.remove_reader(p.r);
      loop.stop();
    });
    loop.call_soon([&] { writer = std::thread([&] { p.write_str("hi"); }); });
    loop.run_forever();
    writer.join();
    ASSERT_EQ(got, "hi");
  }
}

TEST(IoReader, LevelTriggeredFiresAgainUntilDrained) {
  EventLoop loop;
  Pipe p;
  p.write_str("abc");  // one write; the reader takes one byte per call
  std::string got;
  int fired = 0;
  loop.add_reader(p.r, [&] {
    ++fired;
    got += read_some(p.r, 1);
  });
  for (int i = 0; i < 10 && got.size() < 3; ++i) run_through_one_poll(loop);
  EXPECT_EQ(got, "abc");
  EXPECT_EQ(fired, 3);  // fired again without a new write, while data remained
  run_through_one_poll(loop);
  run_through_one_poll(loop);
  EXPECT_EQ(fired, 3);  // drained: no more calls
  p.write_str("d");
  run_through_one_poll(loop);
  EXPECT_EQ(fired, 4);
  EXPECT_EQ(got, "abcd");
  EXPECT_TRUE(loop.remove_reader(p.r));
}

TEST(IoReader, RemoveInsideTheCallbackStopsIt) {
  EventLoop loop;
  Pipe p;
  p.write_str("unread data");
  int fired = 0;
  bool removed = false;
  loop.add_reader(p.r, [&] {
    ++fired;
    removed = loop.remove_reader(p.r);  // leaves the data unread
  });
  run_through_one_poll(loop);
  run_through_one_poll(loop);
  run_through_one_poll(loop);
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(removed);
  EXPECT_FALSE(loop.remove_reader(p.r));  // nothing registered any more
}

TEST(IoReader, ReplacingTheCallback) {
  EventLoop loop;
  Pipe p;
  p.write_str("z");
  auto first_state = std::make_shared<int>(0);
  int first = 0, second = 0;
  loop.add_reader(p.r, [&first, first_state] { ++first; });
  EXPECT_EQ(first_state.use_count(), 2);
  loop.add_reader(p.r, [&] {
    ++second;
    read_some(p.r, 16);
  });
  EXPECT_EQ(first_state.use_count(), 1);  // the replaced callback was released
  run_through_one_poll(loop);
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
  EXPECT_TRUE(loop.remove_reader(p.r));
}

TEST(IoReader, ReplacingTheCallbackFromInsideIt) {
  EventLoop loop;
  Pipe p;
  p.write_str("zz");
  std::vector<std::string> log;
  loop.add_reader(p.r, [&] {
    log.push_back("first");
    loop.add_reader(p.r, [&] {
      log.push_back("second:" + read_some(p.r, 16));
      loop.remove_reader(p.r);
    });
  });
  run_through_one_poll(loop);
  run_through_one_poll(loop);
  run_through_one_poll(loop);
  EXPECT_EQ(log, (std::vector<std::string>{"first", "second:zz"}));
}

TEST(IoReader, RemovedByAnotherCallbackOfTheSameStepDoesNotRun) {
  // Both pipes are readable in the same poll; whichever callback runs first removes the
  // other, which is already queued and must then be skipped.
  EventLoop loop;
  Pipe a, b;
  a.write_str("a");
  b.write_str("b");
  int fired = 0;
  loop.add_reader(a.r, [&] {
    ++fired;
    loop.remove_reader(a.r);
    loop.remove_reader(b.r);
  });
  loop.add_reader(b.r, [&] {
    ++fired;
    loop.remove_reader(a.r);
    loop.remove_reader(b.r);
  });
  run_through_one_poll(loop);
  run_through_one_poll(loop);
  EXPECT_EQ(fired, 1);
}

TEST(IoReader, HangUpWakesTheReaderWhichSeesEof) {
  EventLoop loop;
  Pipe p;
  bool eof = false;
  loop.add_reader(p.r, [&] {
    char c;
    eof = ::read(p.r, &c, 1) == 0;
    loop.remove_reader(p.r);
    loop.stop();
  });
  loop.call_soon([&] { p.close_write(); });
  loop.run_forever();
  EXPECT_TRUE(eof);
}

TEST(IoReader, ManyDescriptorsEachFireOnce) {
  EventLoop loop;
  constexpr int kPipes = 50;
  std::vector<std::unique_ptr<Pipe>> pipes;
  std::vector<int> fired(kPipes, 0);
  int remaining = kPipes;
  for (int i = 0; i < kPipes; ++i) {
    pipes.push_back(std::make_unique<Pipe>());
    int fd = pipes.back()->r;
    loop.add_reader(fd, [&, i, fd] {
      ++fired[i];
      read_some(fd, 16);
      loop.remove_reader(fd);
      if (--remaining == 0) loop.stop();
    });
  }
  for (int i = kPipes - 1; i >= 0; --i) pipes[i]->write_str("x");
  loop.run_forever();
  for (int i = 0; i < kPipes; ++i) EXPECT_EQ(fired[i], 1) << i;
}

TEST(IoReader, EventfdWrittenFromAnotherThread) {
  EventLoop loop;
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  uint64_t total = 0;
  std::thread writer;
  loop.add_reader(efd, [&] {
    uint64_t v = 0;
    if (::read(efd, &v, sizeof v) == sizeof v) total += v;
    if (total == 100) {
      loop.remove_reader(efd);
      loop.stop();
    }
  });
  loop.call_soon([&] {
    writer = std::thread([efd] {
      for (int i = 0; i < 100; ++i) {
        uint64_t one = 1;
        ASSERT_EQ(::write(efd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
      }
    });
  });
  loop.run_forever();
  writer.join();
  ::close(efd);
  EXPECT_EQ(total, 100u);
}

TEST(IoReader, FiresWhileATimerIsPending) {
  EventLoop loop;
  Pipe p;
  bool timer_fired = false;
  TimerHandle far = loop.call_later(1h, [&] { timer_fired = true; });
  loop.add_reader(p.r, [&] {
    read_some(p.r, 16);
    loop.remove_reader(p.r);
    loop.stop();
  });
  loop.call_soon([&] { p.write_str("t"); });
  loop.run_forever();
  EXPECT_FALSE(timer_fired);
  far.cancel();
}

TEST(IoReader, ATaskCanAwaitReadinessThroughAFuture) {
  EventLoop loop;
  Pipe p;
  std::string got = loop.run_until_complete([](EventLoop& l, Pipe& pipe) -> Coro<std::string> {
    Future<std::string> f = l.create_future<std::string>();
    l.add_reader(pipe.r, [&l, &pipe, f]() mutable {
      l.remove_reader(pipe.r);
      f.set_result(read_some(pipe.r, 16));
    });
    l.call_soon([&pipe] { pipe.write_str("via future"); });
    co_return co_await f;
  }(loop, p));
  EXPECT_EQ(got, "via future");
}

TEST(IoReader, NotStarvedByTasksThatKeepTheLoopBusy) {
  // Ready work never runs out (two tasks yielding with sleep(0)), so the loop never blocks
  // in epoll: it must still poll I/O now and then.
  EventLoop loop;
  Pipe p;
  p.write_str("x");
  bool fired = false;
  loop.add_reader(p.r, [&] {
    fired = true;
    read_some(p.r, 16);
    loop.remove_reader(p.r);
  });
  auto busy = [](bool& stop_when) -> Coro<int> {
    int n = 0;
    while (!stop_when && n < 1000000) {
      ++n;
      co_await sleep(0s);
    }
    co_return n;
  };
  Task<int> a = loop.create_task(busy(fired));
  Task<int> b = loop.create_task(busy(fired));
  loop.run_until_complete(a);
  loop.run_until_complete(b);
  EXPECT_TRUE(fired);
  EXPECT_LT(a.result(), 1000000);
}

TEST(IoWriter, FiresWhenWritableAndStopsWhenRemoved) {
  EventLoop loop;
  Pipe p;
  int fired = 0;
  loop.add_writer(p.w, [&] {
    ++fired;
    EXPECT_TRUE(loop.remove_writer(p.w));
  });
  run_through_one_poll(loop);
  run_through_one_poll(loop);
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(loop.remove_writer(p.w));
}

TEST(IoWriter, LevelTriggeredWhileWritable) {
  EventLoop loop;
  Pipe p;
  int fired = 0;
  loop.add_writer(p.w, [&] { ++fired; });
  run_through_one_poll(loop);
  run_through_one_poll(loop);
  run_through_one_poll(loop);
  EXPECT_GE(fired, 3);  // at least once per poll while writable
  EXPECT_TRUE(loop.remove_writer(p.w));
}

TEST(IoReaderWriter, BothOnOneDescriptor) {
  // A socketpair: the writer on s[0] sends through s[1] back to s[0], making it readable.
  EventLoop loop;
  int s[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s), 0);
  std::vector<std::string> log;
  loop.add_reader(s[0], [&] {
    log.push_back("read:" + read_some(s[0], 16));
    loop.remove_reader(s[0]);
    loop.stop();
  });
  loop.add_writer(s[0], [&] {
    log.push_back("writable");
    loop.remove_writer(s[0]);  // the reader stays registered
    ASSERT_EQ(::write(s[1], "pong", 4), 4);
  });
  loop.run_forever();
  ::close(s[0]);
  ::close(s[1]);
  EXPECT_EQ(log, (std::vector<std::string>{"writable", "read:pong"}));
}

TEST(IoErrors, InvalidDescriptorRaisesSystemError) {
  EventLoop loop;
  EXPECT_THROW(loop.add_reader(-1, [] {}), std::system_error);
  EXPECT_THROW(loop.add_writer(-1, [] {}), std::system_error);

  int closed_fd;
  {
    Pipe p;
    closed_fd = p.r;
  }
  try {
    loop.add_reader(closed_fd, [] {});
    FAIL() << "a closed descriptor must be refused";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EBADF);
    EXPECT_THAT(e.what(), HasSubstr(std::to_string(closed_fd)));
  }
  EXPECT_FALSE(loop.remove_reader(closed_fd));

  // epoll refuses regular files (EPERM).
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  EXPECT_THROW(loop.add_reader(fileno(file), [] {}), std::system_error);
  EXPECT_FALSE(loop.remove_reader(fileno(file)));
  std::fclose(file);

  // The loop still works afterwards.
  Pipe p;
  p.write_str("ok");
  std::string got;
  loop.add_reader(p.r, [&] {
    got = read_some(p.r, 16);
    loop.remove_reader(p.r);
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(got, "ok");
}

TEST(IoErrors, HugeDescriptorNumberRaisesSystemError) {
  // Descriptor numbers far beyond anything open must be refused like any bad descriptor
  // (not grow the poller's table to match, nor overflow computing its size).
  EventLoop loop;
  for (int fd : {1 << 20, 1 << 28, std::numeric_limits<int>::max()}) {
    try {
      loop.add_reader(fd, [] {});
      ADD_FAILURE() << "fd " << fd << " was accepted";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EBADF) << fd;
    }
    EXPECT_THROW(loop.add_writer(fd, [] {}), std::system_error);
    EXPECT_FALSE(loop.remove_reader(fd));
  }
}

TEST(IoErrors, RefusedReplacementKeepsThePreviousCallback) {
  EventLoop loop;
  Pipe p;
  int fired = 0;
  loop.add_reader(p.r, [&] {
    ++fired;
    read_some(p.r, 16);
  });
  EXPECT_THROW(loop.add_reader(-1, [] {}), std::system_error);
  p.write_str("still here");
  run_through_one_poll(loop);
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(loop.remove_reader(p.r));
}

TEST(IoErrors, RemoveOfAnUnknownDescriptorReturnsFalse) {
  EventLoop loop;
  EXPECT_FALSE(loop.remove_reader(12345));
  EXPECT_FALSE(loop.remove_writer(12345));
  EXPECT_FALSE(loop.remove_reader(-1));
  Pipe p;
  loop.add_reader(p.r, [] {});
  EXPECT_FALSE(loop.remove_writer(p.r));  // a reader, not a writer
  EXPECT_TRUE(loop.remove_reader(p.r));
}

TEST(IoClose, ClosingTheLoopReleasesCallbacks) {
  Pipe p;
  auto state = std::make_shared<int>(0);
  {
    EventLoop loop;
    loop.add_reader(p.r, [state] {});
    loop.add_writer(p.w, [state] {});
    EXPECT_EQ(state.use_count(), 3);
    loop.close();
    EXPECT_EQ(state.use_count(), 1);
    EXPECT_FALSE(loop.remove_reader(p.r));
    EXPECT_THROW(loop.add_reader(p.r, [] {}), RuntimeError);
  }
}

TEST(IoDebug, AddReaderFromAnotherThreadRaisesInDebugMode) {
  EventLoop loop;
  loop.set_debug(true);
  Pipe p;
  std::string error;
  std::thread other;
  loop.call_soon([&] {
    other = std::thread([&] {
      try {
        loop.add_reader(p.r, [] {});
      } catch (const RuntimeError& e) {
        error = e.what();
      }
      loop.call_soon_threadsafe([&] { loop.stop(); });
    });
  });
  loop.run_forever();
  other.join();
  EXPECT_THAT(error, HasSubstr("add_reader()"));
  EXPECT_THAT(error, HasSubstr("call_soon_threadsafe"));
}

}  // namespace
}  // namespace weft
