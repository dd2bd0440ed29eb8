// Task<T>: a scheduled coroutine (asyncio.Task), and weft::create_task.
//
//   weft::Task<int> t = weft::create_task(compute(), "compute");
//   ...
//   int v = co_await t;          // any number of tasks may await it
//   t.cancel("no longer needed");  // CancelledError at its current suspension point
//
// create_task() pins the task to the loop that created it (asyncio semantics: the tasks of
// one loop never race). A pending task is kept alive by its loop: dropping every Task handle
// does not stop or destroy it (unlike asyncio, where an unreferenced task can be collected).
//
// Cancellation (asyncio 3.11+): cancel(msg) delivers CancelledError(msg) at the task's
// current suspension point, or at the next one if it is running or about to run. A task
// suspended on another task or future cancels that one in turn. The coroutine may catch
// CancelledError, clean up (awaiting is allowed) and rethrow; if it swallows it, the task
// ends normally. cancelling() counts pending requests, uncancel() withdraws one.
//
// Ownership: Task<T> is a reference-counted handle. `co_await t` copies the result;
// `co_await std::move(t)` (or awaiting a temporary) moves it out.
//
// Thread-safety: owning loop only, except copying/destroying the handle.
//
// Misuse: result()/exception() of a pending task raise InvalidStateError; a task awaiting
// itself raises RuntimeError; an exception nobody retrieved is reported through the loop's
// exception handler ("Task exception was never retrieved") when the last handle goes; a
// loop closed with the task still pending reports "Task was destroyed but it is pending".
#ifndef WEFT_LOOP_TASK_H_
#define WEFT_LOOP_TASK_H_

#include <coroutine>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "loop/coro.h"
#include "loop/event_loop.h"
#include "loop/future_awaiter.h"
#include "loop/task_base.h"

namespace weft {

class Runtime;

namespace internal {

template <class T>
class TaskState final : public TaskBase {
 public:
  using PromiseType = typename Coro<T>::promise_type;
  TaskState(EventLoop* loop, std::coroutine_handle<PromiseType> root, std::string_view name)
      : TaskBase(loop, root, &root.promise(), name) {}
  ResultSlot<T>& slot() { return slot_; }

 private:
  void take_result_from_root() override {
    // The root promise is a PromiseType: TaskState is only created from a Coro<T>'s handle.
    auto* promise = static_cast<PromiseType*>(root_promise());
    if constexpr (std::is_void_v<T>) {
      promise->take();
    } else {
      slot_.set(promise->take());
    }
  }
  [[no_unique_address]] ResultSlot<T> slot_;
};

}  // namespace internal

template <class T = void>
class Task {
 public:
  using State = internal::TaskState<T>;

  Task() = default;
  Task(const Task& o) : s_(o.s_) {
    if (s_) s_->ref();
  }
  Task(Task&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Task& operator=(Task o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Task() {
    if (s_) s_->unref();
  }

  explicit operator bool() const { return s_ != nullptr; }
  bool done() const { return s_->done(); }
  bool cancelled() const { return s_->cancelled(); }
  // Requests cancellation; false if the task is already done.
  bool cancel(std::string msg = "") { return s_->cancel(std::move(msg)); }
  int cancelling() const { return s_->cancelling(); }
  int uncancel() { return s_->uncancel(); }

  decltype(auto) result() {
    s_->check_result();
    return s_->slot().get();
  }
  std::exception_ptr exception() { return s_->exception(); }

  std::string get_name() const { return s_->name(); }
  void set_name(std::string name) { s_->set_name(std::move(name)); }
  EventLoop& get_loop() const { return *s_->loop(); }

  // Schedules fn(Task&) with call_soon on the task's loop when it is done (at once if it
  // is). Returns an id for remove_done_callback.
  template <class F>
  uint64_t add_done_callback(F fn) {
    return s_->add_done_callback([fn = std::move(fn)](internal::FutureBase& b) mutable {
      Task t(static_cast<State*>(&b));
      t.s_->ref();
      fn(t);
    });
  }
  size_t remove_done_callback(uint64_t id) { return s_->remove_done_callback(id); }

  auto operator co_await() const& { return internal::FutureAwaiter<State, T, false>(s_); }
  auto operator co_await() && { return internal::FutureAwaiter<State, T, true>(s_); }

  // For weft's own machinery (combinators, introspection).
  internal::TaskBase* base() const { return s_; }
  // Two handles to the same task compare equal.
  friend bool operator==(const Task& a, const Task& b) { return a.s_ == b.s_; }

 private:
  friend class EventLoop;
  friend class Runtime;
  explicit Task(State* s) : s_(s) {}  // adopts a reference
  State* s_ = nullptr;
};

template <class T>
Task<T> EventLoop::create_task(Coro<T> coro, std::string_view name, const char* file,
                               unsigned line) {
  check_open("create_task");
  check_thread("create_task");
  internal::pin_current_task();
  auto handle = coro.release("wrapped in a Task");
  auto* state = new internal::TaskState<T>(this, handle, name);  // refs: 2
  if (debug_) [[unlikely]] state->set_creation_site(file, line);
  adopt_task(state);
  return Task<T>(state);
}

template <class T>
T EventLoop::run_until_complete(Task<T> task) {
  run_until_done(*task.base());
  if constexpr (std::is_void_v<T>) {
    task.result();
  } else {
    return std::move(task.result());
  }
}

template <class T>
T EventLoop::run_until_complete(Coro<T> coro) {
  // Refuse before wrapping the coroutine in a task (as asyncio does): a refused coroutine
  // must not be scheduled behind the caller's back on a loop that is already running.
  check_can_run("run_until_complete");
  return run_until_complete(create_task(std::move(coro)));
}

// Schedules `coro` as a task on the running loop (pinned to it). Raises RuntimeError if no
// loop is running on this thread. `file`/`line`: leave defaulted (debug mode's creation site).
template <class T>
Task<T> create_task(Coro<T> coro, std::string_view name = {},
                    const char* file = __builtin_FILE(),
                    unsigned line = __builtin_LINE()) {
  return EventLoop::current().create_task(std::move(coro), name, file, line);
}

}  // namespace weft

#endif  // WEFT_LOOP_TASK_H_
