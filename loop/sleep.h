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
#include <memory>
#include <string>

#include "loop/clock.h"
#include "loop/errors.h"
#include "loop/task_base.h"
#include "loop/timer_queue.h"

namespace weft {
namespace internal {

class SleepAwaiter final : public TimerBase, public WaitCanceller {
 public:
  explicit SleepAwaiter(Duration delay) : delay_(delay) {}
  SleepAwaiter(SleepAwaiter&& other) noexcept : delay_(other.delay_) {}
  SleepAwaiter(const SleepAwaiter&) = delete;
  // Inline, like sleep(0) below: W2 (yield_many) is a loop of them.
  ~SleepAwaiter() {
    // Still armed (the frame goes while its task is abandoned) or cancelled: rare.
    if (scheduled() || (task_ && cancel_msg_)) [[unlikely]] release();
  }

  bool await_ready() const noexcept { return false; }
  void await_suspend(TaskBase& task) {
    const Duration delay = delay_;
    cancel_msg_ = nullptr;  // the union's other member from here on
    task_ = &task;
    if (delay <= Duration::zero()) {
      // sleep(0): back of the ready queue; a cancel meanwhile is delivered at resumption.
      task.yield_now();
      return;
    }
    arm(delay);
  }
  // Raises the CancelledError of a cancel() that interrupted this sleep.
  void await_resume() const {
    if (task_ && cancel_msg_) throw CancelledError(*cancel_msg_);
  }

  std::string describe_wait() const override;
  void on_due() override;
  bool cancel_wait(const std::string& msg) override;

 private:
  void arm(Duration delay);
  void release();

  // Null until await_suspend; it also says which member of the union below is live.
  TaskBase* task_ = nullptr;
  // The delay until await_suspend has read it, then the cancel message: never both, so they
  // share a word (a sleeping frame is 8 bytes smaller: W9, bench/README.md).
  union {
    Duration delay_;
    // Set (owned) when cancel() interrupted the sleep. The sleep itself raises, like
    // asyncio's cancelled sleep future, rather than TaskBase::request_cancel_delivery():
    // that one is withdrawn by uncancel(), which would end the sleep early without any error.
    std::string* cancel_msg_;
  };
};

}  // namespace internal

template <class Rep, class Period>
internal::SleepAwaiter sleep(std::chrono::duration<Rep, Period> delay) {
  return internal::SleepAwaiter(std::chrono::ceil<Duration>(delay));
}

}  // namespace weft

#endif  // WEFT_LOOP_SLEEP_H_
