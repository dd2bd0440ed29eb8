// Tests for open_connection / start_server and their Unix variants
// (scheduler/open_connection.h): line echo over streams on one loop and on a 2-loop
// Runtime, what a handler left queued is flushed when it returns, half-close through
// write_eof, and connection refused.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loop/weft.h"
#include "scheduler/open_connection.h"
#include "scheduler/runtime.h"

namespace weft {
namespace {

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

}  // namespace
}  // namespace weft
