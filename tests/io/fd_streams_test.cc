// StreamReader and StreamWriter over real descriptors: pipes (open_read_pipe /
// open_write_pipe) and a connected socket (open_fd_streams).
#include "loop/fd_streams.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loop/os_error.h"
#include "loop/weft.h"
#include "tests/io/pipe_util.h"

namespace weft {
namespace {

using io_test::pattern;

template <class Body>
void run_test(Body body) {
  weft::run(body());
}

Coro<void> yield_times(int n) {
  for (int i = 0; i < n; ++i) co_await sleep(Duration::zero());
}

std::pair<int, int> socket_pair() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    throw std::runtime_error("socketpair");
  }
  return {sv[0], sv[1]};
}

// Writes `data` in pieces of `piece` bytes, draining after each.
Coro<void> produce(StreamWriter* w, std::string data, size_t piece) {
  for (size_t at = 0; at < data.size(); at += piece) {
    w->write(std::string_view(data).substr(at, piece));
    co_await w->drain();
  }
  w->close();
  co_await w->wait_closed();
}

TEST(FdStreamsTest, APipeCarriesLinesAndEndOfFile) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = io_test::small_pipe();
    auto w = open_write_pipe(p.write_fd);
    auto r = open_read_pipe(p.read_fd);
    w->writelines({"alpha\n", "beta\n", "gam"});
    EXPECT_EQ(co_await r->readline(), "alpha\n");
    EXPECT_EQ(co_await r->readuntil("\n"), "beta\n");
    Task<std::string> last = create_task(r->readline());
    co_await yield_times(2);
    EXPECT_FALSE(last.done());  // waits on the descriptor for the rest of the line
    w->write("ma\n");
    EXPECT_EQ(co_await last, "gamma\n");
    w->close();
    EXPECT_EQ(co_await r->read(), "");
    EXPECT_TRUE(r->at_eof());
  });
}

TEST(FdStreamsTest, ALargeTransferThroughASmallPipeArrivesIntact) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = io_test::small_pipe();
    auto w = open_write_pipe(p.write_fd);
    auto r = open_read_pipe(p.read_fd, 1000);
    const std::string data = pattern(3 << 20);
    Task<void> producer = create_task(produce(w.get(), data, 100000));
    std::string got;
    for (;;) {
      std::string chunk = co_await r->read(7777);
      if (chunk.empty()) break;
      // Pulling: the buffer never holds more than one read's worth beyond what was asked.
      EXPECT_LE(r->buffered(), r->read_chunk());
      got += chunk;
    }
    co_await producer;
    EXPECT_EQ(got.size(), data.size());
    EXPECT_TRUE(got == data);
  });
}

TEST(FdStreamsTest, ReadexactlyAcrossManyReadsAndIncompleteAtEof) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = io_test::small_pipe();
    auto w = open_write_pipe(p.write_fd);
    auto r = open_read_pipe(p.read_fd);
    const std::string data = pattern(100000);
    Task<void> producer = create_task(produce(w.get(), data, 3000));
    EXPECT_EQ(co_await r->readexactly(60000), data.substr(0, 60000));
    try {
      co_await r->readexactly(50000);
      ADD_FAILURE() << "expected IncompleteReadError";
    } catch (const IncompleteReadError& e) {
      EXPECT_EQ(e.partial(), data.substr(60000));
      EXPECT_EQ(e.expected(), 50000u);
    }
    co_await producer;
  });
}

TEST(FdStreamsTest, SocketHalvesTalkBothWays) {
  run_test([]() -> Coro<void> {
    auto [a, b] = socket_pair();
    StreamPair left = open_fd_streams(a);
    StreamPair right = open_fd_streams(b);
    EXPECT_TRUE(left.writer->is_socket());
    left.writer->write("ping\n");
    EXPECT_EQ(co_await right.reader->readline(), "ping\n");
    right.writer->write("pong\n");
    EXPECT_EQ(co_await left.reader->readline(), "pong\n");
    // Half-close: left is done sending but still reads the answer.
    left.writer->write_eof();
    EXPECT_EQ(co_await right.reader->read(), "");
    right.writer->write("last words");
    right.writer->close();
    co_await right.writer->wait_closed();
    EXPECT_EQ(co_await left.reader->read(), "last words");
    EXPECT_TRUE(left.reader->at_eof());
    left.writer->close();
    co_await left.writer->wait_closed();
  });
}

TEST(FdStreamsTest, ClosingTheWriterWakesAReaderOfTheSameSocket) {
  run_test([]() -> Coro<void> {
    auto [a, b] = socket_pair();
    StreamPair mine = open_fd_streams(a);
    Task<std::string> reading = create_task(mine.reader->read(100));
    co_await yield_times(2);
    EXPECT_FALSE(reading.done());  // waiting on the descriptor
    mine.writer->close();
    EXPECT_EQ(mine.writer->fileno(), -1);
    EXPECT_EQ(co_await reading, "");  // end of file, not an error
    EXPECT_TRUE(mine.reader->at_eof());
    char buf[8];
    EXPECT_EQ(::read(b, buf, sizeof buf), 0);  // the peer sees the close
    ::close(b);
  });
}

TEST(FdStreamsTest, APeerThatClosesMidWriteFailsTheWriterCleanly) {
  run_test([]() -> Coro<void> {
    auto [a, b] = socket_pair();
    StreamPair mine = open_fd_streams(a);
    mine.writer->write(pattern(4 << 20));  // far more than the socket buffer
    EXPECT_GT(mine.writer->get_write_buffer_size(), 0u);
    Task<void> drain = create_task(mine.writer->drain());
    co_await yield_times(2);
    ::close(b);
    EXPECT_THROW(co_await drain, ConnectionError);  // EPIPE or ECONNRESET
    EXPECT_THROW(mine.writer->write("more"), ConnectionError);
  });
}

TEST(FdStreamsTest, DestroyingAWriterWithAQueueCancelsItsFlush) {
  run_test([]() -> Coro<void> {
    io_test::Pipe p = io_test::small_pipe();
    {
      auto w = open_write_pipe(p.write_fd);
      w->write(pattern(100000));  // the background flush waits for room
      co_await yield_times(2);
    }  // dropped with its queue
    co_await yield_times(2);  // the cancelled flush unwinds without touching the writer
    char buf[8192];
    io_test::set_nonblocking(p.read_fd);
    size_t total = 0;
    for (ssize_t n; (n = ::read(p.read_fd, buf, sizeof buf)) > 0;) total += static_cast<size_t>(n);
    EXPECT_EQ(total, 4096u);  // what the pipe took at once; the queue was dropped
    EXPECT_EQ(::read(p.read_fd, buf, sizeof buf), 0);  // and the write end is closed
    ::close(p.read_fd);
  });
}

TEST(FdStreamsTest, AReadErrorIsRaisedAndKept) {
  run_test([]() -> Coro<void> {
    // A directory opened for reading: read() fails with EISDIR.
    const int fd = ::open("/", O_RDONLY | O_CLOEXEC);
    auto r = open_read_pipe(fd);
    try {
      co_await r->read(10);
      ADD_FAILURE() << "expected OSError";
    } catch (const OSError& e) {
      EXPECT_EQ(e.errno_value(), EISDIR);
      EXPECT_THAT(e.what(), ::testing::HasSubstr("read from pipe fd"));
    }
    EXPECT_THROW(co_await r->readline(), OSError);
    EXPECT_NE(r->exception(), nullptr);
  });
}

}  // namespace
}  // namespace weft
