// weft::sleep: suspend the current task for a duration (asyncio.sleep).
//
//   co_await weft::sleep(100ms);
//   co_await weft::sleep(0s);   // a plain yield: the task goes to the back of the ready queue
//
// The timer lives inside the awaiting coroutine's frame: sleeping allocates nothing.
// Cancelling the task removes the timer at once and raises CancelledError at the await.
//
// Must be awaited inside a Coro running in a Task (RuntimeError otherwise).
#ifndef WEFT_LOOP_SLEEP_H_
#define WEFT_LOOP_SLEEP_H_

#include <chrono>
#include <string>

#include "loop/clock.h"
#include "loop/task_base.h"
#include "loop/timer_heap.h"

namespace weft {
namespace internal {

class SleepAwaiter final : public TimerBase, public WaitCanceller {
 public:
  explicit SleepAwaiter(Duration delay) : delay_(delay) {}
  SleepAwaiter(SleepAwaiter&& other) noexcept : delay_(other.delay_) {}
  SleepAwaiter(const SleepAwaiter&) = delete;
  ~SleepAwaiter();

  bool await_ready() const noexcept { return false; }
  void await_suspend(TaskBase& task);
  void await_resume() const noexcept {}

  void on_due() override;
  bool cancel_wait(const std::string& msg) override;

 private:
  Duration delay_;
  TaskBase* task_ = nullptr;
};

}  // namespace internal

template <class Rep, class Period>
internal::SleepAwaiter sleep(std::chrono::duration<Rep, Period> delay) {
  return internal::SleepAwaiter(std::chrono::ceil<Duration>(delay));
}

}  // namespace weft

#endif  // WEFT_LOOP_SLEEP_H_
