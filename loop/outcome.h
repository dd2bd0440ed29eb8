// Outcome<T>: how one awaitable ended, a value or an exception. It is what
// gather(return_exceptions, ...) puts in each slot, where asyncio puts either the result or
// the exception object in its list.
//
//   auto [a, b] = co_await weft::gather(weft::return_exceptions, fetch(1), fetch(2));
//   if (a) use(a.value());                 // a value
//   else if (a.cancelled()) ...            // the child was cancelled (a CancelledError)
//   else log(a.exception());               // any other exception
//
// Outcome<void> carries no value. Outcome<T&> refers to the awaited object's referent.
//
// value() of an Outcome holding an exception rethrows that exception (so `co_await` on the
// child and `outcome.value()` behave alike). Thread-safety: a plain value type.
#ifndef WEFT_LOOP_OUTCOME_H_
#define WEFT_LOOP_OUTCOME_H_

#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "loop/errors.h"

namespace weft {

template <class T>
class Outcome {
  using Stored = std::conditional_t<std::is_reference_v<T>,
                                    std::reference_wrapper<std::remove_reference_t<T>>, T>;

 public:
  // A value.
  template <class... Args>
  explicit Outcome(std::in_place_t, Args&&... args) : value_(std::in_place, std::forward<Args>(args)...) {}
  // An exception; `cancelled` says whether it is a CancelledError.
  static Outcome failure(std::exception_ptr e, bool cancelled) {
    return Outcome(std::move(e), cancelled);
  }

  bool has_value() const { return value_.has_value(); }
  explicit operator bool() const { return has_value(); }
  // True if the awaitable ended with an exception, a CancelledError included.
  bool has_exception() const { return !has_value(); }
  // True if that exception is a CancelledError.
  bool cancelled() const { return cancelled_; }
  // The exception, or nullptr if there is a value.
  const std::exception_ptr& exception() const { return exception_; }

  // The value; rethrows the exception if there is one.
  T& value() & {
    if (!value_) std::rethrow_exception(exception_);
    return *value_;
  }
  const T& value() const& {
    if (!value_) std::rethrow_exception(exception_);
    return *value_;
  }
  T&& value() && {
    if (!value_) std::rethrow_exception(exception_);
    return static_cast<T&&>(*value_);
  }

 private:
  Outcome(std::exception_ptr e, bool cancelled) : exception_(std::move(e)), cancelled_(cancelled) {}
  std::optional<Stored> value_;
  std::exception_ptr exception_;
  bool cancelled_ = false;
};

template <>
class Outcome<void> {
 public:
  explicit Outcome(std::in_place_t) {}
  static Outcome failure(std::exception_ptr e, bool cancelled) {
    return Outcome(std::move(e), cancelled);
  }

  bool has_value() const { return exception_ == nullptr; }
  explicit operator bool() const { return has_value(); }
  bool has_exception() const { return !has_value(); }
  bool cancelled() const { return cancelled_; }
  const std::exception_ptr& exception() const { return exception_; }
  // Returns if there is no exception; rethrows it otherwise.
  void value() const {
    if (exception_) std::rethrow_exception(exception_);
  }

 private:
  Outcome(std::exception_ptr e, bool cancelled) : exception_(std::move(e)), cancelled_(cancelled) {}
  std::exception_ptr exception_;
  bool cancelled_ = false;
};

}  // namespace weft

#endif  // WEFT_LOOP_OUTCOME_H_
