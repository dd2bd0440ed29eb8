// Helpers shared by the tests/io suites.
#ifndef WEFT_TESTS_IO_IO_TEST_UTIL_H_
#define WEFT_TESTS_IO_IO_TEST_UTIL_H_

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

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

// FNV-1a, 64 bits: enough to tell a corrupted or reordered stream.
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void add(const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 1099511628211ull;
  }
  void add(std::string_view s) { add(s.data(), s.size()); }
};

// What the large transfers send: xorshift64 bytes, the same sequence from every instance.
class RandomBytes {
 public:
  // Overwrites `block` (its size a multiple of 8) with the next block.size() bytes.
  void fill(std::string& block) {
    for (size_t i = 0; i + 8 <= block.size(); i += 8) {
      x_ ^= x_ << 13;
      x_ ^= x_ >> 7;
      x_ ^= x_ << 17;
      std::memcpy(&block[i], &x_, 8);
    }
  }

 private:
  uint64_t x_ = 88172645463325252ull;
};

// Raises RLIMIT_NOFILE's soft limit (up to the hard one) so that `wanted` descriptors fit;
// returns whether they do.
inline bool raise_fd_limit(rlim_t wanted) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < wanted) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, wanted);
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur >= wanted;
}

// Handlers record the thread they ran on; a test checks they ran on every loop of a Runtime.
struct ThreadLog {
  std::mutex mu;
  std::set<std::thread::id> threads;
  void add() {
    std::lock_guard<std::mutex> lock(mu);
    threads.insert(std::this_thread::get_id());
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return threads.size();
  }
};

}  // namespace weft::io_test

#endif  // WEFT_TESTS_IO_IO_TEST_UTIL_H_
