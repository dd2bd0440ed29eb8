// weft::gather: run awaitables concurrently and collect their results in argument order
// (asyncio.gather).
//
//   auto [user, posts] = co_await weft::gather(fetch_user(id), fetch_posts(id));
//   std::vector<int> sizes = co_await weft::gather(std::move(size_coros));  // a range
//
//   // Every slot holds a value or the exception (Outcome<T>, outcome.h):
//   auto [a, b] = co_await weft::gather(weft::return_exceptions, risky(1), risky(2));
//
// Arguments: Coro<T> (scheduled as a Task at once, as asyncio.ensure_future does), Task<T>,
// Future<T>, or any other awaitable (wrapped in a Task). The variadic form returns
// std::tuple<T1, T2, ...> (std::monostate for void, T& for a reference); the range form
// returns std::vector<T> (std::reference_wrapper<T> for a reference). An empty call gives
// an empty tuple or vector at once.
//
// Errors (as asyncio): without return_exceptions the first child to fail (in completion
// order) makes the gather raise that exception at once, and the other children keep
// running; a child cancelled by someone else makes it raise CancelledError. With
// return_exceptions nothing is raised for a child: its slot holds the exception. Unlike
// asyncio, a sibling that fails after the first error is not silenced: if nobody retrieves
// its exception, it is reported as "never retrieved" like any task's.
//
// Cancellation: cancelling the task that awaits the gather cancels every child that is not
// done (with the same message). Unlike asyncio, the gather then waits until every child
// has finished its cleanup and raises CancelledError, whatever the children did (a child
// that swallows the cancellation does not turn it into a result, and one that fails during
// cleanup does not replace it; that child's exception goes to the loop's exception
// handler). See docs/COMBINATORS_DECISIONS.md.
//
// Results are moved out of tasks the gather created and of handles passed as rvalues
// (`gather(std::move(t))`); a Task passed as an lvalue keeps its value (copied out).
//
// The children are created when gather() is called (a Coro argument is consumed, even an
// lvalue); the returned Coro only waits for them (await it, or wrap it in a Task). Owning
// loop only; called with no loop running, it raises RuntimeError (from create_task).
#ifndef WEFT_LOOP_GATHER_H_
#define WEFT_LOOP_GATHER_H_

#include <array>
#include <cstddef>
#include <functional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "loop/coro.h"
#include "loop/done_watch.h"
#include "loop/ensure_future.h"
#include "loop/future_base.h"
#include "loop/outcome.h"
#include "loop/task_base.h"

namespace weft {

// The tag that selects gather's return_exceptions mode.
struct ReturnExceptions {
  explicit ReturnExceptions() = default;
};
inline constexpr ReturnExceptions return_exceptions{};

namespace internal {

// Waits for a set of children on behalf of the awaiting task; see the file comment for the
// rules. Awaited as an lvalue from the gather coroutines below.
class GatherAwaiter final : public WaitCanceller, public DoneListener {
 public:
  GatherAwaiter(FutureBase* const* children, size_t n, bool return_exceptions)
      : children_(children), n_(n), return_exceptions_(return_exceptions) {}
  GatherAwaiter(const GatherAwaiter&) = delete;
  GatherAwaiter& operator=(const GatherAwaiter&) = delete;
  // If the gather was cancelled (and CancelledError is propagating), reports the children's
  // errors, which cannot propagate.
  ~GatherAwaiter();

  bool await_ready();
  // False (resume at once) if the children finished since await_ready.
  bool await_suspend(TaskBase& task);
  // Without return_exceptions, rethrows the first failure.
  void await_resume();

  bool cancel_wait(const std::string& msg) override;
  void on_done(FutureBase& f, uint32_t index) override;

 private:
  // A done child that makes the gather raise (never, with return_exceptions).
  bool fails_gather(const FutureBase& f) const {
    return !return_exceptions_ && (f.cancelled() || f.has_exception());
  }
  void finish();

  FutureBase* const* children_;
  size_t n_;
  bool return_exceptions_;
  TaskBase* task_ = nullptr;
  FutureBase* first_failure_ = nullptr;
  size_t pending_ = 0;
  bool cancel_requested_ = false;
  bool finished_ = false;
  bool resumed_ = false;
  DoneWatch watch_{this};
};

template <class T>
using VectorSlotOf =
    std::conditional_t<std::is_reference_v<T>, std::reference_wrapper<std::remove_reference_t<T>>,
                       SlotOf<T>>;

template <class... Cs>
Coro<std::tuple<SlotOf<typename Cs::Value>...>> gather_tuple(std::tuple<Cs...> children) {
  std::array<FutureBase*, sizeof...(Cs)> bases =
      std::apply([](auto&... c) { return std::array<FutureBase*, sizeof...(Cs)>{c.base()...}; },
                 children);
  GatherAwaiter awaiter(bases.data(), bases.size(), /*return_exceptions=*/false);
  co_await awaiter;
  co_return std::apply(
      [](auto&... c) { return std::tuple<SlotOf<typename Cs::Value>...>{c.take()...}; }, children);
}

template <class... Cs>
Coro<std::tuple<Outcome<typename Cs::Value>...>> gather_tuple_outcomes(std::tuple<Cs...> children) {
  std::array<FutureBase*, sizeof...(Cs)> bases =
      std::apply([](auto&... c) { return std::array<FutureBase*, sizeof...(Cs)>{c.base()...}; },
                 children);
  GatherAwaiter awaiter(bases.data(), bases.size(), /*return_exceptions=*/true);
  co_await awaiter;
  co_return std::apply(
      [](auto&... c) { return std::tuple<Outcome<typename Cs::Value>...>{c.take_outcome()...}; },
      children);
}

template <class C>
std::vector<FutureBase*> bases_of(std::vector<C>& children) {
  std::vector<FutureBase*> bases;
  bases.reserve(children.size());
  for (C& c : children) bases.push_back(c.base());
  return bases;
}

template <class C>
Coro<std::vector<VectorSlotOf<typename C::Value>>> gather_vector(std::vector<C> children) {
  std::vector<FutureBase*> bases = bases_of(children);
  GatherAwaiter awaiter(bases.data(), bases.size(), /*return_exceptions=*/false);
  co_await awaiter;
  std::vector<VectorSlotOf<typename C::Value>> out;
  out.reserve(children.size());
  for (C& c : children) out.push_back(c.take());
  co_return out;
}

template <class C>
Coro<std::vector<Outcome<typename C::Value>>> gather_vector_outcomes(std::vector<C> children) {
  std::vector<FutureBase*> bases = bases_of(children);
  GatherAwaiter awaiter(bases.data(), bases.size(), /*return_exceptions=*/true);
  co_await awaiter;
  std::vector<Outcome<typename C::Value>> out;
  out.reserve(children.size());
  for (C& c : children) out.push_back(c.take_outcome());
  co_return out;
}

template <class R>
auto children_of_range(R&& range) {
  using Elem = std::conditional_t<std::is_lvalue_reference_v<R>, std::ranges::range_reference_t<R>,
                                  std::ranges::range_rvalue_reference_t<R>>;
  std::vector<ChildOf<Elem>> children;
  if constexpr (std::ranges::sized_range<R>) children.reserve(std::ranges::size(range));
  for (auto&& a : range) children.push_back(ensure_future(static_cast<Elem>(a)));
  return children;
}

// A range of awaitables (not itself an awaitable or a tag).
template <class R>
concept AwaitableRange = std::ranges::input_range<R> && !IsCoro<std::remove_cvref_t<R>>::value &&
                         !FutureHandle<R>;

}  // namespace internal

template <class... As>
  requires(!internal::AwaitableRange<As> && ...)
auto gather(As&&... awaitables) {
  // Braces: the children are created left to right.
  return internal::gather_tuple(std::tuple<internal::ChildOf<As&&>...>{
      internal::ensure_future(std::forward<As>(awaitables))...});
}

template <class... As>
  requires(!internal::AwaitableRange<As> && ...)
auto gather(ReturnExceptions, As&&... awaitables) {
  return internal::gather_tuple_outcomes(std::tuple<internal::ChildOf<As&&>...>{
      internal::ensure_future(std::forward<As>(awaitables))...});
}

template <internal::AwaitableRange R>
auto gather(R&& awaitables) {
  return internal::gather_vector(internal::children_of_range(std::forward<R>(awaitables)));
}

template <internal::AwaitableRange R>
auto gather(ReturnExceptions, R&& awaitables) {
  return internal::gather_vector_outcomes(
      internal::children_of_range(std::forward<R>(awaitables)));
}

}  // namespace weft

#endif  // WEFT_LOOP_GATHER_H_
