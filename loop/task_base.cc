#include "loop/task_base.h"

#include <atomic>
#include <utility>

#include "absl/strings/str_format.h"
#include "loop/coro.h"
#include "loop/errors.h"
#include "loop/event_loop.h"

namespace weft::internal {
namespace {

std::atomic<uint64_t> g_next_task_id{1};

// Task ids are unique, handed out to each thread in blocks: one shared atomic increment per
// kBlock tasks rather than per task (it is contended once several loops create tasks).
uint64_t next_task_id() {
  constexpr uint64_t kBlock = 1024;
  constinit thread_local uint64_t next = 0;
  constinit thread_local uint64_t end = 0;
  if (next == end) [[unlikely]] {
    next = g_next_task_id.fetch_add(kBlock, std::memory_order_relaxed);
    end = next + kBlock;
  }
  return next++;
}

// The per-task coroutine handed to foreign awaitables in place of the task's own: each
// resumption wakes the task on its loop (from any thread), then suspends again.
struct WakerCoroutine {
  struct promise_type {
    WakerCoroutine get_return_object() {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  std::coroutine_handle<promise_type> handle;
};

WakerCoroutine make_waker(TaskBase* task) {
  for (;;) {
    task->wake();
    co_await std::suspend_always{};
  }
}

}  // namespace

TaskBase::TaskBase(EventLoop* loop, std::coroutine_handle<> root, CoroPromiseBase* root_promise,
                   std::string&& name)
    : FutureBase(loop, /*refs=*/2),  // the Task handle and the loop
      root_(root),
      root_promise_(root_promise),
      resume_point_(root),
      cold_(name.empty() ? nullptr : std::make_unique<Cold>(Cold{std::move(name), {}})),
      site_(root_promise->site()),
      id_(next_task_id()) {
  root_promise->set_task(this);
}

TaskBase::~TaskBase() { destroy_frames(); }

void TaskBase::destroy_frames() {
  if (root_) std::exchange(root_, {}).destroy();
  if (waker_) std::exchange(waker_, {}).destroy();
  resume_point_ = {};
}

std::string TaskBase::name() const {
  return cold_ && !cold_->name.empty() ? cold_->name : absl::StrFormat("Task-%d", id_);
}

void TaskBase::set_name(std::string name) {
  if (cold_ || !name.empty()) cold().name = std::move(name);
}

TaskBase::Cold& TaskBase::cold() {
  if (!cold_) cold_ = std::make_unique<Cold>();
  return *cold_;
}

const std::string& TaskBase::cancel_msg() const {
  static const std::string* const kEmpty = new std::string();
  return cold_ ? cold_->cancel_msg : *kEmpty;
}

std::string TaskBase::describe() const {
  const char* state = state_name();
  return absl::StrFormat("<Task %s name='%s' coro=%s() at %s:%d>", state, name(), site_.function,
                         site_.file, site_.line);
}

const char* TaskBase::state_name() const {
  switch (state()) {
    case State::kPending:
      return "pending";
    case State::kCancelled:
      return "cancelled";
    case State::kFinished:
      return exception_ ? "finished exception" : "finished";
  }
  return "?";
}

void TaskBase::run() {
  if (done() || !root_) return;
  if (!started_) {
    started_ = true;
    if (must_cancel_) {
      // Cancelled before its first step: the coroutine never runs (asyncio throws
      // CancelledError into it before its first line, with the same visible effect).
      must_cancel_ = false;
      destroy_frames();
      mark_retrieved();
      finish_cancelled(std::make_exception_ptr(CancelledError(cancel_msg())));
      loop_->release_task(this);
      return;
    }
  }
  EventLoop* loop = loop_;
  TaskBase* outer = loop->current_task();
  loop->set_current_task(this);
  resume_point_.resume();
  loop->set_current_task(outer);
  if (root_.done()) complete();
}

void TaskBase::complete() {
  std::exception_ptr e = root_promise_->exception();
  if (e) {
    bool is_cancel = false;
    try {
      std::rethrow_exception(e);
    } catch (const CancelledError&) {
      is_cancel = true;
    } catch (...) {
    }
    destroy_frames();
    must_cancel_ = false;
    if (is_cancel) {
      mark_retrieved();
      finish_cancelled(std::move(e));
    } else {
      finish_exception(std::move(e));
    }
  } else if (must_cancel_) {
    // Cancelled after its last suspension point: the task ends cancelled even though the
    // coroutine returned (asyncio does the same).
    must_cancel_ = false;
    destroy_frames();
    mark_retrieved();
    finish_cancelled(std::make_exception_ptr(CancelledError(cancel_msg())));
  } else {
    take_result_from_root();
    destroy_frames();
    finish();
  }
  loop_->release_task(this);  // may delete this
}

bool TaskBase::cancel(std::string msg) {
  mark_retrieved();
  if (done()) return false;
  ++num_cancels_requested_;
  // The awaited future/task/timer may take charge (a Task awaited in turn is cancelled, and
  // may even refuse); otherwise deliver at the next resumption.
  if (waiting_on_ && waiting_on_->cancel_wait(msg)) return true;
  request_cancel_delivery(msg);
  return true;
}

void TaskBase::request_cancel_delivery(const std::string& msg) {
  must_cancel_ = true;
  cold().cancel_msg = msg;
}

void TaskBase::throw_cancelled() {
  must_cancel_ = false;
  throw CancelledError(cancel_msg());
}

int TaskBase::uncancel() {
  if (num_cancels_requested_ > 0) --num_cancels_requested_;
  // asyncio 3.13: withdrawing the last request also withdraws an undelivered one.
  if (num_cancels_requested_ == 0) must_cancel_ = false;
  return static_cast<int>(num_cancels_requested_);
}

void TaskBase::wake() {
  EventLoop* loop = loop_;
  if (t_running_loop == loop) {
    loop->schedule(this);
  } else {
    loop->schedule_threadsafe(this);
  }
}

std::coroutine_handle<> TaskBase::foreign_waker() {
  if (!waker_) waker_ = make_waker(this).handle;
  return waker_;
}

void TaskBase::abandon() {
  if (done()) return;
  ExceptionContext ctx;
  ctx.message = "Task was destroyed but it is pending!";
  ctx.task = name();
  ctx.future = describe();
  ctx.source = absl::StrFormat("%s:%d in %s", site_.file, site_.line, site_.function);
  // Destroying the frames runs the destructors of everything the coroutines hold, including
  // the awaiters, which unregister from timers and futures.
  destroy_frames();
  loop_->call_exception_handler(ctx);
}

void TaskBase::on_last_unref() {
  if (state() != State::kFinished || !exception_ || exception_retrieved()) return;
  ExceptionContext ctx;
  ctx.message = "Task exception was never retrieved";
  ctx.exception = exception_;
  ctx.task = name();
  ctx.future = describe();
  ctx.source = absl::StrFormat("%s:%d in %s", site_.file, site_.line, site_.function);
  if (loop_is_alive(loop_)) {
    loop_->call_exception_handler(ctx);
  } else {
    print_exception_context(ctx);
  }
}

TaskBase* current_task_or_null() noexcept {
  EventLoop* loop = t_running_loop;
  return loop ? loop->current_task() : nullptr;
}

}  // namespace weft::internal
