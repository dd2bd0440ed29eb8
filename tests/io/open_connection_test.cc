// Tests for open_connection / start_server and their Unix variants (scheduler/open_connection.h):
// line echo over streams on one loop and on a 2-loop Runtime, what a handler left queued is flushed
// when it returns, half-close through write_eof, connection refused, and connecting by host name
// ("localhost"). Then the asyncio path at scale and on failure, on a 2-loop Runtime: a large
// transfer both ways checked by hash, 1,000 concurrent connections, a slowloris client, a client
// that resets in the middle of a readexactly, and the water marks of a fresh writer. (The same for
// raw Sockets on one loop: socket_test, server_test.)
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "loop/weft.h"
#include "scheduler/open_connection.h"
#include "scheduler/runtime.h"
#include "sync/event.h"
#include "tests/io/io_test_util.h"
#include "tests/sanitizers.h"

using namespace std::chrono_literals;

namespace weft {
namespace {

using io_test::Fnv;
using io_test::yield_times;

// A bound on waits that a stalled server would never end, so that a stall fails the test
// instead of hanging it; never approached when the code works.
constexpr Duration kHangGuard = 30s;

Coro<void> line_echo(StreamReader& reader, StreamWriter& writer) {
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) co_return;
    writer.write(line);
    co_await writer.drain();
  }
}

Coro<std::string> ask(uint16_t port, std::string line) {
  StreamPair conn = co_await open_connection("127.0.0.1", port);
  conn.writer->write(line);
  std::string reply = co_await conn.reader->readline();
  conn.writer->close();
  co_await conn.writer->wait_closed();
  co_return reply;
}

Coro<void> echo_main(int clients) {
  Server server = co_await start_server(line_echo, "127.0.0.1", 0);
  uint16_t port = server.sockets().at(0).port();
  std::vector<Task<std::string>> tasks;
  for (int i = 0; i < clients; ++i) tasks.push_back(create_task(ask(port, "line " + std::to_string(i) + "\n")));
  for (int i = 0; i < clients; ++i) EXPECT_EQ(co_await tasks[i], "line " + std::to_string(i) + "\n");
  server.close();
  co_await server.wait_closed();
}

TEST(OpenConnectionTest, LineEchoOnOneLoop) { run(echo_main(20)); }

TEST(OpenConnectionTest, LineEchoOnARuntime) { run(echo_main(100), {.threads = 2}); }

TEST(OpenConnectionTest, QueuedDataIsFlushedWhenTheHandlerReturns) {
  run([]() -> Coro<void> {
    auto big_then_return = [](StreamReader&, StreamWriter& writer) -> Coro<void> {
      writer.write(std::string(1 << 20, 'x'));  // more than the socket takes at once
      co_return;
    };
    Server server = co_await start_server(big_then_return, "127.0.0.1", 0);
    StreamPair conn = co_await open_connection("127.0.0.1", server.sockets().at(0).port());
    std::string all = co_await conn.reader->read();  // to end of file
    EXPECT_EQ(all.size(), size_t{1} << 20);
    server.close();
    co_await server.wait_closed();
  }());
}

TEST(OpenConnectionTest, HalfCloseWithWriteEof) {
  run([]() -> Coro<void> {
    auto count_then_answer = [](StreamReader& reader, StreamWriter& writer) -> Coro<void> {
      std::string all = co_await reader.read();
      writer.write(std::to_string(all.size()) + " bytes\n");
    };
    Server server = co_await start_server(count_then_answer, "127.0.0.1", 0);
    StreamPair conn = co_await open_connection("127.0.0.1", server.sockets().at(0).port());
    conn.writer->write("hello world");
    conn.writer->write_eof();
    EXPECT_EQ(co_await conn.reader->readline(), "11 bytes\n");
    server.close();
    co_await server.wait_closed();
  }());
}

TEST(OpenConnectionTest, UnixStreams) {
  run([]() -> Coro<void> {
    std::string path = std::string("\0weft-open-conn-", 16) + std::to_string(::getpid());
    Server server = co_await start_unix_server(line_echo, path);
    StreamPair conn = co_await open_unix_connection(path);
    conn.writer->write("over unix\n");
    EXPECT_EQ(co_await conn.reader->readline(), "over unix\n");
    conn.writer->close();
    co_await conn.writer->wait_closed();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST(OpenConnectionTest, Refused) {
  run([]() -> Coro<void> {
    Socket holder(AF_INET, SOCK_STREAM);
    holder.bind(SocketAddress::ip("127.0.0.1", 0));
    EXPECT_THROW(co_await open_connection("127.0.0.1", holder.getsockname().port()),
                 ConnectionRefusedError);
  }());
}

// By host name on a 2-loop Runtime: "localhost" is resolved on the Runtime's blocking pool,
// then its addresses are tried in turn until one accepts. The server listens on 127.0.0.1
// only, and the same port on [::1] (where the machine has it) is bound without listening, so
// it refuses: whether getaddrinfo gives 127.0.0.1 alone (an /etc/hosts without ::1) or ::1
// as well, in either order, the connection must end up on 127.0.0.1.
TEST(OpenConnectionTest, ByHostNameOnARuntime) {
  run([]() -> Coro<void> {
    Server server = co_await start_server(line_echo, "127.0.0.1", 0);
    const uint16_t port = server.sockets().at(0).port();
    std::optional<Socket> v6_refusing;
    try {
      Socket s(AF_INET6, SOCK_STREAM);
      s.bind(SocketAddress::ip("::1", port));
      v6_refusing.emplace(std::move(s));
    } catch (const OSError&) {
      // No IPv6 loopback here (a connect to ::1 then fails anyway), or the port is taken.
    }
    StreamPair conn = co_await open_connection("localhost", port);
    conn.writer->write("by name\n");
    EXPECT_EQ(co_await conn.reader->readline(), "by name\n");
    conn.writer->close();
    co_await conn.writer->wait_closed();
    server.close();
    co_await wait_for(server.wait_closed(), kHangGuard);
    EXPECT_EQ(server.connections_accepted(), 1u);
  }(), {.threads = 2});
}

// --- At scale and on failure, on a 2-loop Runtime. ---

// On a 2-loop Runtime: starts a stream server on 127.0.0.1 (a port the kernel picks) whose
// handler for each connection is handler(state, reader, writer), `state` being shared by
// every loop's handlers; awaits body(server, port); then closes the server and waits until
// every handler has finished (bounded by kHangGuard).
template <class State, class Body>
void run_with_server(Coro<void> (*handler)(State&, StreamReader&, StreamWriter&), State& state,
                     Body body) {
  run(
      [](Coro<void> (*handler)(State&, StreamReader&, StreamWriter&), State& state,
         Body body) -> Coro<void> {
        Server server = co_await start_server(
            [handler, &state](StreamReader& r, StreamWriter& w) { return handler(state, r, w); },
            "127.0.0.1", 0);
        co_await body(server, server.sockets().at(0).port());
        server.close();
        co_await wait_for(server.wait_closed(), kHangGuard);
      }(handler, state, std::move(body)),
      {.threads = 2});
}

constexpr size_t kBlock = 256 * 1024;

// What came through a stream: its size and hash. The handlers' copy is written on their loop
// and read once the server has closed.
struct Received {
  size_t bytes = 0;
  uint64_t hash = 0;
};

// Reads to end of file a block at a time, hashing; `echo`: writes each block back (drained).
Coro<Received> receive_hashed(StreamReader& reader, StreamWriter* echo = nullptr) {
  Received got;
  Fnv hash;
  for (;;) {
    std::string block = co_await reader.read(kBlock);
    if (block.empty()) break;
    hash.add(block);
    got.bytes += block.size();
    if (echo) {
      echo->write(std::move(block));
      co_await echo->drain();
    }
  }
  got.hash = hash.h;
  co_return got;
}

Coro<void> hashing_echo(Received& received, StreamReader& reader, StreamWriter& writer) {
  received = co_await receive_hashed(reader, &writer);
}

// Sends `total` pseudo-random bytes with write() + drain() a block at a time, then ends the
// write direction; returns their hash.
Coro<uint64_t> send_hashed(StreamWriter& writer, size_t total) {
  std::string block(kBlock, '\0');
  io_test::RandomBytes bytes;
  Fnv hash;
  for (size_t sent = 0; sent < total; sent += block.size()) {
    bytes.fill(block);
    hash.add(block);
    writer.write(block);
    co_await writer.drain();
  }
  writer.write_eof();
  co_return hash.h;
}

TEST(OpenConnectionTest, LargeTransferBothWaysCheckedByHash) {
  // As SocketTest.LargeTransferCheckedByHash: 8 MB under the sanitizers.
  const size_t total = test_env::kUnderSanitizer ? (8u << 20) : (100u << 20);
  Received at_server;
  uint64_t sent_hash = 0;
  run_with_server(hashing_echo, at_server, [&](Server&, uint16_t port) -> Coro<void> {
    StreamPair conn = co_await open_connection("127.0.0.1", port);
    Task<Received> echoed = create_task(receive_hashed(*conn.reader));
    sent_hash = co_await send_hashed(*conn.writer, total);
    // The handler echoed everything, returned at end of file, and the server closed.
    Received back = co_await echoed;
    EXPECT_EQ(back.bytes, total);
    EXPECT_EQ(back.hash, sent_hash);
  });
  EXPECT_EQ(at_server.bytes, total);
  EXPECT_EQ(at_server.hash, sent_hash);
}

// How many handlers run at once, and on which loops.
struct Gauge {
  std::atomic<int> open{0};
  io_test::ThreadLog loops;
};

Coro<void> counted_line_echo(Gauge& gauge, StreamReader& reader, StreamWriter& writer) {
  gauge.loops.add();
  gauge.open.fetch_add(1);
  struct Leave {
    std::atomic<int>& open;
    ~Leave() { open.fetch_sub(1); }
  } leave{gauge.open};
  co_await line_echo(reader, writer);
}

// One line round trip, its answer checked; the connection stays open.
Coro<StreamPair> connect_and_ask(uint16_t port, std::string line) {
  StreamPair conn = co_await open_connection("127.0.0.1", port);
  conn.writer->write(line);
  EXPECT_EQ(co_await wait_for(conn.reader->readline(), kHangGuard), line);
  co_return conn;
}

TEST(OpenConnectionTest, ThousandConcurrentConnectionsOnTwoLoops) {
  static constexpr int kConnections = 1000;
  // Both ends of every connection are in this process.
  if (!io_test::raise_fd_limit(2 * kConnections + 64)) GTEST_SKIP() << "RLIMIT_NOFILE too low";
  Gauge gauge;
  uint64_t accepted = 0;
  run_with_server(counted_line_echo, gauge, [&](Server& server, uint16_t port) -> Coro<void> {
    std::vector<Task<StreamPair>> clients;
    for (int i = 0; i < kConnections; ++i) {
      clients.push_back(create_task(connect_and_ask(port, "client " + std::to_string(i) + "\n")));
    }
    std::vector<StreamPair> conns;
    for (Task<StreamPair>& c : clients) conns.push_back(co_await std::move(c));
    // Every client has its answer and holds its connection: all the handlers are running.
    EXPECT_EQ(gauge.open.load(), kConnections);
    for (StreamPair& c : conns) c.writer->close();  // each handler reads end of file
    accepted = server.connections_accepted();
  });
  EXPECT_EQ(gauge.open.load(), 0);
  EXPECT_EQ(accepted, uint64_t{kConnections});
  // Each loop has its own SO_REUSEPORT listener; the kernel hashes 1,000 connections over
  // the two (all on one: probability 2^-999).
  EXPECT_EQ(gauge.loops.size(), 2u);
}

// How each connection's handler ended, by the client's port.
struct Endings {
  std::mutex mu;
  std::map<uint16_t, std::string> by_port;
  void set(uint16_t port, std::string how) {
    std::lock_guard<std::mutex> lock(mu);
    by_port[port] = std::move(how);
  }
};

Coro<void> line_echo_noting_ending(Endings& endings, StreamReader& reader, StreamWriter& writer) {
  const uint16_t port = writer.peername().value().port();
  try {
    co_await line_echo(reader, writer);
    endings.set(port, "end of file");
  } catch (const CancelledError&) {
    endings.set(port, "cancelled");
    throw;
  }
}

TEST(OpenConnectionTest, SlowlorisDoesNotStallOthersAndCloseClientsEndsIt) {
  static constexpr int kFast = 20;
  Endings endings;
  uint16_t slow_port = 0;
  run_with_server(line_echo_noting_ending, endings, [&](Server& server, uint16_t port) -> Coro<void> {
    StreamPair slow = co_await open_connection("127.0.0.1", port);
    slow_port = slow.writer->sockname().value().port();
    // A first line answered: the slow client's handler runs.
    slow.writer->write("hello\n");
    EXPECT_EQ(co_await slow.reader->readline(), "hello\n");
    // Then a line a byte at a time, never finished, while the others come and go.
    const std::string partial = "GET /index.html HTTP/1.1";
    for (int i = 0; i < kFast; ++i) {
      slow.writer->write(partial.substr(i, 1));
      co_await slow.writer->drain();
      std::string line = "fast " + std::to_string(i) + "\n";
      EXPECT_EQ(co_await wait_for(ask(port, line), kHangGuard), line);
    }
    server.close();
    server.close_clients();  // cancels the slow client's handler, waiting in readline
    // Closed without an answer: end of file, or a reset if the handler had not read the
    // last bytes when it was cancelled (a socket closed with unread input sends RST).
    try {
      EXPECT_EQ(co_await wait_for(slow.reader->read(), kHangGuard), "");
    } catch (const ConnectionResetError&) {
    }
  });
  EXPECT_EQ(endings.by_port.size(), size_t{kFast + 1});
  EXPECT_EQ(endings.by_port[slow_port], "cancelled");
}

// A request: a line "<n>\n", the answer "send\n", then n bytes, answered "got <n>\n". Each
// request's ending is noted.
struct RequestLog {
  std::mutex mu;
  std::vector<std::string> endings;
  void add(std::string ending) {
    std::lock_guard<std::mutex> lock(mu);
    endings.push_back(std::move(ending));
  }
};

Coro<void> sized_request(RequestLog& log, StreamReader& reader, StreamWriter& writer) {
  const size_t n = std::stoul(co_await reader.readline());
  writer.write("send\n");
  co_await writer.drain();
  try {
    std::string body = co_await reader.readexactly(n);
    writer.write("got " + std::to_string(body.size()) + "\n");
    log.add("complete");
  } catch (const ConnectionResetError& e) {
    log.add("reset, errno " + std::to_string(e.errno_value()));
  } catch (const IncompleteReadError& e) {
    log.add("incomplete, " + std::to_string(e.partial().size()) + " bytes");
  }
}

// Announces 1000 bytes, sends 10 once the handler waits for them, and resets the connection
// (SO_LINGER 0, then close).
Coro<void> reset_mid_body(uint16_t port) {
  StreamPair conn = co_await open_connection("127.0.0.1", port);
  conn.writer->write("1000\n");
  EXPECT_EQ(co_await conn.reader->readline(), "send\n");  // the handler is at readexactly
  conn.writer->write(std::string(10, 'x'));
  linger lg{1, 0};
  EXPECT_EQ(setsockopt(conn.writer->fileno(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  conn.writer->close();
}

Coro<std::string> whole_request(uint16_t port, size_t n) {
  StreamPair conn = co_await open_connection("127.0.0.1", port);
  conn.writer->write(std::to_string(n) + "\n");
  EXPECT_EQ(co_await conn.reader->readline(), "send\n");
  conn.writer->write(std::string(n, 'y'));
  std::string reply = co_await conn.reader->readline();
  conn.writer->close();
  co_await conn.writer->wait_closed();
  co_return reply;
}

TEST(OpenConnectionTest, ResetDuringReadexactlyIsConnectionResetErrorAndTheServerGoesOn) {
  static constexpr int kResets = 10;
  RequestLog log;
  run_with_server(sized_request, log, [](Server&, uint16_t port) -> Coro<void> {
    for (int i = 0; i < kResets; ++i) {
      co_await reset_mid_body(port);
      EXPECT_EQ(co_await wait_for(whole_request(port, 1000), kHangGuard), "got 1000\n");
    }
  });
  // Every reset reached its handler as ConnectionResetError (the reader's source raised it:
  // loop/stream_reader.h), and every other request completed.
  std::vector<std::string> expected(kResets, "complete");
  expected.insert(expected.end(), kResets, "reset, errno " + std::to_string(ECONNRESET));
  EXPECT_THAT(log.endings, ::testing::UnorderedElementsAreArray(expected));
}

// Reads nothing until `go` is set; then reads to end of file and answers how many bytes came.
Coro<void> count_after(Event& go, StreamReader& reader, StreamWriter& writer) {
  co_await go.wait();
  std::string all = co_await reader.read();
  writer.write(std::to_string(all.size()) + "\n");
}

// Writes 1 KiB pieces until the kernel's buffers are full (the peer reads nothing) and the
// writer queues, then lets what was in flight land and tops up again until a few trips
// through the loop leave something queued. Adds what it wrote to `sent`.
Coro<void> fill_kernel_buffers(StreamWriter& writer, size_t& sent) {
  do {
    while (writer.get_write_buffer_size() == 0) {
      writer.write(std::string(1024, 'f'));
      sent += 1024;
    }
    co_await yield_times(3);
  } while (writer.get_write_buffer_size() == 0);
}

TEST(OpenConnectionTest, AFreshWriterHasTheDefaultWaterMarks) {
  static constexpr size_t kHigh = 64 * 1024;
  static constexpr size_t kLow = 16 * 1024;
  Event go;
  run_with_server(count_after, go, [&go](Server&, uint16_t port) -> Coro<void> {
    StreamPair conn = co_await open_connection("127.0.0.1", port);
    StreamWriter& writer = *conn.writer;
    // A small fixed send buffer: once full, the kernel takes back far less than the 48 KiB
    // between the marks while the peer reads nothing.
    int sndbuf = 4096;
    EXPECT_EQ(setsockopt(writer.fileno(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    size_t sent = 0;
    auto write_counted = [&](size_t n, char c) {
      writer.write(std::string(n, c));
      sent += n;
    };

    // No accessor for the marks: what drain() does says them. Up to the high mark queued,
    // drain() returns at once (the queue only shrinks meanwhile)...
    co_await fill_kernel_buffers(writer, sent);
    write_counted(kHigh - writer.get_write_buffer_size(), 'h');
    EXPECT_EQ(writer.get_write_buffer_size(), kHigh);
    Task<void> at_high = create_task(writer.drain());
    co_await yield_times(3);
    EXPECT_TRUE(at_high.done());
    co_await at_high;

    // ...one byte more and it waits,
    co_await fill_kernel_buffers(writer, sent);
    write_counted(kHigh + 1 - writer.get_write_buffer_size(), 'o');
    EXPECT_EQ(writer.get_write_buffer_size(), kHigh + 1);
    Task<void> over = create_task(writer.drain());
    co_await yield_times(3);
    EXPECT_FALSE(over.done());

    // ...until the peer reads and the queue is down to the low mark (at most: what the
    // kernel takes at once after that is not ours to choose).
    go.set();
    co_await wait_for(over, kHangGuard);
    EXPECT_LE(writer.get_write_buffer_size(), kLow);
    writer.write_eof();
    EXPECT_EQ(co_await conn.reader->readline(), std::to_string(sent) + "\n");
  });
}

}  // namespace
}  // namespace weft
