// Helpers shared by the tests/io suites.
#ifndef WEFT_TESTS_IO_IO_TEST_UTIL_H_
#define WEFT_TESTS_IO_IO_TEST_UTIL_H_

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "loop/weft.h"

namespace weft::io_test {

// Whether this build runs under AddressSanitizer (the asan config, which adds UBSan).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAsan = true;
#else
inline constexpr bool kAsan = false;
#endif
#else
inline constexpr bool kAsan = false;
#endif

// A connected pair of non-blocking Unix stream sockets, closed at destruction.
struct SocketPair {
  SocketPair() {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
      throw std::system_error(errno, std::generic_category(), "socketpair");
    }
    a = fds[0];
    b = fds[1];
  }
  ~SocketPair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
  int a = -1;
  int b = -1;
};

// `n` trips through the loop: orders steps without depending on the clock.
inline Coro<void> yield_times(int n) {
  for (int i = 0; i < n; ++i) co_await sleep(Duration::zero());
}

}  // namespace weft::io_test

#endif  // WEFT_TESTS_IO_IO_TEST_UTIL_H_
