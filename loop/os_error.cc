#include "loop/os_error.h"

#include <cerrno>
#include <cstring>

namespace weft::internal {

std::exception_ptr make_os_error(int code, const std::string& what) {
  try {
    throw_os_error(code, what);
  } catch (...) {
    return std::current_exception();
  }
}

void throw_os_error(int code, const std::string& what) {
  const std::string message = what + ": " + std::strerror(code);
  switch (code) {
    case EPIPE:
    case ESHUTDOWN:
      throw BrokenPipeError(code, message);
    case ECONNRESET:
      throw ConnectionResetError(code, message);
    case ECONNABORTED:
      throw ConnectionAbortedError(code, message);
    case ECONNREFUSED:
      throw ConnectionRefusedError(code, message);
    default:
      throw OSError(code, message);
  }
}

}  // namespace weft::internal
