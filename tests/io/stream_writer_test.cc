// StreamWriter over pipes and a socketpair: queueing, flow control, ending and failures.
#include "loop/stream_writer.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loop/fd_streams.h"
#include "loop/os_error.h"
#include "loop/weft.h"
#include "tests/io/pipe_util.h"

namespace weft {
namespace {

using ::testing::HasSubstr;
using io_test::pattern;
using io_test::RawDrainer;
using io_test::small_pipe;

template <class Body>
void run_test(Body body) {
  weft::run(body());
}

Coro<void> yield_times(int n) {
  for (int i = 0; i < n; ++i) co_await sleep(Duration::zero());
}

TEST(StreamWriterTest, WriteGoesToThePipeAtOnce) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = small_pipe();
    auto w = open_write_pipe(p.write_fd);
    w->write("hello ");
    w->write(std::string("world"));
    EXPECT_EQ(w->get_write_buffer_size(), 0u);
    char buf[32];
    EXPECT_EQ(::read(p.read_fd, buf, sizeof buf), 11);
    EXPECT_EQ(std::string(buf, 11), "hello world");
    co_await w->drain();  // below the high-water mark: no wait
    w->close();
    co_await w->wait_closed();
    EXPECT_EQ(::read(p.read_fd, buf, sizeof buf), 0);  // end of file
    ::close(p.read_fd);
  });
}

TEST(StreamWriterTest, WhatThePipeDoesNotTakeIsQueuedAndFlushedInOrder) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = small_pipe();
    auto w = open_write_pipe(p.write_fd);
    const std::string a = pattern(10000, 1), b = pattern(20000, 2), c = pattern(5, 3);
    w->write(a);
    EXPECT_GT(w->get_write_buffer_size(), 0u);
    w->write(std::string(b));
    w->writelines({c, "", c});
    const size_t total = a.size() + b.size() + 2 * c.size();
    EXPECT_LE(w->get_write_buffer_size(), total);
    RawDrainer drainer(p.read_fd, total);
    co_await drainer.done();
    EXPECT_EQ(drainer.out, a + b + c + c);
    EXPECT_EQ(w->get_write_buffer_size(), 0u);
    ::close(p.read_fd);
  });
}

TEST(StreamWriterTest, WritelinesWritesEveryPartInOrder) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = small_pipe();
    auto w = open_write_pipe(p.write_fd);
    std::vector<std::string> parts;
    std::string expected;
    for (int i = 0; i < 300; ++i) {
      parts.push_back(pattern(static_cast<size_t>(i % 97), static_cast<size_t>(i)));
      expected += parts.back();
    }
    w->writelines(parts);
    w->close();
    RawDrainer drainer(p.read_fd);
    co_await drainer.done();
    co_await w->wait_closed();
    EXPECT_TRUE(drainer.eof);
    EXPECT_EQ(drainer.out, expected);
    ::close(p.read_fd);
  });
}

TEST(StreamWriterTest, DrainWaitsAboveTheHighMarkUntilTheLowMark) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = small_pipe();
    auto w = open_write_pipe(p.write_fd);
    w->set_write_buffer_limits(8192, 2048);
    const std::string data = pattern(4096 + 9000);
    w->write(data);  // 4096 fit in the pipe, 9000 queued > 8192
    EXPECT_EQ(w->get_write_buffer_size(), 9000u);
    bool drained = false;
    size_t queued_when_drained = 0;
    Task<void> t = create_task([](StreamWriter* w, bool* drained, size_t* q) -> Coro<void> {
      co_await w->drain();
      *q = w->get_write_buffer_size();
      *drained = true;
    }(w.get(), &drained, &queued_when_drained));
    co_await yield_times(3);
    EXPECT_FALSE(drained);  // nobody reads the pipe: the queue cannot shrink
    RawDrainer drainer(p.read_fd, data.size());
    co_await t;
    EXPECT_TRUE(drained);
    EXPECT_LE(queued_when_drained, 2048u);
    co_await drainer.done();
    EXPECT_EQ(drainer.out, data);
    ::close(p.read_fd);
  });
}

TEST(StreamWriterTest, SeveralDrainersAndACancelledOne) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = small_pipe();
    auto w = open_write_pipe(p.write_fd);
    w->set_write_buffer_limits(1000);
    w->write(pattern(4096 + 5000));
    Task<void> a = create_task(w->drain());
    Task<void> b = create_task(w->drain());
    Task<void> c = create_task(w->drain());
    co_await yield_times(2);
    b.cancel();
    co_await yield_times(1);
    EXPECT_TRUE(b.cancelled());
    EXPECT_FALSE(a.done());
    RawDrainer drainer(p.read_fd, 4096 + 5000);
    co_await a;
    co_await c;
    co_await drainer.done();
    ::close(p.read_fd);
  });
}

TEST(StreamWriterTest, WriteToAPipeWithoutReaderRaisesBrokenPipe) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = small_pipe();
    ::close(p.read_fd);
    auto w = open_write_pipe(p.write_fd);
    const int fd = w->fileno();
    try {
      w->write("x");
      ADD_FAILURE() << "expected BrokenPipeError";
    } catch (const BrokenPipeError& e) {
      EXPECT_EQ(e.errno_value(), EPIPE);
      EXPECT_EQ(std::string(e.what()), "write to pipe fd " + std::to_string(fd) + ": [Errno 32] Broken pipe");
    }
    // The stream is closed and keeps saying why.
    EXPECT_TRUE(w->is_closing());
    EXPECT_EQ(w->fileno(), -1);
    EXPECT_THROW(w->write("y"), BrokenPipeError);
    EXPECT_THROW(co_await w->drain(), BrokenPipeError);
    EXPECT_THROW(co_await w->wait_closed(), BrokenPipeError);
    w->close();  // idempotent
  });
}

TEST(StreamWriterTest, AReaderThatGoesAwayMidWriteFailsTheDrain) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = small_pipe();
    auto w = open_write_pipe(p.write_fd);
    w->set_write_buffer_limits(100);
    w->write(pattern(4096 + 1000));
    Task<void> drainer = create_task(w->drain());
    Task<void> closer = create_task(w->wait_closed());
    co_await yield_times(2);
    EXPECT_FALSE(drainer.done());
    ::close(p.read_fd);  // the kernel now reports the write end as broken
    try {
      co_await drainer;
      ADD_FAILURE() << "expected BrokenPipeError";
    } catch (const BrokenPipeError& e) {
      EXPECT_THAT(e.what(), HasSubstr("Broken pipe"));
    }
    EXPECT_THROW(co_await closer, BrokenPipeError);
    EXPECT_EQ(w->get_write_buffer_size(), 0u);
    EXPECT_THROW(w->write("more"), BrokenPipeError);
  });
}

TEST(StreamWriterTest, SigpipeIsIgnoredOnceAPipeStreamExists) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = small_pipe();
    auto w = open_write_pipe(p.write_fd);
    struct sigaction sa;
    sigaction(SIGPIPE, nullptr, &sa);
    EXPECT_EQ(sa.sa_handler, SIG_IGN);
    ::close(p.read_fd);
    co_return;
  });
}

TEST(StreamWriterTest, WriteEofOnAPipeClosesItAfterTheQueue) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = small_pipe();
    auto w = open_write_pipe(p.write_fd);
    const std::string data = pattern(10000);
    w->write(data);
    w->write_eof();
    EXPECT_TRUE(w->can_write_eof());
    try {
      w->write("late");
      ADD_FAILURE() << "expected RuntimeError";
    } catch (const RuntimeError& e) {
      EXPECT_THAT(e.what(), HasSubstr("write() after write_eof()"));
    }
    RawDrainer drainer(p.read_fd);
    co_await drainer.done();
    EXPECT_TRUE(drainer.eof);
    EXPECT_EQ(drainer.out, data);
    co_await w->wait_closed();
    ::close(p.read_fd);
  });
}

TEST(StreamWriterTest, CloseFlushesTheQueueFirst) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = small_pipe();
    auto w = open_write_pipe(p.write_fd);
    const std::string data = pattern(50000);
    w->write(data);
    w->close();
    EXPECT_TRUE(w->is_closing());
    EXPECT_NE(w->fileno(), -1);  // still flushing
    try {
      w->writelines({"late"});
      ADD_FAILURE() << "expected RuntimeError";
    } catch (const RuntimeError& e) {
      EXPECT_THAT(e.what(), HasSubstr("writelines() after close()"));
    }
    Task<void> closed = create_task(w->wait_closed());
    RawDrainer drainer(p.read_fd);
    co_await drainer.done();
    co_await closed;
    EXPECT_TRUE(drainer.eof);
    EXPECT_EQ(drainer.out, data);
    EXPECT_EQ(w->fileno(), -1);
    EXPECT_THROW(co_await w->drain(), ConnectionResetError);
    ::close(p.read_fd);
  });
}

TEST(StreamWriterTest, InvalidWaterMarksAreRefused) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = small_pipe();
    auto w = open_write_pipe(p.write_fd);
    EXPECT_THROW(w->set_write_buffer_limits(10, 20), std::invalid_argument);
    ::close(p.read_fd);
    co_return;
  });
}

TEST(StreamWriterTest, OpeningABadDescriptorRaisesOSError) {
  run_test([]() -> Coro<void> {
    EXPECT_THROW(open_write_pipe(-1), OSError);
    co_return;
  });
}

TEST(StreamWriterTest, SocketWriteEofHalfClosesAndThePeerCanAnswer) {
  run_test([]() -> Coro<void> {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("socketpair");
    auto w = open_write_pipe(sv[0]);  // any descriptor: a socket is detected
    EXPECT_TRUE(w->is_socket());
    w->write("request");
    w->write_eof();
    EXPECT_FALSE(w->is_closing());
    RawDrainer drainer(sv[1]);
    co_await drainer.done();
    EXPECT_TRUE(drainer.eof);
    EXPECT_EQ(drainer.out, "request");
    // The other direction still works.
    EXPECT_EQ(::write(sv[1], "answer", 6), 6);
    char buf[16];
    EXPECT_EQ(::read(w->fileno(), buf, sizeof buf), 6);
    w->close();
    co_await w->wait_closed();
    ::close(sv[1]);
  });
}

TEST(StreamWriterTest, SocketPeerClosedRaisesBrokenPipeWithoutSignal) {
  run_test([]() -> Coro<void> {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("socketpair");
    ::close(sv[1]);
    auto w = open_write_pipe(sv[0]);
    try {
      w->write("x");
      ADD_FAILURE() << "expected BrokenPipeError";
    } catch (const BrokenPipeError& e) {
      EXPECT_THAT(e.what(), HasSubstr("write to socket fd"));
    }
    co_return;
  });
}

}  // namespace
}  // namespace weft
