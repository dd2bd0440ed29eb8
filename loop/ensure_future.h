// ensure_future: what the combinators do with each awaitable they are given (internal;
// asyncio.ensure_future).
//
//   Coro<T>            -> a new Task<T> on the running loop (the combinator owns it)
//   Task<T>, Future<T> -> that same task or future (a copy of the handle)
//   any other awaitable -> a new Task wrapping `co_await awaitable`
//
// The result is a Child: the handle, plus whether the combinator may move the value out
// (it may for a task it created and for a handle passed as an rvalue, the convention of
// `co_await std::move(task)`), otherwise it copies (or moves, for a move-only T).
#ifndef WEFT_LOOP_ENSURE_FUTURE_H_
#define WEFT_LOOP_ENSURE_FUTURE_H_

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

#include "loop/coro.h"
#include "loop/errors.h"
#include "loop/future.h"
#include "loop/future_base.h"
#include "loop/outcome.h"
#include "loop/task.h"

namespace weft::internal {

template <class A>
struct IsCoro : std::false_type {};
template <class T>
struct IsCoro<Coro<T>> : std::true_type {};
template <class A>
struct IsTask : std::false_type {};
template <class T>
struct IsTask<Task<T>> : std::true_type {};
template <class A>
struct IsFuture : std::false_type {};
template <class T>
struct IsFuture<Future<T>> : std::true_type {};

// Task<T> and Future<T>: what wait() and as_completed() accept as they are.
template <class H>
concept FutureHandle = IsTask<std::remove_cvref_t<H>>::value || IsFuture<std::remove_cvref_t<H>>::value;

// Whether `co_await a` is valid inside a Coro.
template <class A>
concept CoroAwaitable = InlineAwaitable<A> || requires(A&& a) {
  get_awaiter(std::forward<A>(a)).await_ready();
  get_awaiter(std::forward<A>(a)).await_resume();
};

// What `co_await a` gives inside a Coro.
template <class A>
using RawAwaitResult = decltype(get_awaiter(std::declval<CoroPromiseBase&>().await_transform(
                                                std::declval<A>()))
                                    .await_resume());

// The same, by value unless it is an lvalue reference.
template <class A>
using AwaitResult = std::conditional_t<std::is_lvalue_reference_v<RawAwaitResult<A>>,
                                       RawAwaitResult<A>, std::remove_cvref_t<RawAwaitResult<A>>>;

// The value type a child contributes to a tuple or vector: void becomes std::monostate.
template <class T>
using SlotOf = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class H, bool kMove>
class Child;

template <template <class> class HandleT, class T, bool kMove>
class Child<HandleT<T>, kMove> {
 public:
  using Handle = HandleT<T>;
  using Value = T;
  explicit Child(Handle h) : h_(std::move(h)) {}

  FutureBase* base() const { return h_.base(); }
  Handle& handle() { return h_; }

  // The value for a child known to have finished with one.
  SlotOf<T> take() {
    if constexpr (std::is_void_v<T>) {
      h_.result();
      return {};
    } else if constexpr (std::is_reference_v<T>) {
      return h_.result();
    } else if constexpr (kMove || !std::is_copy_constructible_v<T>) {
      return std::move(h_.result());
    } else {
      return h_.result();
    }
  }

  // The outcome of a child known to be done.
  Outcome<T> take_outcome() {
    FutureBase* b = base();
    if (b->cancelled() || b->has_exception()) {
      try {
        b->check_result();  // rethrows (marking the exception retrieved)
      } catch (...) {
        return Outcome<T>::failure(std::current_exception(), b->cancelled());
      }
    }
    if constexpr (std::is_void_v<T>) {
      return Outcome<void>(std::in_place);
    } else {
      return Outcome<T>(std::in_place, take());
    }
  }

 private:
  Handle h_;
};

template <class A>
Coro<AwaitResult<A>> await_in_task(A awaitable) {
  if constexpr (std::is_void_v<AwaitResult<A>>) {
    co_await std::move(awaitable);
  } else {
    co_return co_await std::move(awaitable);
  }
}

// The Child type ensure_future() makes for an argument of type A (as passed: A&& form).
template <class A>
auto ensure_future(A&& a) {
  using D = std::remove_cvref_t<A>;
  if constexpr (IsCoro<D>::value) {
    static_assert(!std::is_const_v<std::remove_reference_t<A>>,
                  "a const Coro cannot be run: pass it by value");
    return Child<decltype(create_task(std::move(a))), true>(create_task(std::move(a)));
  } else if constexpr (IsTask<D>::value || IsFuture<D>::value) {
    constexpr bool kMove = !std::is_lvalue_reference_v<A>;
    return Child<D, kMove>(D(std::forward<A>(a)));
  } else {
    auto t = create_task(await_in_task<D>(D(std::forward<A>(a))));
    return Child<decltype(t), true>(std::move(t));
  }
}

template <class A>
using ChildOf = decltype(ensure_future(std::declval<A>()));

}  // namespace weft::internal

#endif  // WEFT_LOOP_ENSURE_FUTURE_H_
