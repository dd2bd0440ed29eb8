// OSError and its connection subclasses: a failed system call, as Python names them.
//
//   try { co_await writer.drain(); }
//   catch (const weft::BrokenPipeError& e) { ... e.code() == EPIPE ... }
//   catch (const weft::OSError& e) { ... }
//
// Every I/O failure of the streams, pipes and subprocesses reaches the program as one of
// these, never as a crash or a SIGPIPE: the message names the operation and the errno text
// ("write to pipe fd 7: Broken pipe"), code() gives the errno.
#ifndef WEFT_LOOP_OS_ERROR_H_
#define WEFT_LOOP_OS_ERROR_H_

#include <string>

#include "loop/errors.h"

namespace weft {

// A system call failed with errno code().
class OSError : public Error {
 public:
  OSError(int code, const std::string& message) : Error(message), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// The peer went away (Python's ConnectionError and its subclasses).
class ConnectionError : public OSError {
 public:
  using OSError::OSError;
};
// EPIPE (or ESHUTDOWN): writing to a pipe or socket whose other end is closed.
class BrokenPipeError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
// ECONNRESET: the peer reset the connection.
class ConnectionResetError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
// ECONNABORTED.
class ConnectionAbortedError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
// ECONNREFUSED.
class ConnectionRefusedError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};

namespace internal {
// Throws the OSError subclass that matches `code`, with the message "<what>: <strerror>".
[[noreturn]] void throw_os_error(int code, const std::string& what);
// The same exception as an exception_ptr (to store for a later raise).
std::exception_ptr make_os_error(int code, const std::string& what);
}  // namespace internal

}  // namespace weft

#endif  // WEFT_LOOP_OS_ERROR_H_
