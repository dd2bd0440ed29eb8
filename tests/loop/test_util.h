// Helpers shared by the loop/ test suites.
//
// loop_test::HandlerLog records what a loop reports through its exception handler, so that tests can
// assert both that an expected report arrived and that nothing else was reported.
#ifndef WEFT_TESTS_LOOP_TEST_UTIL_H_
#define WEFT_TESTS_LOOP_TEST_UTIL_H_

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "loop/weft.h"

namespace weft::loop_test {

class HandlerLog {
 public:
  // Routes `loop`'s reports to this log. The log must outlive the loop's use of it.
  void install(EventLoop& loop) {
    loop.set_exception_handler(
        [this](EventLoop&, const ExceptionContext& ctx) { contexts.push_back(ctx); });
  }
  // Installs on the loop running on this thread (from inside weft::run's main).
  void install_current() { install(EventLoop::current()); }

  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    for (const ExceptionContext& c : contexts) out.push_back(c.message);
    return out;
  }
  // How many reports have a message containing `needle`.
  int count(const std::string& needle) const {
    int n = 0;
    for (const ExceptionContext& c : contexts) n += c.message.find(needle) != std::string::npos;
    return n;
  }

  std::vector<ExceptionContext> contexts;
};

// The message of a std::exception or weft::BaseException held by `e`.
inline std::string what(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (const BaseException& x) {
    return x.message();
  } catch (...) {
    return "<unknown exception>";
  }
}

}  // namespace weft::loop_test

// Helpers of the combinator suites.

// gtest's ASSERT_* return from the function, which a coroutine cannot do: these record the
// failure and co_return (from a Coro<void>).
#define CO_ASSERT_TRUE(cond)        \
  do {                              \
    const bool co_ok_ = (cond);     \
    EXPECT_TRUE(co_ok_) << #cond;   \
    if (!co_ok_) co_return;         \
  } while (0)
#define CO_ASSERT_EQ(a, b)        \
  do {                            \
    EXPECT_EQ(a, b);              \
    if (!((a) == (b))) co_return; \
  } while (0)

namespace weft::testing {

// Records what reaches the running loop's exception handler. Install it from inside the
// loop (the first lines of the test's main coroutine); it must outlive weft::run, whose
// shutdown may still report.
class HandlerLog {
 public:
  void install() {
    EventLoop::current().set_exception_handler(
        [this](EventLoop&, const ExceptionContext& c) { contexts_.push_back(c); });
  }
  const std::vector<ExceptionContext>& contexts() const { return contexts_; }
  size_t size() const { return contexts_.size(); }
  // How many reports have `needle` in their message.
  size_t count(const std::string& needle) const {
    size_t n = 0;
    for (const ExceptionContext& c : contexts_) {
      if (c.message.find(needle) != std::string::npos) ++n;
    }
    return n;
  }
  std::string dump() const {
    std::string out;
    for (const ExceptionContext& c : contexts_) out += c.to_string() + "\n";
    return out;
  }

 private:
  std::vector<ExceptionContext> contexts_;
};

template <class E>
bool holds(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

inline std::string what_of(const std::exception_ptr& e) {
  ExceptionContext c;
  c.exception = e;
  return c.exception_text();
}

// Returns what `gate` is set to: a task that finishes exactly when the test says so.
inline Coro<int> value_when(Future<int> gate) { co_return co_await gate; }

// Fails with std::runtime_error(what) when `gate` is set.
inline Coro<int> fail_when(Future<int> gate, std::string what) {
  co_await gate;
  throw std::runtime_error(what);
}

// `n` trips through the loop: orders steps without depending on the clock.
inline Coro<void> yield_times(int n) {
  for (int i = 0; i < n; ++i) co_await sleep(Duration::zero());
}

// Futures that the test completes in an order of its choosing.
inline std::vector<Future<int>> make_gates(size_t n) {
  std::vector<Future<int>> gates;
  for (size_t i = 0; i < n; ++i) gates.push_back(EventLoop::current().create_future<int>());
  return gates;
}

// Lets every task that is ready run once more (a few loop iterations).
inline Coro<void> run_briefly(int iterations = 3) {
  for (int i = 0; i < iterations; ++i) co_await sleep(Duration::zero());
}

}  // namespace weft::testing

#endif  // WEFT_TESTS_LOOP_TEST_UTIL_H_
