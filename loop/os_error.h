// OSError and its subclasses: a failed system call as an exception that carries errno,
// named as Python names them (ConnectionResetError, BrokenPipeError, ...).
//
//   try {
//     co_await sock.sendall(data);
//   } catch (const weft::BrokenPipeError& e) {   // the peer went away
//     log(e.what(), e.errno_value());
//   } catch (const weft::OSError& e) { ... }     // any other errno
//
// raise_os_error(errno, "what") throws the most specific class for that errno (Python's
// errno -> exception mapping), so callers catch by meaning, not by number.
#ifndef WEFT_LOOP_OS_ERROR_H_
#define WEFT_LOOP_OS_ERROR_H_

#include <string>

#include "loop/errors.h"

namespace weft {

class OSError : public Error {
 public:
  // The message is "<what>: [Errno N] <strerror(N)>".
  OSError(int errno_value, const std::string& what);
  int errno_value() const noexcept { return errno_value_; }

 protected:
  // For subclasses whose message is not strerror's (GaiError).
  OSError(int errno_value, const std::string& message, bool /*verbatim*/)
      : Error(message), errno_value_(errno_value) {}

 private:
  int errno_value_;
};

// EAGAIN / EWOULDBLOCK / EINPROGRESS where the caller asked not to wait.
class BlockingIOError : public OSError {
 public:
  using OSError::OSError;
};

class ConnectionError : public OSError {
 public:
  using OSError::OSError;
};
// EPIPE, ESHUTDOWN: writing to a connection the peer (or we) shut down.
class BrokenPipeError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
// ECONNABORTED.
class ConnectionAbortedError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
// ECONNREFUSED: nobody listens there.
class ConnectionRefusedError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
// ECONNRESET: the peer reset the connection.
class ConnectionResetError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};

// A getaddrinfo failure (Python's socket.gaierror). errno_value() is the EAI_* code;
// the message is gai_strerror's.
class GaiError : public OSError {
 public:
  GaiError(int eai_code, const std::string& what);
};

// Throws the OSError subclass that Python raises for `errno_value`.
[[noreturn]] void raise_os_error(int errno_value, const std::string& what);

}  // namespace weft

#endif  // WEFT_LOOP_OS_ERROR_H_
