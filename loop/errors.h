// weft's exception types, named after asyncio's.
//
// CancelledError deliberately does NOT derive from std::exception, for the same reason
// asyncio 3.8 moved asyncio.CancelledError under BaseException: a generic
// `catch (const std::exception&)` in user code must not swallow a cancellation. Catch it
// by name (`catch (const weft::CancelledError&)`), clean up, and rethrow.
//
// Every other error derives from weft::Error (a std::runtime_error), so ordinary handlers
// see them.
#ifndef WEFT_LOOP_ERRORS_H_
#define WEFT_LOOP_ERRORS_H_

#include <exception>
#include <stdexcept>
#include <string>

namespace weft {

// The root of exceptions that are not errors of the program but signals to it
// (asyncio's BaseException). Not a std::exception on purpose; see the file comment.
class BaseException {
 public:
  explicit BaseException(std::string message) : message_(std::move(message)) {}
  virtual ~BaseException() = default;
  // The message given at the raise site; may be empty.
  const char* what() const noexcept { return message_.c_str(); }
  const std::string& message() const noexcept { return message_; }

 private:
  std::string message_;
};

// Raised inside a task at its suspension point when the task is cancelled
// (Task::cancel(msg)); the message is the one passed to cancel().
class CancelledError : public BaseException {
 public:
  explicit CancelledError(std::string message = "") : BaseException(std::move(message)) {}
};

// The base of weft's ordinary errors.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An operation timed out (wait_for, timeout scopes, ConcurrentFuture::get(timeout)).
class TimeoutError : public Error {
 public:
  explicit TimeoutError(const std::string& message = "timed out") : Error(message) {}
};

// An operation is not allowed in the object's current state, e.g. result() of a pending
// future, or set_result() of a future that is already done.
class InvalidStateError : public Error {
 public:
  using Error::Error;
};

// Misuse of the runtime: running a closed or running loop, a loop-bound call from the
// wrong thread, awaiting a Coro twice, no running loop. The message says what to do.
class RuntimeError : public Error {
 public:
  using Error::Error;
};

namespace internal {
// Whether `e` holds a CancelledError (false for nullptr). Rethrows to find out: for the
// completion paths of tasks and scopes, not for hot loops.
inline bool is_cancelled_error(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}
}  // namespace internal

}  // namespace weft

#endif  // WEFT_LOOP_ERRORS_H_
