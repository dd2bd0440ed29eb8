// ExecutorCall<T> and run_in_executor: run a function on an Executor and await its result
// (asyncio's loop.run_in_executor).
//
//   weft::Coro<std::string> load(std::string path) {
//     std::string text = co_await weft::run_in_executor(pool, read_file, path);
//     co_return text;
//   }
//
// run_in_executor(executor, fn, args...) submits fn(args...) at once (like asyncio's, whose
// future exists before it is awaited) and returns an ExecutorCall<T>, T being fn's result
// type. The arguments are copied or moved into the call (use std::ref to pass a reference).
// `co_await call` gives fn's value or rethrows its exception. For the shared blocking pool
// use to_thread / run_in_executor(fn) (to_thread.h); for CPU-bound work, run_cpu
// (cpu_executor.h).
//
// Why a free function and not an EventLoop member: EventLoop lives in loop/, which knows
// nothing of executors (dependencies point sync -> scheduler -> loop), and the call does not
// need a loop until it is awaited: submitting works from any thread.
//
// Cancellation. Cancelling the awaiting task raises CancelledError in it at once. A call
// that has not started by then is skipped; one that is running is not interrupted (a thread
// cannot be killed safely): it finishes, and its value is dropped (an exception is not
// reported as never retrieved). The same holds when a loop shuts down (weft::run cancels its
// tasks) while a call is in flight: the executor thread never touches a loop that is gone
// (see executor_job.h).
//
// Ownership: ExecutorCall<T> is a move-only handle, awaited once: awaiting moves the result
// out and empties the handle; awaiting it again raises RuntimeError. Dropping it without
// awaiting detaches the call, which still runs (as a dropped Tokio JoinHandle); the class is
// [[nodiscard]] so that this is visible.
//
// Thread-safety: run_in_executor: any thread. An ExecutorCall must be awaited in a Coro
// running in a Task (RuntimeError otherwise), and done() may be asked on any thread.
#ifndef WEFT_SCHEDULER_EXECUTOR_CALL_H_
#define WEFT_SCHEDULER_EXECUTOR_CALL_H_

#include <exception>
#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "loop/errors.h"
#include "loop/future_base.h"
#include "loop/task_base.h"
#include "scheduler/executor.h"
#include "scheduler/executor_job.h"

namespace weft {
namespace internal {

// A job with a typed result.
template <class T>
class TypedJob : public ExecutorJob {
 public:
  // After done(): the value (moved out), or the call's exception.
  T take_result() {
    if (error_) std::rethrow_exception(error_);
    if constexpr (std::is_void_v<T>) {
      return;
    } else if constexpr (std::is_reference_v<T>) {
      return slot_.get();
    } else {
      return std::move(slot_.get());
    }
  }

 protected:
  ResultSlot<T> slot_;
};

// fn and its arguments, stored decayed, invoked as rvalues once.
template <class T, class F, class... Args>
class CallJob final : public TypedJob<T> {
 public:
  template <class FF, class... AA>
  explicit CallJob(FF&& fn, AA&&... args)
      : fn_(std::forward<FF>(fn)), args_(std::forward<AA>(args)...) {}

 private:
  void invoke() noexcept override {
    try {
      if constexpr (std::is_void_v<T>) {
        std::apply(std::move(fn_), std::move(args_));
      } else {
        this->slot_.set(std::apply(std::move(fn_), std::move(args_)));
      }
    } catch (...) {
      this->error_ = std::current_exception();
    }
  }

  F fn_;
  std::tuple<Args...> args_;
};

[[noreturn]] void throw_call_already_awaited();

// How a task awaits an ExecutorCall (see executor_job.h for the handshake).
template <class T>
class ExecutorCallAwaiter final : public WaitCanceller {
 public:
  explicit ExecutorCallAwaiter(TypedJob<T>* job) : job_(job) {}  // adopts a reference
  ExecutorCallAwaiter(ExecutorCallAwaiter&& other) noexcept
      : job_(std::exchange(other.job_, nullptr)) {}
  ExecutorCallAwaiter(const ExecutorCallAwaiter&) = delete;
  ~ExecutorCallAwaiter() {
    if (job_) job_->release_awaiting_side(registered_);
  }

  bool await_ready() const noexcept { return job_->done(); }
  bool await_suspend(TaskBase& task) {
    if (!job_->try_register(task)) return false;  // finished meanwhile: carry on
    task_ = &task;
    registered_ = true;
    task.set_waiting_on(this);
    return true;
  }
  T await_resume() { return job_->take_result(); }

  bool cancel_wait(const std::string& msg) override {
    if (!job_->try_abandon_waiting()) return false;  // the wake is on its way
    registered_ = false;  // the job let go of the task: the executor will not post
    task_->request_cancel_delivery(msg);
    task_->wake_from_wait();
    return true;
  }

 private:
  TypedJob<T>* job_;
  TaskBase* task_ = nullptr;
  // The job knows our task as its waiter: on the way out, make sure the executor thread is
  // done posting to the task's loop (release_awaiting_side).
  bool registered_ = false;
};

}  // namespace internal

template <class T>
class [[nodiscard]] ExecutorCall {
 public:
  ExecutorCall() = default;
  explicit ExecutorCall(internal::TypedJob<T>* job) : job_(job) {}  // adopts a reference
  ExecutorCall(ExecutorCall&& other) noexcept : job_(std::exchange(other.job_, nullptr)) {}
  ExecutorCall& operator=(ExecutorCall&& other) noexcept {
    if (this != &other) {
      reset();
      job_ = std::exchange(other.job_, nullptr);
    }
    return *this;
  }
  ~ExecutorCall() { reset(); }

  // False once awaited (or moved from).
  explicit operator bool() const { return job_ != nullptr; }
  // Whether the call has finished (its result is ready). Any thread.
  bool done() const { return job_ != nullptr && job_->done(); }

  internal::ExecutorCallAwaiter<T> operator co_await() & { return take(); }
  internal::ExecutorCallAwaiter<T> operator co_await() && { return take(); }

 private:
  internal::ExecutorCallAwaiter<T> take() {
    if (!job_) internal::throw_call_already_awaited();
    return internal::ExecutorCallAwaiter<T>(std::exchange(job_, nullptr));
  }
  void reset() {
    if (job_) std::exchange(job_, nullptr)->release_awaiting_side(/*registered=*/false);
  }

  internal::TypedJob<T>* job_ = nullptr;
};

// The result type of run_in_executor(executor, fn, args...).
template <class F, class... Args>
using ExecutorResult = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;

template <class F, class... Args>
ExecutorCall<ExecutorResult<F, Args...>> run_in_executor(Executor& executor, F&& fn,
                                                         Args&&... args) {
  using T = ExecutorResult<F, Args...>;
  auto* job = new internal::CallJob<T, std::decay_t<F>, std::decay_t<Args>...>(
      std::forward<F>(fn), std::forward<Args>(args)...);
  try {
    executor.submit(job);
  } catch (...) {
    // Not taken: drop both references (ours and the one meant for the executor).
    job->release_awaiting_side(/*registered=*/false);
    job->fail(nullptr);
    throw;
  }
  return ExecutorCall<T>(job);
}

}  // namespace weft

#endif  // WEFT_SCHEDULER_EXECUTOR_CALL_H_
