// Coro<T>: a lazy coroutine, asyncio's coroutine object.
//
//   weft::Coro<int> add(int a, int b) { co_return a + b; }
//   weft::Coro<void> main_coro() {
//     int x = co_await add(1, 2);            // runs inline, no trip through the loop
//     weft::Task<int> t = weft::create_task(add(3, 4));  // scheduled on the loop
//     x += co_await t;
//   }
//
// Nothing runs until the Coro is awaited or wrapped in a Task. `co_await coro` enters it
// directly by symmetric transfer (no allocation besides its frame, no trip through the
// ready queue) and the awaiting coroutine continues when it returns, the same way; a chain
// of a million nested awaits does not grow the stack. Exceptions propagate to the awaiter.
// Coro<void>, Coro<T> and Coro<T&> work.
//
// Ownership: the Coro object owns the coroutine frame; moving it moves the frame. A Coro
// runs once: awaiting it a second time raises RuntimeError (wrap it in a Task to await a
// result several times). A Coro destroyed without ever running is reported in debug mode
// ("coroutine 'NAME' was never awaited") with where the coroutine is defined, the stack
// where the Coro was created (captured when its frame is, in debug mode: "Coroutine created
// at (most recent call last)", asyncio's) and where it was dropped.
//
// Thread-safety: a Coro is a value; it runs on the loop of the task that awaits it.
//
// Inside a Coro, co_await accepts: another Coro, weft's awaitables (Task, Future, sleep, the
// sync primitives, ...), and any type with await_ready/await_suspend/await_resume. Such a
// foreign awaitable receives a handle that is safe to resume from any thread: it wakes the
// task on its own loop (see task_base.h).
#ifndef WEFT_LOOP_CORO_H_
#define WEFT_LOOP_CORO_H_

#include <concepts>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "loop/creation_site.h"
#include "loop/errors.h"
#include "loop/frame_allocator.h"
#include "loop/future_base.h"
#include "loop/task_base.h"

namespace weft {

template <class T = void>
class Coro;

namespace internal {

// Keeps a coroutine's own arguments from being taken for the promise's site arguments:
// the compiler first tries promise_type(args...) and only then promise_type().
struct SiteTag {
  explicit SiteTag() = default;
};

// Marks awaitables that a Coro's await_transform passes through untouched because they
// handle the task protocol themselves (Coro itself, async generators).
template <class A>
concept InlineAwaitable = requires { std::remove_cvref_t<A>::kWeftInlineAwaitable; };

// Awaiters that speak weft's task protocol (task_base.h).
template <class A>
concept TaskAwaiter = requires(A& a, TaskBase& t) {
  { a.await_ready() } -> std::convertible_to<bool>;
  a.await_suspend(t);
  a.await_resume();
};

template <class A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); }) {
    return std::forward<A>(a).operator co_await();
  } else if constexpr (requires { operator co_await(std::forward<A>(a)); }) {
    return operator co_await(std::forward<A>(a));
  } else {
    return std::forward<A>(a);
  }
}

// What an adapter stores: a reference when the awaiter is a glvalue (`co_await sleep(1s)`:
// the temporary lives until the end of the full expression, past the resumption), the value
// when it is a prvalue (the result of operator co_await). A reference keeps a second copy of
// the awaiter out of the coroutine frame.
template <class Raw>
using StoredAwaiter =
    std::conditional_t<std::is_reference_v<Raw>, Raw, std::remove_cvref_t<Raw>>;

[[noreturn]] void throw_no_task(const char* what);

// Wraps a TaskAwaiter: records the resume point, and delivers a pending cancellation on
// resumption (asyncio's Task.__step throwing CancelledError into the coroutine).
//
// Both adapters clear task_ when the coroutine does not suspend after all, so that a non-null
// task_ at await_resume means "resumed after a suspension" without a flag of its own (8 bytes
// less in every frame suspended on an await).
template <class Aw>
class TaskAwaiterAdapter {
 public:
  TaskAwaiterAdapter(Aw&& aw, TaskBase* task) : aw_(std::forward<Aw>(aw)), task_(task) {}
  bool await_ready() {
    if (!aw_.await_ready()) return false;
    task_ = nullptr;
    return true;
  }
  bool await_suspend(std::coroutine_handle<> h) {
    TaskBase* task = task_;
    if (!task) throw_no_task("a weft awaitable");
    task->set_resume_point(h);
    if constexpr (std::is_void_v<decltype(aw_.await_suspend(*task))>) {
      aw_.await_suspend(*task);
      return true;
    } else {
      if (aw_.await_suspend(*task)) return true;
      task_ = nullptr;  // resumed at once
      return false;
    }
  }
  decltype(auto) await_resume() {
    if (task_) task_->throw_if_must_cancel();
    return aw_.await_resume();
  }

 private:
  Aw aw_;
  TaskBase* task_;
};

// Wraps any other awaitable: it gets the task's waker instead of the coroutine's handle.
template <class Aw>
class ForeignAwaiterAdapter {
 public:
  ForeignAwaiterAdapter(Aw&& aw, TaskBase* task) : aw_(std::forward<Aw>(aw)), task_(task) {}
  bool await_ready() {
    if (!aw_.await_ready()) return false;
    task_ = nullptr;
    return true;
  }
  auto await_suspend(std::coroutine_handle<> h) {
    std::coroutine_handle<> target = h;
    if (task_) {
      task_->set_resume_point(h);
      target = task_->foreign_waker();
    }
    // Once the awaitable has the handle, it may resume us on another thread: touch nothing
    // after handing it over, unless it declined to suspend.
    using R = decltype(aw_.await_suspend(target));
    try {
      if constexpr (std::is_void_v<R>) {
        aw_.await_suspend(target);
      } else if constexpr (std::is_same_v<R, bool>) {
        if (aw_.await_suspend(target)) return true;
        if (task_) task_->disarm_foreign_waker();
        task_ = nullptr;  // resumed at once
        return false;
      } else {
        return std::coroutine_handle<>(aw_.await_suspend(target));
      }
    } catch (...) {
      if (task_) task_->disarm_foreign_waker();
      throw;
    }
  }
  decltype(auto) await_resume() {
    if (task_) task_->throw_if_must_cancel();
    return aw_.await_resume();
  }

 private:
  Aw aw_;
  TaskBase* task_;
};

// Frames come from FrameAllocator (UsesFrameAllocator): the compiler allocates a coroutine
// frame with the promise's operator new, and frees it with its sized operator delete.
class CoroPromiseBase : public UsesFrameAllocator {
 public:
  explicit CoroPromiseBase(CoroSite site)
      : function_(site.function), file_(site.file), line_(site.line) {
    // Debug mode keeps the stack where the frame was created, for "never awaited"
    // (creation_site.h). Off: one load and a branch.
    if (g_debug_reasons.load(std::memory_order_relaxed) != 0) [[unlikely]] {
      has_origin_ = capture_coro_origin(this);
    }
  }
  CoroPromiseBase(const CoroPromiseBase&) = delete;
  CoroPromiseBase& operator=(const CoroPromiseBase&) = delete;
  ~CoroPromiseBase() {
    // Adjacent bits: one test of the flags word for both (every Coro's frame comes here).
    if (has_origin_ || has_exception_) [[unlikely]] {
      if (has_exception_) exception_.~exception_ptr();
      if (has_origin_) forget_coro_origin(this);
    }
  }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      std::coroutine_handle<> next = h.promise().continuation_;
      return next ? next : std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }

  void unhandled_exception() noexcept {
    new (&exception_) std::exception_ptr(std::current_exception());
    has_exception_ = true;
  }

  // Every co_await of the body comes through here. Besides adapting the awaitable, it
  // records where the coroutine is suspended (the co_await's line: g++ and clang give the
  // line of the call site for a defaulted __builtin_LINE(), i.e. of the co_await; g++ the
  // operand's line when the expression spans lines) and forgets the child of the previous
  // await; awaiting a Coro or an async generator sets the child again (for the task dump,
  // introspect.h). One or two plain stores.
  template <class A>
  decltype(auto) await_transform(A&& a, unsigned line = __builtin_LINE()) {
    await_line_ = line;
    if constexpr (InlineAwaitable<A>) {
      return std::forward<A>(a);  // its await_suspend sets child_
    } else {
      child_ = nullptr;
      using Raw = decltype(get_awaiter(std::forward<A>(a)));
      using Stored = StoredAwaiter<Raw>;
      if constexpr (TaskAwaiter<std::remove_reference_t<Stored>>) {
        return TaskAwaiterAdapter<Stored>(get_awaiter(std::forward<A>(a)), task_);
      } else {
        return ForeignAwaiterAdapter<Stored>(get_awaiter(std::forward<A>(a)), task_);
      }
    }
  }

  CoroSite site() const { return CoroSite{function_, file_, line_}; }
  const char* file() const { return file_; }
  // The line of the co_await the coroutine last reached (it is suspended there while it is
  // suspended); 0 before its first await.
  uint32_t await_line() const { return await_line_; }
  // The coroutine this one is awaiting inline (a Coro, an async generator), or nullptr.
  // Meaningful while this coroutine is suspended (or running an inline child): the chain
  // root -> child -> ... is the task's await chain.
  CoroPromiseBase* child() const { return has_exception_ ? nullptr : child_; }
  void set_child(CoroPromiseBase* c) { child_ = c; }
  const char* function_name() const { return function_; }
  TaskBase* task() const { return task_; }
  void set_task(TaskBase* t) { task_ = t; }
  std::coroutine_handle<> continuation() const { return continuation_; }
  void set_continuation(std::coroutine_handle<> c) { continuation_ = c; }
  bool has_exception() const { return has_exception_; }
  const std::exception_ptr& exception() const {
    return has_exception_ ? exception_ : kNoException;
  }
  // Marks the coroutine as started; throws RuntimeError if it already was.
  void start(const char* how) {
    if (started_) [[unlikely]] throw_already_started(how);
    started_ = true;
  }
  bool started() const { return started_; }

 private:
  [[noreturn]] void throw_already_started(const char* how) const;
  static const std::exception_ptr kNoException;
  std::coroutine_handle<> continuation_;
  TaskBase* task_ = nullptr;
  // The child is needed only while the body runs or is suspended, the exception only once
  // it has ended: they share a word (a frame one allocation class smaller; W9,
  // bench/README.md). has_exception_ says which is live.
  union {
    CoroPromiseBase* child_ = nullptr;
    std::exception_ptr exception_;
  };
  // The CoroSite, flat; the flags and the await line fill the last word (8 bytes less in
  // every frame).
  const char* function_;
  const char* file_;
  uint32_t line_ : 29;
  uint32_t started_ : 1 = 0;
  uint32_t has_origin_ : 1 = 0;  // a creation stack is recorded (debug mode)
  uint32_t has_exception_ : 1 = 0;
  uint32_t await_line_ = 0;
};

// Reports "coroutine 'NAME' was never awaited" (debug mode only).
void report_never_awaited(const CoroPromiseBase& promise);

template <class T>
class CoroPromise : public CoroPromiseBase {
 public:
  explicit CoroPromise(CoroSite site) : CoroPromiseBase(site) {}
  template <class U>
    requires std::convertible_to<U&&, T>
  void return_value(U&& v) {
    slot_.set(std::forward<U>(v));
  }
  T take() { return std::move(slot_.get()); }

 private:
  ResultSlot<T> slot_;
};

template <class T>
class CoroPromise<T&> : public CoroPromiseBase {
 public:
  explicit CoroPromise(CoroSite site) : CoroPromiseBase(site) {}
  void return_value(T& v) { slot_.set(v); }
  T& take() { return slot_.get(); }

 private:
  ResultSlot<T&> slot_;
};

template <>
class CoroPromise<void> : public CoroPromiseBase {
 public:
  explicit CoroPromise(CoroSite site) : CoroPromiseBase(site) {}
  void return_void() noexcept {}
  void take() {}
};

inline TaskBase::TaskBase(EventLoop* loop, std::coroutine_handle<> root,
                          CoroPromiseBase* root_promise, std::string_view name)
    : FutureBase(loop, /*refs=*/2),  // the Task handle and the loop
      root_(root),
      root_promise_(root_promise),
      resume_point_(root),
      site_function_(root_promise->site().function),
      site_file_(root_promise->site().file),
      id_(TaskIds::take()),
      site_line_(root_promise->site().line) {
  root_promise->set_task(this);
  if (!name.empty()) [[unlikely]] set_name_at_creation(name);
}

}  // namespace internal

template <class T>
class [[nodiscard]] Coro {
 public:
  class promise_type : public internal::CoroPromise<T> {
   public:
    explicit promise_type(internal::SiteTag = internal::SiteTag{},
                          const char* function = __builtin_FUNCTION(),
                          const char* file = __builtin_FILE(), unsigned line = __builtin_LINE())
        : internal::CoroPromise<T>(internal::CoroSite{function, file, line}) {}
    Coro get_return_object() noexcept {
      return Coro(std::coroutine_handle<promise_type>::from_promise(*this));
    }
  };
  using Handle = std::coroutine_handle<promise_type>;
  static constexpr bool kWeftInlineAwaitable = true;

  Coro() = default;
  Coro(Coro&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Coro& operator=(Coro&& other) noexcept {
    if (this != &other) {
      reset();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  // Inline test: most Coros die moved-from (awaited, or wrapped in a Task), and the call
  // alone was ~10 instructions of every spawn (W4).
  ~Coro() {
    if (h_) [[unlikely]] reset();
  }

  // True unless moved-from or default-constructed.
  explicit operator bool() const { return static_cast<bool>(h_); }
  // The name of the coroutine function (for reports and task names).
  const char* function_name() const { return h_ ? h_.promise().function_name() : ""; }

  class Awaiter {
   public:
    explicit Awaiter(Handle h) : h_(h) {}
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
      auto& p = h_.promise();
      p.set_continuation(parent);
      if constexpr (std::is_base_of_v<internal::CoroPromiseBase, P>) {
        p.set_task(parent.promise().task());
        parent.promise().set_child(&p);
      }
      return h_;
    }
    T await_resume() {
      auto& p = h_.promise();
      if (p.has_exception()) std::rethrow_exception(p.exception());
      return p.take();
    }

   private:
    Handle h_;
  };

  Awaiter operator co_await() & { return Awaiter(start("awaited")); }
  Awaiter operator co_await() && { return Awaiter(start("awaited")); }

  // Takes the frame out of this Coro (for Task): the caller owns it from now on.
  Handle release(const char* how) {
    Handle h = start(how);
    h_ = {};
    return h;
  }

 private:
  explicit Coro(Handle h) : h_(h) {}
  Handle start(const char* how) {
    if (!h_) {
      throw RuntimeError(std::string("cannot be ") + how +
                         ": this Coro is empty (moved-from or default-constructed); call the "
                         "coroutine function again to get a new one");
    }
    h_.promise().start(how);
    return h_;
  }
  void reset() {
    if (!h_) return;
    if (!h_.promise().started()) internal::report_never_awaited(h_.promise());
    h_.destroy();
    h_ = {};
  }

  Handle h_;
};

}  // namespace weft

#endif  // WEFT_LOOP_CORO_H_
