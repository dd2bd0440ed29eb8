// StreamReader: the parsing core (fed), flow control, and pulling from a ReadSource.
#include "loop/stream_reader.h"

#include <deque>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loop/os_error.h"
#include "loop/weft.h"

namespace weft {
namespace {

using ::testing::HasSubstr;

Coro<void> yield_times(int n) {
  for (int i = 0; i < n; ++i) co_await sleep(Duration::zero());
}

template <class Body>
void run_test(Body body) {
  weft::run(body());
}

TEST(StreamReaderTest, ReadReturnsWhatIsBufferedUpToN) {
  run_test([]() -> Coro<void> {
    StreamReader r;
    r.feed_data("hello world");
    EXPECT_EQ(co_await r.read(5), "hello");
    EXPECT_EQ(r.buffered(), 6u);
    EXPECT_EQ(co_await r.read(100), " world");
    EXPECT_EQ(co_await r.read(0), "");
    EXPECT_FALSE(r.at_eof());
  });
}

TEST(StreamReaderTest, ReadWaitsForDataThenReturnsIt) {
  run_test([]() -> Coro<void> {
    StreamReader r;
    Task<std::string> t = create_task(r.read(10));
    co_await yield_times(2);
    EXPECT_FALSE(t.done());
    r.feed_data("abc");
    EXPECT_EQ(co_await t, "abc");
  });
}

TEST(StreamReaderTest, ReadAtEndOfFileReturnsEmpty) {
  run_test([]() -> Coro<void> {
    StreamReader r;
    Task<std::string> t = create_task(r.read(10));
    co_await yield_times(1);
    r.feed_eof();
    EXPECT_EQ(co_await t, "");
    EXPECT_TRUE(r.at_eof());
    EXPECT_EQ(co_await r.read(10), "");
  });
}

TEST(StreamReaderTest, ReadAllReadsUntilEndOfFile) {
  run_test([]() -> Coro<void> {
    StreamReader r(4);
    Task<std::string> t = create_task(r.read());
    for (const char* chunk : {"ab", "cdefgh", "", "ij"}) {
      co_await yield_times(1);
      r.feed_data(chunk);
    }
    co_await yield_times(1);
    EXPECT_FALSE(t.done());
    r.feed_eof();
    EXPECT_EQ(co_await t, "abcdefghij");
    EXPECT_TRUE(r.at_eof());
  });
}

TEST(StreamReaderTest, ReadExactlyAcrossChunks) {
  run_test([]() -> Coro<void> {
    StreamReader r;
    Task<std::string> t = create_task(r.readexactly(6));
    r.feed_data("ab");
    co_await yield_times(1);
    r.feed_data("cd");
    co_await yield_times(1);
    EXPECT_FALSE(t.done());
    r.feed_data("efgh");
    EXPECT_EQ(co_await t, "abcdef");
    EXPECT_EQ(co_await r.readexactly(2), "gh");
    EXPECT_EQ(co_await r.readexactly(0), "");
  });
}

TEST(StreamReaderTest, ReadExactlyRaisesIncompleteReadErrorAtEndOfFile) {
  run_test([]() -> Coro<void> {
    StreamReader r;
    r.feed_data("abc");
    r.feed_eof();
    try {
      co_await r.readexactly(5);
      ADD_FAILURE() << "expected IncompleteReadError";
    } catch (const IncompleteReadError& e) {
      EXPECT_EQ(e.partial(), "abc");
      EXPECT_EQ(e.expected(), 5u);
      EXPECT_STREQ(e.what(), "3 bytes read on a total of 5 expected bytes");
    }
    EXPECT_TRUE(r.at_eof());
  });
}

TEST(StreamReaderTest, ReadlineReturnsLinesThenThePartialLastOne) {
  run_test([]() -> Coro<void> {
    StreamReader r;
    r.feed_data("one\ntw");
    r.feed_data("o\nthree");
    r.feed_eof();
    EXPECT_EQ(co_await r.readline(), "one\n");
    EXPECT_EQ(co_await r.readline(), "two\n");
    EXPECT_EQ(co_await r.readline(), "three");
    EXPECT_EQ(co_await r.readline(), "");
    EXPECT_TRUE(r.at_eof());
  });
}

TEST(StreamReaderTest, ReadlineOverTheLimitDiscardsThroughTheSeparator) {
  run_test([]() -> Coro<void> {
    StreamReader r(4);
    r.feed_data("0123456789\nnext\n");
    try {
      co_await r.readline();
      ADD_FAILURE() << "expected LimitOverrunError";
    } catch (const LimitOverrunError& e) {
      EXPECT_EQ(e.consumed(), 10u);
      EXPECT_THAT(e.what(), HasSubstr("Separator is found, but chunk is longer than limit"));
    }
    EXPECT_EQ(co_await r.readline(), "next\n");
  });
}

TEST(StreamReaderTest, ReadlineOverTheLimitWithoutSeparatorClearsTheBuffer) {
  run_test([]() -> Coro<void> {
    StreamReader r(4);
    r.feed_data("0123456789");
    try {
      co_await r.readline();
      ADD_FAILURE() << "expected LimitOverrunError";
    } catch (const LimitOverrunError& e) {
      EXPECT_EQ(e.consumed(), 10u);
      EXPECT_THAT(e.what(), HasSubstr("Separator is not found, and chunk exceed the limit"));
    }
    EXPECT_EQ(r.buffered(), 0u);
    r.feed_data("ok\n");
    EXPECT_EQ(co_await r.readline(), "ok\n");
  });
}

TEST(StreamReaderTest, ReaduntilFindsASeparatorSplitAcrossChunks) {
  run_test([]() -> Coro<void> {
    StreamReader r;
    Task<std::string> t = create_task(r.readuntil("\r\n\r\n"));
    for (const char* chunk : {"GET / HTTP/1.1\r", "\n\r", "\n", "body"}) {
      co_await yield_times(1);
      r.feed_data(chunk);
    }
    EXPECT_EQ(co_await t, "GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(co_await r.read(100), "body");
  });
}

TEST(StreamReaderTest, ReaduntilOverTheLimitKeepsTheData) {
  run_test([]() -> Coro<void> {
    StreamReader r(5);
    r.feed_data("abcdefgh");
    try {
      co_await r.readuntil("XY");
      ADD_FAILURE() << "expected LimitOverrunError";
    } catch (const LimitOverrunError& e) {
      // asyncio: offset = buflen + 1 - seplen.
      EXPECT_EQ(e.consumed(), 7u);
    }
    EXPECT_EQ(r.buffered(), 8u);
    EXPECT_EQ(co_await r.readexactly(8), "abcdefgh");
  });
}

TEST(StreamReaderTest, ReaduntilAtTheLimitSucceeds) {
  run_test([]() -> Coro<void> {
    StreamReader r(5);
    r.feed_data("abcde\n");
    EXPECT_EQ(co_await r.readuntil(), "abcde\n");
  });
}

TEST(StreamReaderTest, ReaduntilAtEndOfFileRaisesIncompleteReadError) {
  run_test([]() -> Coro<void> {
    StreamReader r;
    r.feed_data("no separator");
    r.feed_eof();
    try {
      co_await r.readuntil(";");
      ADD_FAILURE() << "expected IncompleteReadError";
    } catch (const IncompleteReadError& e) {
      EXPECT_EQ(e.partial(), "no separator");
      EXPECT_EQ(e.expected(), std::nullopt);
    }
    EXPECT_TRUE(r.at_eof());
  });
}

TEST(StreamReaderTest, ReaduntilRejectsAnEmptySeparator) {
  run_test([]() -> Coro<void> {
    StreamReader r;
    EXPECT_THROW(co_await r.readuntil(""), std::invalid_argument);
  });
}

TEST(StreamReaderTest, SetExceptionWakesTheWaiterAndFailsLaterReads) {
  run_test([]() -> Coro<void> {
    StreamReader r;
    r.feed_data("x");
    EXPECT_EQ(co_await r.read(1), "x");
    Task<std::string> t = create_task(r.readline());
    co_await yield_times(1);
    r.set_exception(std::make_exception_ptr(ConnectionResetError(ECONNRESET, "boom")));
    EXPECT_THROW(co_await t, ConnectionResetError);
    EXPECT_THROW(co_await r.read(1), ConnectionResetError);
    EXPECT_THROW(co_await r.readexactly(1), ConnectionResetError);
    EXPECT_THROW(co_await r.readuntil(), ConnectionResetError);
    EXPECT_TRUE(r.exception() != nullptr);
  });
}

TEST(StreamReaderTest, FeedDataAfterEofIsAnError) {
  run_test([]() -> Coro<void> {
    StreamReader r;
    r.feed_eof();
    try {
      r.feed_data("late");
      ADD_FAILURE() << "expected InvalidStateError";
    } catch (const InvalidStateError& e) {
      EXPECT_THAT(e.what(), HasSubstr("after feed_eof"));
    }
    co_return;
  });
}

TEST(StreamReaderTest, TwoConcurrentReadersAreRefused) {
  run_test([]() -> Coro<void> {
    StreamReader r;
    Task<std::string> first = create_task(r.read(1));
    co_await yield_times(1);
    try {
      co_await r.readline();
      ADD_FAILURE() << "expected RuntimeError";
    } catch (const RuntimeError& e) {
      EXPECT_THAT(e.what(), HasSubstr("readuntil() called while another coroutine"));
    }
    r.feed_data("z");
    EXPECT_EQ(co_await first, "z");
  });
}

TEST(StreamReaderTest, CancellingAWaitingReadLeavesTheReaderUsable) {
  run_test([]() -> Coro<void> {
    StreamReader r;
    Task<std::string> t = create_task(r.readexactly(4));
    co_await yield_times(1);
    r.feed_data("ab");
    co_await yield_times(1);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
    // The bytes are still there (readexactly consumes only on success).
    r.feed_data("cd");
    EXPECT_EQ(co_await r.readexactly(4), "abcd");
  });
}

class RecordingFlow final : public ReadFlowControl {
 public:
  void pause_reading() override { events += "P"; }
  void resume_reading() override { events += "R"; }
  std::string events;
};

TEST(StreamReaderTest, FedReaderPausesAboveTwiceTheLimitAndResumesAtTheLimit) {
  run_test([]() -> Coro<void> {
    RecordingFlow flow;
    StreamReader r(4);
    r.set_flow_control(&flow);
    r.feed_data("12345678");  // 8 = 2 * limit: not above
    EXPECT_EQ(flow.events, "");
    r.feed_data("9");
    EXPECT_EQ(flow.events, "P");
    EXPECT_TRUE(r.paused());
    r.feed_data("abc");  // already paused: no second pause
    EXPECT_EQ(flow.events, "P");
    EXPECT_EQ(co_await r.read(7), "1234567");  // 5 left > limit
    EXPECT_EQ(flow.events, "P");
    EXPECT_EQ(co_await r.read(1), "8");  // 4 left
    EXPECT_EQ(flow.events, "PR");
    EXPECT_FALSE(r.paused());
  });
}

TEST(StreamReaderTest, AWaitResumesAPausedReader) {
  run_test([]() -> Coro<void> {
    RecordingFlow flow;
    StreamReader r(2);
    r.set_flow_control(&flow);
    r.feed_data("abcdef");
    EXPECT_EQ(flow.events, "P");
    // readexactly needs more than the buffer holds: it must resume the producer to get it.
    Task<std::string> t = create_task(r.readexactly(8));
    co_await yield_times(1);
    EXPECT_EQ(flow.events, "PR");
    r.feed_data("gh");
    EXPECT_EQ(co_await t, "abcdefgh");
  });
}

// A source the test scripts: each step is bytes to return, "" for end of file, or a pause
// (kWouldBlock until the test opens the gate).
class ScriptedSource final : public ReadSource {
 public:
  struct Step {
    enum Kind { kData, kEof, kBlock, kError } kind;
    std::string bytes;
  };
  explicit ScriptedSource(std::deque<Step>* steps, int* reads, int* waits)
      : steps_(steps), reads_(reads), waits_(waits) {}

  ssize_t read_some(char* dst, size_t max) override {
    ++*reads_;
    if (steps_->empty()) return kWouldBlock;
    Step& s = steps_->front();
    switch (s.kind) {
      case Step::kBlock:
        return kWouldBlock;
      case Step::kEof:
        return 0;
      case Step::kError:
        raise_os_error(ECONNRESET, "read from scripted source");
      case Step::kData:
        break;
    }
    const size_t n = std::min(max, s.bytes.size());
    std::copy_n(s.bytes.data(), n, dst);
    s.bytes.erase(0, n);
    if (s.bytes.empty()) steps_->pop_front();
    return static_cast<ssize_t>(n);
  }
  Coro<void> wait_readable() override {
    ++*waits_;
    // The gate: one loop trip per blocked step, then the step is gone.
    co_await sleep(Duration::zero());
    if (!steps_->empty() && steps_->front().kind == Step::kBlock) steps_->pop_front();
  }

 private:
  std::deque<Step>* steps_;
  int* reads_;
  int* waits_;
};

TEST(StreamReaderTest, PullingReaderReadsItsSourceOnDemand) {
  run_test([]() -> Coro<void> {
    using S = ScriptedSource::Step;
    std::deque<S> steps = {{S::kData, "line one\nline"},
                           {S::kBlock, ""},
                           {S::kData, " two\n"},
                           {S::kData, "tail"},
                           {S::kEof, ""}};
    int reads = 0, waits = 0;
    StreamReader r(std::make_unique<ScriptedSource>(&steps, &reads, &waits));
    EXPECT_EQ(reads, 0);  // nothing is read before someone asks
    EXPECT_EQ(co_await r.readline(), "line one\n");
    EXPECT_EQ(reads, 1);
    EXPECT_EQ(co_await r.readline(), "line two\n");
    EXPECT_GE(waits, 1);
    EXPECT_EQ(co_await r.read(), "tail");
    EXPECT_TRUE(r.at_eof());
  });
}

TEST(StreamReaderTest, PullingReaderStoresASourceError) {
  run_test([]() -> Coro<void> {
    using S = ScriptedSource::Step;
    std::deque<S> steps = {{S::kData, "ab"}, {S::kError, ""}};
    int reads = 0, waits = 0;
    StreamReader r(std::make_unique<ScriptedSource>(&steps, &reads, &waits));
    EXPECT_EQ(co_await r.read(2), "ab");
    try {
      co_await r.read(2);
      ADD_FAILURE() << "expected ConnectionResetError";
    } catch (const ConnectionResetError& e) {
      EXPECT_THAT(e.what(), HasSubstr("read from scripted source: [Errno 104] Connection reset by peer"));
      EXPECT_EQ(e.errno_value(), ECONNRESET);
    }
    EXPECT_THROW(co_await r.readline(), ConnectionResetError);
  });
}

TEST(StreamReaderTest, PullingReaderBoundsItsBuffer) {
  run_test([]() -> Coro<void> {
    using S = ScriptedSource::Step;
    std::deque<S> steps = {{S::kData, std::string(1 << 20, 'x')}};
    int reads = 0, waits = 0;
    StreamReader r(std::make_unique<ScriptedSource>(&steps, &reads, &waits), 8192);
    EXPECT_EQ((co_await r.read(1)).size(), 1u);
    // One read of the source, bounded by read_chunk(); the rest stays in the source.
    EXPECT_EQ(reads, 1);
    EXPECT_LE(r.buffered(), r.read_chunk());
    try {
      co_await r.readline();
      ADD_FAILURE() << "expected LimitOverrunError";
    } catch (const LimitOverrunError&) {
    }
    EXPECT_LE(r.buffered(), r.limit() + r.read_chunk());
  });
}

}  // namespace
}  // namespace weft
