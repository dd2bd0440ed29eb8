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
// asend(v) and athrow(e) (asyncio's asend and athrow) resume the body like next() and give
// the next item the same way:
//   - asend(v): for a generator declared with a send type, AsyncGenerator<T, Send>, the
//     co_yield at which the body is suspended evaluates to std::optional<Send>: the value of
//     asend, or std::nullopt when next() resumed it (Python's None).
//
//       weft::AsyncGenerator<int, int> running_total() {
//         int total = 0;
//         for (;;) {
//           std::optional<int> add = co_yield total;
//           if (add) total += *add;
//         }
//       }
//       auto gen = running_total();
//       co_await gen.next();       // runs to the first co_yield: 0
//       co_await gen.asend(5);     // 5
//
//     As in Python, the first resumption must be next(): asend() on a generator not started
//     raises RuntimeError and does not start it. With AsyncGenerator<T> (no send type),
//     co_yield evaluates to nothing and asend() does not exist.
//   - athrow(e): raises the exception `e` (an exception object or std::exception_ptr) at the
//     co_yield where the body is suspended. If the body catches it and co_yields again,
//     athrow gives that item; if it returns, std::nullopt; if it lets it (or another
//     exception) out, that exception comes out of athrow and the generator is finished. On a
//     generator not started (its body never runs; it is finished afterwards) or already
//     finished, athrow raises `e` at once, as Python's athrow does.
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
      if (p->thrown_) std::rethrow_exception(std::exchange(p->thrown_, nullptr));
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
  // athrow(): raised at the co_yield when the frame is resumed.
  void set_thrown(std::exception_ptr e) { thrown_ = std::move(e); }
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
  std::exception_ptr thrown_;
  bool running_ = false;
  bool started_ = false;
  bool closing_ = false;
};

// What a generator's co_yield evaluates to: nothing without a send type, else the value of
// asend() (std::nullopt when next() or athrow() resumed it).
template <class Send>
struct AsyncGenSendSlot {
  std::optional<Send> sent;
};
template <>
struct AsyncGenSendSlot<void> {};

[[noreturn]] void throw_asend_before_start();

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

// asyncio's loop.shutdown_asyncgens(): closes every generator still registered with `loop`
// (each in a task of its own), reports their errors, destroys their frames. A Runtime's
// shutdown awaits it on each of its loops.
Coro<void> shutdown_async_generators(EventLoop& loop);
// The same for weft::run's shutdown, with `loop` not running: runs it until done.
void finalize_async_generators(EventLoop& loop);

}  // namespace internal

template <class T, class Send = void>
class [[nodiscard]] AsyncGenerator {
  static_assert(!std::is_reference_v<T> && !std::is_void_v<T>,
                "AsyncGenerator<T> yields values: T may not be a reference or void");
  static_assert(!std::is_reference_v<Send>,
                "AsyncGenerator<T, Send>: Send may not be a reference (asend takes a value)");

 public:
  class promise_type : public internal::AsyncGenPromiseBase,
                       public internal::AsyncGenSendSlot<Send> {
   public:
    // co_yield's awaiter: YieldAwaiter, plus the sent value when there is a send type.
    struct SendYieldAwaiter : YieldAwaiter {
      std::optional<Send> await_resume() const {
        YieldAwaiter::await_resume();
        return std::exchange(static_cast<promise_type*>(this->p)->sent, std::nullopt);
      }
    };
    using Yield = std::conditional_t<std::is_void_v<Send>, YieldAwaiter, SendYieldAwaiter>;

    explicit promise_type(internal::SiteTag = internal::SiteTag{},
                          const char* function = __builtin_FUNCTION(),
                          const char* file = __builtin_FILE(), unsigned line = __builtin_LINE())
        : AsyncGenPromiseBase(internal::CoroSite{function, file, line}) {}

    AsyncGenerator get_return_object() noexcept {
      auto h = std::coroutine_handle<promise_type>::from_promise(*this);
      set_frame(h);
      return AsyncGenerator(this);
    }
    Yield yield_value(T&& v) noexcept {
      value_ = std::addressof(v);
      move_value_ = true;
      return Yield{{this}};
    }
    Yield yield_value(const T& v) noexcept
      requires std::is_copy_constructible_v<T>
    {
      value_ = const_cast<T*>(std::addressof(v));
      move_value_ = false;
      return Yield{{this}};
    }
    std::optional<T> take_value() {
      T* v = static_cast<T*>(value_);
      if constexpr (std::is_copy_constructible_v<T>) {
        if (!move_value_) return std::optional<T>(*v);
      }
      return std::optional<T>(std::move(*v));
    }
  };

  // next(): resumes the body to its next co_yield. The base of asend's and athrow's
  // awaiters, which hand the body something first.
  class NextAwaiter {
   public:
    static constexpr bool kWeftInlineAwaitable = true;
    explicit NextAwaiter(internal::AsyncGenOwner* own, const char* what = "next")
        : own_(own), what_(what) {}
    bool await_ready() const noexcept { return own_->promise == nullptr; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> consumer) {
      own_->promise->begin_resume(consumer, what_);
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

   protected:
    internal::AsyncGenOwner* own_;
    const char* what_;
  };

  class SendAwaiter : public NextAwaiter {
   public:
    SendAwaiter(internal::AsyncGenOwner* own, Send value)
        : NextAwaiter(own, "asend"), value_(std::move(value)) {}
    bool await_ready() const {
      if (NextAwaiter::await_ready()) return true;
      if (!this->own_->promise->started()) internal::throw_asend_before_start();
      return false;
    }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> consumer) {
      auto* p = static_cast<promise_type*>(this->own_->promise);
      p->begin_resume(consumer, "asend");  // raises if running: nothing is handed over then
      p->sent.emplace(std::move(value_));
      return this->own_->frame;
    }

   private:
    Send value_;
  };

  class ThrowAwaiter : public NextAwaiter {
   public:
    ThrowAwaiter(internal::AsyncGenOwner* own, std::exception_ptr e)
        : NextAwaiter(own, "athrow"), e_(std::move(e)) {}
    bool await_ready() {
      internal::AsyncGenPromiseBase* p = this->own_->promise;
      if (!p) std::rethrow_exception(e_);  // finished: nothing can catch it
      if (!p->started() && !p->running()) {
        p->destroy_frame();  // never started: it finishes without running
        std::rethrow_exception(e_);
      }
      return false;
    }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> consumer) {
      internal::AsyncGenPromiseBase* p = this->own_->promise;
      p->begin_resume(consumer, "athrow");  // raises if running: nothing is handed over then
      p->set_thrown(std::move(e_));
      return this->own_->frame;
    }

   private:
    std::exception_ptr e_;
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
  // co_await asend(v): hands `v` to the body as the value of its co_yield, then like next().
  // (A template only so that AsyncGenerator<T> can declare no asend(void).)
  template <class S = Send>
    requires(!std::is_void_v<S>)
  [[nodiscard]] SendAwaiter asend(std::type_identity_t<S> v) {
    return SendAwaiter(&own_, std::move(v));
  }
  // co_await athrow(e): raises `e` at the body's co_yield, then like next(). See the file
  // comment for a generator not started or finished.
  [[nodiscard]] ThrowAwaiter athrow(std::exception_ptr e) {
    return ThrowAwaiter(&own_, std::move(e));
  }
  template <class E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>)
  [[nodiscard]] ThrowAwaiter athrow(E&& e) {
    return athrow(std::make_exception_ptr(std::forward<E>(e)));
  }
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
