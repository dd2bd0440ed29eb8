// Helpers of the queue suites, beside tests/sync/sync_test_util.h: creating a task on a chosen
// loop of a Runtime from a task, how a task ended, and the stress scale under sanitizers.
#ifndef WEFT_TESTS_SYNC_QUEUE_TEST_UTIL_H_
#define WEFT_TESTS_SYNC_QUEUE_TEST_UTIL_H_

#include <cstdlib>
#include <string>

#include "loop/weft.h"
#include "scheduler/run_coroutine_threadsafe.h"
#include "scheduler/wrap_future.h"
#include "sync/queue_errors.h"
#include "tests/sync/sync_test_util.h"


namespace weft::sync_test {

// Sanitizers run ~10x slower: suites divide their iteration counts by this.
inline constexpr long kSanitizerSlowdown = test_env::kSanitizerSlowdown;

// `fallback`, unless the environment variable `name` holds a positive number.
inline long env_or(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr) return fallback;
  long n = std::strtol(v, nullptr, 10);
  return n > 0 ? n : fallback;
}

template <class T>
Coro<Task<T>> create_task_here(Coro<T> coro) {
  co_return create_task(std::move(coro));
}

// Creates a task pinned to `loop` (from a task on any loop) and returns its handle.
template <class T>
Coro<Task<T>> create_task_on(EventLoop& loop, Coro<T> coro) {
  co_return co_await run_coroutine_threadsafe(create_task_here(std::move(coro)), loop);
}

// Awaits `t` and says how it ended: "ok", "cancelled" or "shutdown".
template <class T>
Coro<std::string> outcome(Task<T>& t) {
  try {
    co_await t;
    co_return "ok";
  } catch (const CancelledError&) {
    co_return "cancelled";
  } catch (const QueueShutDown&) {
    co_return "shutdown";
  }
}

}  // namespace weft::sync_test

#endif  // WEFT_TESTS_SYNC_QUEUE_TEST_UTIL_H_
