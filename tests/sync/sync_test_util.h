// Helpers of the sync/ suites: running coroutines on chosen loops of a Runtime from the
// test's thread, and holding a loop still so that cross-loop races happen in a forced order.
#ifndef WEFT_TESTS_SYNC_SYNC_TEST_UTIL_H_
#define WEFT_TESTS_SYNC_SYNC_TEST_UTIL_H_

#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "loop/weft.h"
#include "scheduler/run_coroutine_threadsafe.h"
#include "tests/sanitizers.h"
#include "tests/scheduler/loop_thread.h"

namespace weft::sync_test {

constexpr int kScale = test_env::kSanitizerSlowdown;

// Runs `coro` as a task on `loop` and waits for its result from this plain thread.
template <class T>
T run_on(EventLoop& loop, Coro<T> coro) {
  return run_coroutine_threadsafe(std::move(coro), loop).get();
}

// One trip through the loop's ready queue.
inline Coro<void> yield_once() { co_await sleep(std::chrono::seconds(0)); }

// Returns once `loop` has run everything that was ready before this call (a task created
// there has run its first step, e.g. up to the wait it suspends in).
inline void settle(EventLoop& loop) { run_on(loop, yield_once()); }

// Awaits `task`: true if it ended cancelled, false if it returned.
template <class T>
Coro<bool> ended_cancelled(Task<T>& task) {
  try {
    co_await task;
  } catch (const CancelledError&) {
    co_return true;
  }
  co_return false;
}

// What `f` raised (its what()), or "" if it returned.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Polls `condition` from a plain thread (the state it reads is changed by loop threads).
template <class F>
void spin_until(F condition) {
  while (!condition()) std::this_thread::yield();
}

// Holds `loop` inside one of its callbacks from construction until release(): what other
// threads do meanwhile reaches the loop's inbox but does not run. `then` runs on the loop's
// thread when released, before anything that queued up (e.g. a cancel() that must come
// before a wake already in the inbox).
class LoopHold {
 public:
  explicit LoopHold(EventLoop& loop, std::function<void()> then = {}) : then_(std::move(then)) {
    loop.call_soon_threadsafe([this] {
      holding_.notify();
      go_.wait();
      if (then_) then_();
      done_.notify();
    });
    holding_.wait();
  }
  LoopHold(const LoopHold&) = delete;
  ~LoopHold() { release(); }
  void release() {
    if (released_) return;
    released_ = true;
    go_.notify();
    done_.wait();
  }

 private:
  std::function<void()> then_;
  testing::Notification holding_, go_, done_;
  bool released_ = false;
};

}  // namespace weft::sync_test

#endif  // WEFT_TESTS_SYNC_SYNC_TEST_UTIL_H_
