// AsyncGenerator<T>: a coroutine that co_yields values and co_awaits between them (Python's
// async generator).
//
//   weft::AsyncGenerator<Row> rows(Db& db) {
//     auto cursor = co_await db.query("...");
//     while (auto batch = co_await cursor.fetch(100)) {
//       for (Row& r : *batch) co_yield std::move(r);
//     }
//   }
//
//   auto gen = rows(db);
//   while (std::optional<Row> r = co_await gen.next()) use(*r);   // std::nullopt: the end
//
// (C++ has no `async for`; the while loop is its equivalent.)
//
// next() runs the generator's body inline in the awaiting task, up to its next co_yield, by
// symmetric transfer: a yielded item costs no trip through the loop and no allocation. The
// body's own awaits (sleep, futures, other Coros...) suspend the awaiting task, as a
// Coro's would. An exception from the body comes out of the next() that ran into it; the
// generator is then finished. Nothing runs until the first next().
//
// aclose() (asyncio's aclose): closes a generator suspended at a co_yield by raising
// GeneratorExit there, so that its cleanup runs and may await; the GeneratorExit is
// expected to propagate out of the body (or the body may return). A body that co_yields
// again raises RuntimeError from aclose(); a different exception propagates from it. On a
// generator not started or already finished, aclose() does nothing. Afterwards next()
// gives std::nullopt. GeneratorExit, like CancelledError, is not a std::exception. C++
// forbids co_await inside a catch block, so asynchronous cleanup goes after it:
//
//   bool closing = false;
//   try { for (;;) co_yield co_await read(); } catch (const weft::GeneratorExit&) { closing = true; }
//   if (closing) { co_await flush(); throw weft::GeneratorExit(); }
//
// Ownership and cleanup: AsyncGenerator owns the frame (movable, not copyable).
//   - Destroyed before it has finished, it destroys the frame at once: the body's
//     destructors run, but no asynchronous cleanup (C++ destructors cannot await; and the
//     frame may refer to objects that are going away too). To let the body clean up with
//     awaits, `co_await gen.aclose()` before dropping it.
//   - Still alive and not finished when weft::run shuts down (after the remaining tasks
//     have been cancelled), it is closed the way asyncio's shutdown_asyncgens does:
//     aclose() runs in a task of its own (its cleanup may await), errors go to the loop's
//     exception handler, then the frame is destroyed. The AsyncGenerator object stays
//     valid and gives std::nullopt.
//
// Misuse: next() or aclose() while the generator is already running (suspended in an await
// inside its body on behalf of another next()) raises RuntimeError. Destroying the
// AsyncGenerator while another task is inside next() or aclose() is undefined (as
// destroying a Coro that another task is running). Owning loop only: the generator runs in
// the task that awaits next().
#ifndef WEFT_LOOP_ASYNC_GENERATOR_H_
#define WEFT_LOOP_ASYNC_GENERATOR_H_

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "loop/asyncgen_registry.h"
#include "loop/coro.h"
#include "loop/errors.h"
#include "loop/task_base.h"

namespace weft {

class EventLoop;

// Raised inside an async generator, at its co_yield, by aclose(): clean up and let it go.
class GeneratorExit : public BaseException {
 public:
  GeneratorExit() : BaseException("async generator closed (aclose)") {}
};

namespace internal {

class AsyncGenPromiseBase;

// Where the AsyncGenerator keeps its frame; the promise points back at it so that a
// shutdown that destroys the frame can tell the owner.
struct AsyncGenOwner {
  std::coroutine_handle<> frame;
  AsyncGenPromiseBase* promise = nullptr;
};

class AsyncGenPromiseBase : public CoroPromiseBase, public AsyncGenNode {
 public:
  explicit AsyncGenPromiseBase(CoroSite site) : CoroPromiseBase(site) {}

  std::suspend_always initial_suspend() noexcept { return {}; }
  void return_void() noexcept {}

  struct YieldAwaiter {
    AsyncGenPromiseBase* p;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<>) const noexcept {
      return p->continuation();
    }
    void await_resume() const {
      if (p->closing_) throw GeneratorExit();
    }
  };

  // Before resuming the frame for next() or aclose(): checks and bookkeeping. Raises
  // RuntimeError if the generator is already running.
  template <class P>
  void begin_resume(std::coroutine_handle<P> consumer, const char* what) {
    if (running_) throw_already_running(what);
    set_continuation(consumer);
    if constexpr (std::is_base_of_v<CoroPromiseBase, P>) {
      set_task(consumer.promise().task());
      consumer.promise().set_child(this);
    } else {
      set_task(nullptr);  // not in a weft task: the body's weft awaits will say so
    }
    running_ = true;
    if (!started_) on_first_resume();
  }
  void end_resume() { running_ = false; }

  bool running() const { return running_; }
  bool started() const { return started_; }
  void set_closing() { closing_ = true; }
  std::coroutine_handle<> frame() const { return frame_; }
  void set_frame(std::coroutine_handle<> f) { frame_ = f; }
  void set_owner(AsyncGenOwner* o) { owner_ = o; }

  // Unregisters, tells the owner, destroys the frame. `this` is gone afterwards.
  void destroy_frame();
  // After aclose()'s resumption: what the body did with GeneratorExit. Destroys the frame;
  // raises if the body ignored it or raised something else.
  void finish_close();

 protected:
  void* value_ = nullptr;  // the yielded item, valid while suspended at co_yield
  bool move_value_ = false;

 private:
  [[noreturn]] static void throw_already_running(const char* what);
  void on_first_resume();

  std::coroutine_handle<> frame_;
  AsyncGenOwner* owner_ = nullptr;
  bool running_ = false;
  bool started_ = false;
  bool closing_ = false;
};

// aclose() for any generator (also used by the shutdown finaliser).
class AcloseAwaiter {
 public:
  static constexpr bool kWeftInlineAwaitable = true;
  explicit AcloseAwaiter(AsyncGenPromiseBase* p) : p_(p) {}
  bool await_ready();
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> consumer) {
    p_->begin_resume(consumer, "aclose");
    p_->set_closing();
    return p_->frame();
  }
  void await_resume() {
    if (p_) p_->finish_close();
  }

 private:
  AsyncGenPromiseBase* p_;
};

// weft::run's shutdown: closes every generator still registered with `loop` (each in a
// task of its own), reports their errors, destroys their frames.
void finalize_async_generators(EventLoop& loop);

}  // namespace internal

template <class T>
class [[nodiscard]] AsyncGenerator {
  static_assert(!std::is_reference_v<T> && !std::is_void_v<T>,
                "AsyncGenerator<T> yields values: T may not be a reference or void");

 public:
  class promise_type : public internal::AsyncGenPromiseBase {
   public:
    explicit promise_type(internal::SiteTag = internal::SiteTag{},
                          const char* function = __builtin_FUNCTION(),
                          const char* file = __builtin_FILE(), unsigned line = __builtin_LINE())
        : AsyncGenPromiseBase(internal::CoroSite{function, file, line}) {}

    AsyncGenerator get_return_object() noexcept {
      auto h = std::coroutine_handle<promise_type>::from_promise(*this);
      set_frame(h);
      return AsyncGenerator(this);
    }
    YieldAwaiter yield_value(T&& v) noexcept {
      value_ = std::addressof(v);
      move_value_ = true;
      return YieldAwaiter{this};
    }
    YieldAwaiter yield_value(const T& v) noexcept
      requires std::is_copy_constructible_v<T>
    {
      value_ = const_cast<T*>(std::addressof(v));
      move_value_ = false;
      return YieldAwaiter{this};
    }
    std::optional<T> take_value() {
      T* v = static_cast<T*>(value_);
      if constexpr (std::is_copy_constructible_v<T>) {
        if (!move_value_) return std::optional<T>(*v);
      }
      return std::optional<T>(std::move(*v));
    }
  };

  class NextAwaiter {
   public:
    static constexpr bool kWeftInlineAwaitable = true;
    explicit NextAwaiter(internal::AsyncGenOwner* own) : own_(own) {}
    bool await_ready() const noexcept { return own_->promise == nullptr; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> consumer) {
      own_->promise->begin_resume(consumer, "next");
      return own_->frame;
    }
    std::optional<T> await_resume() {
      auto* p = static_cast<promise_type*>(own_->promise);
      if (!p) return std::nullopt;
      p->end_resume();
      if (!own_->frame.done()) return p->take_value();
      std::exception_ptr e = p->exception();
      p->destroy_frame();
      if (e) std::rethrow_exception(e);
      return std::nullopt;
    }

   private:
    internal::AsyncGenOwner* own_;
  };

  AsyncGenerator() = default;
  AsyncGenerator(AsyncGenerator&& o) noexcept : own_(std::exchange(o.own_, {})) {
    if (own_.promise) own_.promise->set_owner(&own_);
  }
  AsyncGenerator& operator=(AsyncGenerator&& o) noexcept {
    if (this != &o) {
      reset();
      own_ = std::exchange(o.own_, {});
      if (own_.promise) own_.promise->set_owner(&own_);
    }
    return *this;
  }
  ~AsyncGenerator() { reset(); }

  // co_await next(): the next item, or std::nullopt once the generator has finished.
  [[nodiscard]] NextAwaiter next() { return NextAwaiter(&own_); }
  // co_await aclose(): see the file comment.
  [[nodiscard]] internal::AcloseAwaiter aclose() { return internal::AcloseAwaiter(own_.promise); }
  // True once the generator has finished, been closed, or was moved from.
  bool done() const { return own_.promise == nullptr; }

 private:
  explicit AsyncGenerator(promise_type* p) {
    own_.frame = p->frame();
    own_.promise = p;
    p->set_owner(&own_);
  }
  void reset() {
    if (own_.promise) own_.promise->destroy_frame();
  }

  internal::AsyncGenOwner own_;
};

}  // namespace weft

#endif  // WEFT_LOOP_ASYNC_GENERATOR_H_
