#include "scheduler/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "loop/errors.h"
#include "loop/event_loop.h"
#include "loop/exception_context.h"
#include "loop/future.h"
#include "loop/os_error.h"
#include "loop/sleep.h"
#include "loop/task.h"
#include "scheduler/concurrent_future.h"
#include "scheduler/resolver.h"
#include "scheduler/runtime.h"
#include "scheduler/wrap_future.h"

namespace weft::internal {

// What one loop of the server owns. Every field but `loop`, `done` and the listeners before
// the part starts is touched on that loop's thread only.
struct LoopPart {
  EventLoop* loop = nullptr;
  std::vector<Socket> listeners;
  std::vector<Task<void>> acceptors;
  std::unordered_map<uint64_t, Task<void>> handlers;
  uint64_t next_handler_id = 0;
  bool closed = false;          // close() reached this loop
  bool finished = false;        // run_part is done: late hand-offs are refused
  Future<void> close_signal;    // set when close() reaches this loop
  ConcurrentFuture<void> done;  // run_part finished (listeners closed, handlers done)
};

struct ServerState {
  ConnectionHandler handler;
  ServerOptions options;
  std::vector<SocketAddress> addresses;
  std::vector<std::unique_ptr<LoopPart>> parts;
  std::atomic<bool> closing{false};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> next_part{0};  // kOneAcceptor's round-robin
  std::mutex mu;                       // guards close_waiters
  std::vector<ConcurrentFuture<void>> close_waiters;
};

namespace {

bool out_of_resources(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

void report(EventLoop& loop, std::string message, std::exception_ptr e) {
  ExceptionContext ctx;
  ctx.message = std::move(message);
  ctx.exception = std::move(e);
  loop.call_exception_handler(ctx);
}

Coro<void> run_handler(std::shared_ptr<ServerState> state, LoopPart* part, uint64_t id, Socket conn) {
  try {
    co_await state->handler(std::move(conn));
  } catch (const CancelledError&) {
    // close_clients() or shutdown: the connection is closed with the handler's frame.
  } catch (...) {
    report(*part->loop, "Unhandled exception in a connection handler", std::current_exception());
  }
  part->handlers.erase(id);
}

// On part->loop's thread.
void start_handler(const std::shared_ptr<ServerState>& state, LoopPart* part, Socket conn) {
  if (part->finished) return;  // the server closed on this loop: drop (closes) the connection
  if (state->options.nodelay && conn.family() != AF_UNIX) {
    try {
      conn.set_nodelay();
    } catch (const OSError&) {
      // The peer reset the connection already: the handler's first call will say so.
    }
  }
  uint64_t id = part->next_handler_id++;
  part->handlers.emplace(id, create_task(run_handler(state, part, id, std::move(conn))));
}

Coro<void> accept_loop(std::shared_ptr<ServerState> state, LoopPart* part, size_t index) {
  Socket& listener = part->listeners[index];
  bool reported = false;
  for (;;) {
    std::pair<Socket, SocketAddress> accepted;
    bool exhausted = false;
    try {
      accepted = co_await listener.accept();
    } catch (const OSError& e) {
      if (!out_of_resources(e.errno_value())) throw;
      // Out of descriptors: stop accepting a while instead of spinning on a listener that
      // stays readable. Report once per episode.
      if (!reported) {
        report(*part->loop, "accept() out of system resources; retrying later",
               std::current_exception());
        reported = true;
      }
      exhausted = true;
    }
    if (exhausted) {
      co_await sleep(state->options.accept_retry_delay);
      continue;
    }
    reported = false;
    state->accepted.fetch_add(1, std::memory_order_relaxed);
    if (state->options.mode == AcceptMode::kOneAcceptor && state->parts.size() > 1) {
      LoopPart* target =
          state->parts[state->next_part.fetch_add(1, std::memory_order_relaxed) % state->parts.size()].get();
      if (target != part) {
        target->loop->call_soon_threadsafe(
            [state, target, conn = std::move(accepted.first)]() mutable {
              start_handler(state, target, std::move(conn));
            });
        continue;
      }
    }
    start_handler(state, part, std::move(accepted.first));
  }
}

void close_here(LoopPart* part) {
  if (part->closed) return;
  part->closed = true;
  for (Task<void>& t : part->acceptors) t.cancel("the server is closing");
  if (!part->close_signal.done()) part->close_signal.set_result();
}

Coro<void> run_part(std::shared_ptr<ServerState> state, LoopPart* part) {
  try {
    if (!part->closed) {
      for (size_t i = 0; i < part->listeners.size(); ++i) {
        part->acceptors.push_back(create_task(accept_loop(state, part, i)));
      }
      co_await part->close_signal;
    }
  } catch (const CancelledError&) {
    // The loop shuts down: stop accepting and cancel the connections, then finish.
    close_here(part);
    for (auto& [id, t] : part->handlers) t.cancel("the server's loop is shutting down");
  }
  for (Task<void>& t : part->acceptors) {
    try {
      co_await t;
    } catch (const CancelledError&) {
    } catch (...) {
      report(*part->loop, "The server's accept loop failed", std::current_exception());
    }
  }
  part->acceptors.clear();
  for (Socket& s : part->listeners) s.close();
  while (!part->handlers.empty()) {
    auto it = part->handlers.begin();
    uint64_t id = it->first;
    Task<void> t = it->second;
    try {
      co_await t;
    } catch (...) {
      // run_handler reports; a handler cancelled before it started raises here.
    }
    part->handlers.erase(id);  // already gone unless it never started
  }
  part->finished = true;
  part->done.try_set_result();
}

// Runs `fn(part)` on each part's loop.
template <class F>
void on_every_loop(const std::shared_ptr<ServerState>& state, F fn) {
  for (auto& p : state->parts) {
    LoopPart* part = p.get();
    part->loop->call_soon_threadsafe([state, part, fn] { fn(part); });
  }
}

std::vector<EventLoop*> serving_loops() {
  std::vector<EventLoop*> loops;
  if (Runtime* rt = Runtime::current()) {
    for (size_t i = 0; i < rt->num_loops(); ++i) loops.push_back(&rt->loop(i));
  } else {
    loops.push_back(&EventLoop::current());
  }
  return loops;
}

Socket make_listener(const SocketAddress& address, bool reuse_port, int backlog) {
  Socket s(address.family(), SOCK_STREAM);
  if (address.is_ip()) s.set_reuse_address();
  if (reuse_port) s.set_reuse_port();
  if (address.family() == AF_INET6) s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
  s.bind(address);
  s.listen(backlog);
  return s;
}

SocketAddress with_port(SocketAddress a, uint16_t port) {
  if (a.family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(a.mutable_data())->sin_port = htons(port);
  } else if (a.family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(a.mutable_data())->sin6_port = htons(port);
  }
  return a;
}

// Builds the parts around `addresses` (listeners made per loop or on the calling loop only)
// and starts them.
std::shared_ptr<ServerState> start(ConnectionHandler handler, const std::vector<SocketAddress>& addresses,
                                   ServerOptions options, bool can_reuse_port) {
  if (!handler) throw RuntimeError("create_server: the connection handler is empty");
  auto state = std::make_shared<ServerState>();
  state->handler = std::move(handler);
  std::vector<EventLoop*> loops = serving_loops();
  if (!can_reuse_port && loops.size() > 1) options.mode = AcceptMode::kOneAcceptor;
  state->options = options;
  bool per_loop = options.mode == AcceptMode::kListenerPerLoop && loops.size() > 1;
  EventLoop* here = &EventLoop::current();
  for (EventLoop* loop : loops) {
    auto part = std::make_unique<LoopPart>();
    part->loop = loop;
    state->parts.push_back(std::move(part));
  }
  for (const SocketAddress& requested : addresses) {
    SocketAddress bound;
    for (auto& part : state->parts) {
      if (!per_loop && part->loop != here) continue;
      SocketAddress address = bound.family() == AF_UNSPEC ? requested : with_port(requested, bound.port());
      part->listeners.push_back(make_listener(address, per_loop, options.backlog));
      if (bound.family() == AF_UNSPEC) bound = part->listeners.back().getsockname();
    }
    state->addresses.push_back(bound);
  }
  for (auto& p : state->parts) {
    LoopPart* part = p.get();
    part->loop->call_soon_threadsafe([state, part] {
      part->close_signal = part->loop->create_future<void>();
      create_task(run_part(state, part), "server loop part");
    });
  }
  return state;
}

}  // namespace
}  // namespace weft::internal

namespace weft {

std::vector<SocketAddress> Server::sockets() const {
  return state_ ? state_->addresses : std::vector<SocketAddress>{};
}

bool Server::is_serving() const { return state_ && !state_->closing.load(std::memory_order_acquire); }

uint64_t Server::connections_accepted() const {
  return state_ ? state_->accepted.load(std::memory_order_relaxed) : 0;
}

void Server::close() {
  if (!state_ || state_->closing.exchange(true, std::memory_order_acq_rel)) return;
  internal::on_every_loop(state_, [](internal::LoopPart* part) { internal::close_here(part); });
  std::vector<ConcurrentFuture<void>> waiters;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    waiters.swap(state_->close_waiters);
  }
  for (auto& w : waiters) w.try_set_result();
}

void Server::close_clients() {
  if (!state_) return;
  internal::on_every_loop(state_, [](internal::LoopPart* part) {
    for (auto& [id, t] : part->handlers) t.cancel("Server.close_clients()");
  });
}

Coro<void> Server::wait_closed() {
  if (!state_) co_return;
  std::shared_ptr<internal::ServerState> state = state_;
  for (auto& part : state->parts) {
    // A future of our own: cancelling this wait must not cancel the part's `done`, which
    // other waiters share.
    ConcurrentFuture<void> mine;
    part->done.add_done_callback([mine](ConcurrentFuture<void>&) { mine.try_set_result(); });
    co_await mine;
  }
}

Coro<void> Server::serve_forever() {
  if (!state_) throw RuntimeError("serve_forever: this Server was default-constructed");
  std::shared_ptr<internal::ServerState> state = state_;
  ConcurrentFuture<void> closed;
  {
    std::lock_guard<std::mutex> lock(state->mu);
    if (!state->closing.load(std::memory_order_acquire)) state->close_waiters.push_back(closed);
  }
  if (!state->closing.load(std::memory_order_acquire)) {
    try {
      co_await closed;
    } catch (const CancelledError&) {
      close();
      throw;
    }
  }
  co_await wait_closed();
}

Coro<Server> create_server(ConnectionHandler handler, std::string host, uint16_t port,
                           ServerOptions options) {
  std::vector<AddrInfo> infos =
      co_await getaddrinfo(host, std::to_string(port), AF_UNSPEC, SOCK_STREAM, 0, AI_PASSIVE);
  std::vector<SocketAddress> addresses;
  for (const AddrInfo& info : infos) {
    bool seen = false;
    for (const SocketAddress& a : addresses) seen = seen || a == info.address;
    if (!seen) addresses.push_back(info.address);
  }
  co_return Server(internal::start(std::move(handler), addresses, options, /*can_reuse_port=*/true));
}

Coro<Server> create_unix_server(ConnectionHandler handler, std::string path, ServerOptions options) {
  if (!path.empty() && path[0] != '\0') {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  }
  co_return Server(internal::start(std::move(handler), {SocketAddress::unix_path(path)}, options,
                                   /*can_reuse_port=*/false));
}

}  // namespace weft
