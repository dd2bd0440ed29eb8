#include "tests/io/stream_reader_model.h"

#include <memory>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

#include "loop/stream_reader.h"
#include "loop/weft.h"

namespace weft::io_test {
namespace {

// Reads the fuzz input front to back; zeros once it runs out.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  uint8_t byte() { return p_ == end_ ? 0 : *p_++; }
  std::string bytes(size_t n) {
    n = std::min<size_t>(n, end_ - p_);
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

enum class Op : uint8_t { kRead, kReadAll, kReadExactly, kReadline, kReaduntil, kCount };

struct Step {
  Op op;
  size_t n;
};

struct Case {
  size_t limit;
  std::string sep;
  std::vector<Step> steps;
  std::vector<std::string> chunks;
};

// Small alphabets make separators (and '\n') frequent; raw bytes cover the rest.
std::string map_alphabet(std::string s, uint8_t mode) {
  if (mode % 3 == 2) return s;
  const char* alphabet = mode % 3 == 0 ? "ab\n" : "abc\r\n";
  const size_t k = std::string_view(alphabet).size();
  for (char& c : s) c = alphabet[static_cast<uint8_t>(c) % k];
  return s;
}

Case decode(const uint8_t* data, size_t size) {
  Input in(data, size);
  Case c;
  const uint8_t limit_byte = in.byte();
  c.limit = limit_byte < 240 ? 1 + limit_byte % 24 : 64 * 1024;
  const uint8_t mode = in.byte();
  c.sep = map_alphabet(in.bytes(1 + in.byte() % 3), mode);
  if (c.sep.empty()) c.sep = "\n";
  const size_t num_steps = 1 + in.byte() % 16;
  for (size_t i = 0; i < num_steps; ++i) {
    const uint8_t op = in.byte();
    c.steps.push_back({static_cast<Op>(op % static_cast<uint8_t>(Op::kCount)), in.byte() % 40u});
  }
  while (!in.empty()) {
    const size_t len = in.byte() % 48;
    c.chunks.push_back(map_alphabet(in.bytes(len), mode));
  }
  return c;
}

class FlowLog final : public ReadFlowControl {
 public:
  void pause_reading() override {
    if (paused) error = "pause_reading() called twice in a row";
    paused = true;
  }
  void resume_reading() override {
    if (!paused) error = "resume_reading() without a pause";
    paused = false;
  }
  bool paused = false;
  std::string error;
};

// The outcome of one operation, captured the moment it completed.
struct Outcome {
  enum Kind { kValue, kIncomplete, kOverrun, kOther } kind = kOther;
  std::string value;  // the result, or IncompleteReadError's partial bytes
  std::optional<size_t> expected;
  size_t consumed = 0;
  std::string what;
  size_t fed_at_completion = 0;
  bool eof_at_completion = false;
  size_t buffered_after = 0;
};

class Checker {
 public:
  explicit Checker(Case c) : c_(std::move(c)), reader_(c_.limit) {
    reader_.set_flow_control(&flow_);
  }

  Coro<std::string> run() {
    for (size_t i = 0; i < c_.steps.size(); ++i) {
      const Step step = c_.steps[i];
      Outcome out;
      Task<void> t = create_task(perform(step, out));
      while (!t.done()) {
        co_await sleep(Duration::zero());
        if (t.done()) break;
        if (!feed_next(step.op)) {
          t.cancel();
          try {
            co_await t;
          } catch (const CancelledError&) {
          }
          co_return error_;
        }
      }
      co_await t;
      if (!check(step, out)) {
        std::ostringstream s;
        s << "step " << i << " (op " << static_cast<int>(step.op) << ", n " << step.n
          << ", limit " << c_.limit << ", sep size " << c_.sep.size() << "): " << error_;
        co_return s.str();
      }
      if (!flow_.error.empty()) co_return flow_.error;
    }
    co_return std::string();
  }

 private:
  // Feeds the next chunk, or end of file. False on a violated check.
  bool feed_next(Op waiting) {
    if (next_chunk_ < c_.chunks.size()) {
      const std::string& chunk = c_.chunks[next_chunk_++];
      reader_.feed_data(chunk);
      fed_ += chunk;
      // read() moves what it has so far out of the buffer: the model knows only at the end.
      if (waiting != Op::kReadAll && reader_.buffered() != fed_.size() - pos_) {
        return fail("buffered() after feed_data is " + std::to_string(reader_.buffered()) +
                    ", the model says " + std::to_string(fed_.size() - pos_));
      }
      // (A reader waiting for more than the buffer holds resumes the producer, as asyncio's
      // does; the next non-empty feed pauses it again.)
      if (!chunk.empty() && reader_.buffered() > 2 * c_.limit && !flow_.paused) {
        return fail("buffer above 2 * limit and the producer is not paused");
      }
    } else if (!eof_) {
      reader_.feed_eof();
      eof_ = true;
    } else {
      return fail("an operation still waits after end of file");
    }
    return true;
  }

  Coro<void> perform(Step step, Outcome& out) {
    try {
      switch (step.op) {
        case Op::kRead:
          out.value = co_await reader_.read(static_cast<ssize_t>(step.n));
          break;
        case Op::kReadAll:
          out.value = co_await reader_.read();
          break;
        case Op::kReadExactly:
          out.value = co_await reader_.readexactly(step.n);
          break;
        case Op::kReadline:
          out.value = co_await reader_.readline();
          break;
        case Op::kReaduntil:
          out.value = co_await reader_.readuntil(c_.sep);
          break;
        case Op::kCount:
          break;
      }
      out.kind = Outcome::kValue;
    } catch (const IncompleteReadError& e) {
      out.kind = Outcome::kIncomplete;
      out.value = e.partial();
      out.expected = e.expected();
    } catch (const LimitOverrunError& e) {
      out.kind = Outcome::kOverrun;
      out.consumed = e.consumed();
      out.what = e.what();
    } catch (const std::exception& e) {
      out.kind = Outcome::kOther;
      out.what = e.what();
    }
    out.fed_at_completion = fed_.size();
    out.eof_at_completion = eof_;
    out.buffered_after = reader_.buffered();
  }

  bool fail(std::string what) {
    error_ = std::move(what);
    return false;
  }

  // The bytes fed and not consumed when the operation completed.
  std::string_view remaining(const Outcome& out) const {
    return std::string_view(fed_).substr(pos_, out.fed_at_completion - pos_);
  }

  bool expect_consumed(const Outcome& out, size_t n) {
    const size_t left = out.fed_at_completion - pos_ - n;
    if (out.buffered_after != left) {
      return fail("buffered() is " + std::to_string(out.buffered_after) + " after consuming " +
                  std::to_string(n) + " bytes; the model says " + std::to_string(left));
    }
    pos_ += n;
    if (reader_.buffered() <= c_.limit && flow_.paused) {
      return fail("buffer at or below the limit and the producer is still paused");
    }
    return true;
  }

  // `sep` search of readuntil/readline against the model.
  bool check_until(const Outcome& out, std::string_view sep, bool is_readline) {
    const std::string_view r = remaining(out);
    const size_t isep = r.find(sep);
    switch (out.kind) {
      case Outcome::kValue:
        if (isep == std::string_view::npos) {
          if (is_readline && out.eof_at_completion && out.value == r) {
            return expect_consumed(out, r.size());
          }
          return fail("returned " + std::to_string(out.value.size()) +
                      " bytes but the stream holds no separator");
        }
        if (out.value != r.substr(0, isep + sep.size())) {
          return fail("returned bytes differ from the stream up to the first separator");
        }
        if (isep > c_.limit) return fail("returned a chunk longer than the limit");
        return expect_consumed(out, isep + sep.size());
      case Outcome::kIncomplete:
        if (is_readline) return fail("readline raised IncompleteReadError");
        if (!out.eof_at_completion) return fail("IncompleteReadError before end of file");
        if (isep != std::string_view::npos) return fail("IncompleteReadError with a separator");
        if (out.value != r) return fail("IncompleteReadError's partial is not the rest");
        if (out.expected) return fail("readuntil's IncompleteReadError has an expected size");
        return expect_consumed(out, r.size());
      case Outcome::kOverrun: {
        size_t consumed;
        if (isep == std::string_view::npos) {
          if (r.size() < sep.size()) return fail("LimitOverrunError on a short buffer");
          consumed = r.size() + 1 - sep.size();
          if (consumed <= c_.limit) {
            return fail("LimitOverrunError although the separator could still fit");
          }
        } else {
          consumed = isep;
          if (isep <= c_.limit) return fail("LimitOverrunError with the separator in bounds");
        }
        if (out.consumed != consumed) {
          return fail("LimitOverrunError.consumed() is " + std::to_string(out.consumed) +
                      ", asyncio's rule gives " + std::to_string(consumed));
        }
        if (!is_readline) return expect_consumed(out, 0);  // the data stays
        // readline discards through the separator, or everything.
        return expect_consumed(out, isep != std::string_view::npos ? isep + 1 : r.size());
      }
      case Outcome::kOther:
        return fail("unexpected exception: " + out.what);
    }
    return fail("unreachable");
  }

  bool check(const Step& step, const Outcome& out) {
    const std::string_view r = remaining(out);
    switch (step.op) {
      case Op::kRead:
        if (out.kind != Outcome::kValue) return fail("read raised: " + out.what);
        if (step.n > 0 && out.value.empty() && !out.eof_at_completion) {
          return fail("read returned nothing before end of file");
        }
        if (out.value != r.substr(0, std::min(step.n, r.size()))) {
          return fail("read returned bytes other than the stream's next ones");
        }
        return expect_consumed(out, out.value.size());
      case Op::kReadAll:
        if (out.kind != Outcome::kValue) return fail("read() raised: " + out.what);
        if (!out.eof_at_completion || out.value != r) {
          return fail("read() did not return the whole rest of the stream");
        }
        return expect_consumed(out, r.size());
      case Op::kReadExactly:
        if (out.kind == Outcome::kValue) {
          if (out.value != r.substr(0, step.n) || out.value.size() != step.n) {
            return fail("readexactly returned the wrong bytes");
          }
          return expect_consumed(out, step.n);
        }
        if (out.kind != Outcome::kIncomplete) return fail("readexactly raised: " + out.what);
        if (!out.eof_at_completion || r.size() >= step.n || out.value != r ||
            out.expected != step.n) {
          return fail("readexactly's IncompleteReadError does not match the stream");
        }
        return expect_consumed(out, r.size());
      case Op::kReadline:
        return check_until(out, "\n", /*is_readline=*/true);
      case Op::kReaduntil:
        return check_until(out, c_.sep, /*is_readline=*/false);
      case Op::kCount:
        break;
    }
    return true;
  }

  Case c_;
  FlowLog flow_;
  StreamReader reader_;
  std::string fed_;
  size_t pos_ = 0;
  size_t next_chunk_ = 0;
  bool eof_ = false;
  std::string error_;
};

EventLoop& shared_loop() {
  // One loop for every input: creating one per input would dominate the run.
  static EventLoop* loop = new EventLoop;
  return *loop;
}

}  // namespace

std::string check_stream_reader(const uint8_t* data, size_t size) {
  Checker checker(decode(data, size));
  return shared_loop().run_until_complete(checker.run());
}

}  // namespace weft::io_test
