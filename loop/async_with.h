// weft::async_with: a resource with asynchronous set-up and tear-down around a block
// (Python's `async with`).
//
//   // The resource type has `Coro<void> aclose()` (contextlib.aclosing):
//   Reply r = co_await weft::async_with(open_connection(host),
//                                       [&](Connection& c) -> weft::Coro<Reply> {
//     co_await c.send(request);
//     co_return co_await c.receive();
//   });
//
//   // Or an explicit tear-down:
//   co_await weft::async_with(open_session(),
//                             [](Session& s) -> weft::Coro<void> { co_await s.logout(); },
//                             [&](Session& s) -> weft::Coro<void> { ... });
//
// `setup` is an awaitable giving the resource (a Coro<R>, a Task<R>, ...) or, if it is not
// awaitable, the resource itself. The block receives the resource by reference; the
// resource lives until the tear-down has finished. The tear-down is `resource.aclose()`
// (or `resource->aclose()` for a pointer-like resource), or `teardown(resource)`; it runs
// whenever set-up succeeded: after the block returns, throws, or is cancelled. If set-up
// fails, nothing else runs.
//
// Errors: the block's exception propagates after the tear-down. If the tear-down also
// fails, the block's exception still wins (a CancelledError especially: a failing
// tear-down must not turn a cancellation into an ordinary error) and the tear-down's error
// goes to the loop's exception handler (Python would raise the tear-down's error instead,
// with the first as its __context__). If only the tear-down fails, its error propagates.
//
// The block and tear-down are callables (taking R&) returning a Coro; they are kept alive
// until everything has finished. Owning loop only.
#ifndef WEFT_LOOP_ASYNC_WITH_H_
#define WEFT_LOOP_ASYNC_WITH_H_

#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "loop/coro.h"
#include "loop/ensure_future.h"
#include "loop/errors.h"
#include "loop/future_base.h"

namespace weft {
namespace internal {

// Calls the resource's own aclose().
struct CallAclose {
  template <class R>
  auto operator()(R& resource) const {
    if constexpr (requires { resource.aclose(); }) {
      return resource.aclose();
    } else if constexpr (requires { (*resource).aclose(); }) {
      return (*resource).aclose();
    } else {
      static_assert(sizeof(R) == 0,
                    "async_with(setup, body): the resource has no aclose(); give a tear-down: "
                    "async_with(setup, teardown, body)");
    }
  }
};

void report_teardown_error(std::exception_ptr teardown_error);

template <class R, class Out, class Setup, class Teardown, class Body>
Coro<Out> async_with_impl(Setup setup, Teardown teardown, Body body) {
  std::optional<R> resource;
  if constexpr (CoroAwaitable<Setup&&>) {
    resource.emplace(co_await std::move(setup));
  } else {
    resource.emplace(std::move(setup));
  }
  std::exception_ptr error;
  ResultSlot<Out> result;
  try {
    if constexpr (std::is_void_v<Out>) {
      co_await std::invoke(body, *resource);
    } else {
      result.set(co_await std::invoke(body, *resource));
    }
  } catch (...) {
    error = std::current_exception();
  }
  std::exception_ptr teardown_error;
  try {
    co_await std::invoke(teardown, *resource);
  } catch (...) {
    teardown_error = std::current_exception();
  }
  resource.reset();
  if (error) {
    if (teardown_error && !is_cancelled_error(teardown_error)) {
      report_teardown_error(std::move(teardown_error));
    }
    std::rethrow_exception(error);
  }
  if (teardown_error) std::rethrow_exception(teardown_error);
  if constexpr (std::is_reference_v<Out>) {
    co_return result.get();
  } else if constexpr (!std::is_void_v<Out>) {
    co_return std::move(result.get());
  }
}

template <class Setup>
struct ResourceOf {
  using type = std::remove_cvref_t<Setup>;
};
template <class Setup>
  requires CoroAwaitable<Setup&&>
struct ResourceOf<Setup> {
  using type = std::remove_cvref_t<RawAwaitResult<Setup&&>>;
};

}  // namespace internal

// Tear-down by the resource's aclose().
template <class Setup, class Body>
auto async_with(Setup setup, Body body) {
  using R = typename internal::ResourceOf<Setup>::type;
  using Out = internal::AwaitResult<std::invoke_result_t<Body&, R&>>;
  return internal::async_with_impl<R, Out>(std::move(setup), internal::CallAclose{},
                                           std::move(body));
}

// Tear-down by teardown(resource).
template <class Setup, class Teardown, class Body>
auto async_with(Setup setup, Teardown teardown, Body body) {
  using R = typename internal::ResourceOf<Setup>::type;
  using Out = internal::AwaitResult<std::invoke_result_t<Body&, R&>>;
  return internal::async_with_impl<R, Out>(std::move(setup), std::move(teardown),
                                           std::move(body));
}

}  // namespace weft

#endif  // WEFT_LOOP_ASYNC_WITH_H_
