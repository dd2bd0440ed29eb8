// The system calls of the I/O hot path (a socket's recv and send, the poller's epoll_wait)
// without glibc's cancellation-point wrappers.
//
// glibc makes recv, send, read, write, epoll_wait... POSIX thread cancellation points: each
// call brackets the system call with two atomic read-modify-writes of the thread's
// cancellation state (about 30 instructions and two locked instructions per call). W8
// (bench/w8_http.sh) pays that on every request, twice; the locked instruction right after
// the return from the kernel took 1.8% of the HTTP server's CPU samples. weft never uses
// pthread_cancel (a task is cancelled at its co_await, not its thread), so these enter the
// kernel directly (x86-64: a `syscall` instruction inline, elsewhere syscall(2), which is no
// cancellation point either), and otherwise behave exactly as the libc functions: the
// result, or -1 with errno set.
//
// Under the sanitizers they are the libc functions: the interceptors check the buffers
// (ASan, MSan) and order the threads that talk through a descriptor (TSan), which a raw
// system call would hide from them.
#ifndef WEFT_LOOP_NOCANCEL_SYSCALLS_H_
#define WEFT_LOOP_NOCANCEL_SYSCALLS_H_

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WEFT_INTERNAL_LIBC_SYSCALLS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define WEFT_INTERNAL_LIBC_SYSCALLS 1
#endif
#endif

namespace weft::internal {

#ifndef WEFT_INTERNAL_LIBC_SYSCALLS
// The system call `number` with six arguments; -1 with errno set on failure.
inline long nocancel_syscall6(long number, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  if (static_cast<unsigned long>(ret) > -4096UL) [[unlikely]] {
    errno = static_cast<int>(-ret);
    return -1;
  }
  return ret;
#else
  return ::syscall(number, a, b, c, d, e, f);
#endif
}
#endif

inline ssize_t nocancel_recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* from,
                                 socklen_t* from_len) {
#ifdef WEFT_INTERNAL_LIBC_SYSCALLS
  return ::recvfrom(fd, buf, len, flags, from, from_len);
#else
  return nocancel_syscall6(SYS_recvfrom, fd, reinterpret_cast<long>(buf), static_cast<long>(len),
                           flags, reinterpret_cast<long>(from), reinterpret_cast<long>(from_len));
#endif
}

inline ssize_t nocancel_recv(int fd, void* buf, size_t len, int flags) {
  return nocancel_recvfrom(fd, buf, len, flags, nullptr, nullptr);
}

inline ssize_t nocancel_sendto(int fd, const void* buf, size_t len, int flags,
                               const sockaddr* to, socklen_t to_len) {
#ifdef WEFT_INTERNAL_LIBC_SYSCALLS
  return ::sendto(fd, buf, len, flags, to, to_len);
#else
  return nocancel_syscall6(SYS_sendto, fd, reinterpret_cast<long>(buf), static_cast<long>(len),
                           flags, reinterpret_cast<long>(to), to_len);
#endif
}

inline ssize_t nocancel_send(int fd, const void* buf, size_t len, int flags) {
  return nocancel_sendto(fd, buf, len, flags, nullptr, 0);
}

// epoll_wait as epoll_pwait with no signal mask (the one every architecture has).
inline int nocancel_epoll_wait(int epfd, epoll_event* events, int max_events, int timeout_ms) {
#ifdef WEFT_INTERNAL_LIBC_SYSCALLS
  return ::epoll_wait(epfd, events, max_events, timeout_ms);
#else
  return static_cast<int>(nocancel_syscall6(SYS_epoll_pwait, epfd, reinterpret_cast<long>(events),
                                           max_events, timeout_ms, 0, 0));
#endif
}

// ppoll with no signal mask.
inline int nocancel_ppoll(pollfd* fds, nfds_t nfds, const timespec* timeout) {
#ifdef WEFT_INTERNAL_LIBC_SYSCALLS
  return ::ppoll(fds, nfds, timeout, nullptr);
#else
  // The kernel's ppoll takes the signal-set size with the (null) mask.
  return static_cast<int>(nocancel_syscall6(SYS_ppoll, reinterpret_cast<long>(fds),
                                           static_cast<long>(nfds),
                                           reinterpret_cast<long>(timeout), 0, 8, 0));
#endif
}

}  // namespace weft::internal

#endif  // WEFT_LOOP_NOCANCEL_SYSCALLS_H_
