#include "loop/os_error.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>

namespace weft {
namespace {

std::string format(int errno_value, const std::string& what) {
  char buf[128];
  // GNU strerror_r returns the message (maybe not in buf).
  const char* msg = strerror_r(errno_value, buf, sizeof buf);
  return what + ": [Errno " + std::to_string(errno_value) + "] " + msg;
}

}  // namespace

OSError::OSError(int errno_value, const std::string& what)
    : Error(format(errno_value, what)), errno_value_(errno_value) {}

GaiError::GaiError(int eai_code, const std::string& what)
    : OSError(eai_code,
              what + ": [Errno " + std::to_string(eai_code) + "] " + gai_strerror(eai_code),
              /*verbatim=*/true) {}

void raise_os_error(int errno_value, const std::string& what) {
  switch (errno_value) {
    case EAGAIN:
    case EINPROGRESS:
    case EALREADY:
      throw BlockingIOError(errno_value, what);
    case EPIPE:
    case ESHUTDOWN:
      throw BrokenPipeError(errno_value, what);
    case ECONNABORTED:
      throw ConnectionAbortedError(errno_value, what);
    case ECONNREFUSED:
      throw ConnectionRefusedError(errno_value, what);
    case ECONNRESET:
      throw ConnectionResetError(errno_value, what);
    default:
      throw OSError(errno_value, what);
  }
}

}  // namespace weft
