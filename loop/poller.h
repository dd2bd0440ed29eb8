// Poller: the loop's epoll instance, its table of watched file descriptors, and the eventfd
// that other threads write to wake a parked loop.
//
// Level-triggered, as asyncio's add_reader/add_writer: a reader callback is queued on every
// poll that finds the descriptor readable, until it is removed. A descriptor that reports an
// error or hang-up queues both its reader and its writer, so that the callback sees the error
// from its own read or write.
//
// Edge-triggered sources (FdWatch, fd_watch.h) are the other kind of registration: an
// IoSource is added once per descriptor lifetime for input, output and hang-up with EPOLLET,
// and the poller calls on_io() for every edge. No epoll_ctl per wait. A descriptor is either
// in the table (add_reader/add_writer) or a source, not both (EEXIST).
//
// Owner thread only, except wake().
#ifndef WEFT_LOOP_POLLER_H_
#define WEFT_LOOP_POLLER_H_

#include <sys/epoll.h>

#include <cstdint>
#include <vector>

#include "loop/handle.h"
#include "loop/runnable.h"

namespace weft::internal {

// Receives the readiness edges of one descriptor registered with Poller::add_source.
class IoSource {
 public:
  // Called inside poll() on the owner thread. `readable` includes hang-up and errors;
  // `writable` includes errors; `hangup`: the peer closed its side (EPOLLRDHUP), or hang-up
  // or error. Must not add or remove sources.
  virtual void on_io(bool readable, bool writable, bool hangup) = 0;
  // The poller is closing (its loop closes) with the source still registered: the source
  // must not call remove_source afterwards.
  virtual void on_poller_closed() = 0;

 protected:
  ~IoSource() = default;
};

class Poller {
 public:
  Poller();
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Registers `node` (adopting one reference) as fd's reader or writer, replacing and
  // releasing any previous one. Throws std::system_error when epoll refuses the descriptor.
  void set_reader(int fd, CallbackNode* node) { set(fd, node, /*reader=*/true); }
  void set_writer(int fd, CallbackNode* node) { set(fd, node, /*reader=*/false); }
  // Removes fd's reader/writer; returns whether there was one.
  bool clear_reader(int fd) { return clear(fd, /*reader=*/true); }
  bool clear_writer(int fd) { return clear(fd, /*reader=*/false); }

  bool has_watches() const { return num_watches_ > 0 || num_sources_ > 0; }

  // Registers `source` for fd's input/output/hang-up edges (EPOLLET). The first poll after
  // this reports the descriptor's current readiness. Throws std::system_error (EEXIST when fd
  // is already registered, by add_reader/add_writer or another source).
  void add_source(int fd, IoSource* source);
  // Unregisters; errors (fd already closed) are ignored. After it returns, no poll calls
  // the source again.
  void remove_source(int fd, IoSource* source);
  // For a removal already done with EPOLL_CTL_DEL by another thread (FdWatch destroyed off
  // its loop): forget the source without touching epoll (the fd may be reused by now).
  void forget_source(int fd, IoSource* source);
  // The epoll descriptor, for FdWatch's removal from a thread that does not run the loop.
  int epoll_fd() const { return epoll_fd_; }

  // Waits for readiness up to timeout_ns (0: just look; negative: no limit) and queues the
  // callbacks of ready descriptors on `ready`. Returns true if wake() was called since the
  // last poll that returned true.
  //
  // nap_ns > 0 (I/O coalescing, io_coalescing.h): first sleeps up to nap_ns on the wake
  // eventfd alone, so that descriptors becoming ready do not end the sleep but wake() does,
  // then looks; only if nothing is ready then does it wait (what is left of timeout_ns).
  bool poll(int64_t timeout_ns, RunQueue& ready, int64_t nap_ns = 0);
  // Descriptor events (not wake-ups) the last poll returned.
  uint32_t last_io_events() const { return last_io_events_; }

  // Any thread. Makes the current or next poll() return at once.
  void wake();

  // Releases every registration and closes the descriptors. Idempotent.
  void close();

 private:
  struct Watch {
    CallbackNode* reader = nullptr;
    CallbackNode* writer = nullptr;
    uint32_t events = 0;  // what epoll currently watches for
    IoSource* source = nullptr;  // registered by add_source
  };
  void set(int fd, CallbackNode* node, bool reader);
  bool clear(int fd, bool reader);
  void update(int fd, Watch& w);
  void queue(CallbackNode* node, RunQueue& ready);
  // Queues the callbacks of the n events; returns whether the wake eventfd was among them.
  bool dispatch(const epoll_event* events, int n, RunQueue& ready);

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::vector<Watch> watches_;  // indexed by fd: descriptors are small integers
  size_t num_watches_ = 0;
  size_t num_sources_ = 0;
  bool epoll_pwait2_works_ = true;
  uint32_t last_io_events_ = 0;
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_POLLER_H_
