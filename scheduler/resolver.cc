#include "scheduler/resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <stdexcept>

#include "loop/errors.h"
#include "loop/event_loop.h"
#include "loop/future.h"
#include "loop/os_error.h"
#include "loop/task.h"
#include "loop/task_group.h"
#include "loop/wait_for.h"
#include "scheduler/to_thread.h"

namespace weft {
namespace {

// Python's socket.getaddrinfo on the calling thread: raises GaiError, or OSError for
// EAI_SYSTEM.
std::vector<AddrInfo> blocking_getaddrinfo(const std::string& host, const std::string& port,
                                           int family, int type, int protocol, int flags) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = type;
  hints.ai_protocol = protocol;
  hints.ai_flags = flags;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.empty() ? nullptr : port.c_str(),
                         &hints, &res);
  std::string what = "getaddrinfo(" + host + ", " + port + ")";
  if (rc == EAI_SYSTEM) raise_os_error(errno, what);
  if (rc != 0) throw GaiError(rc, what);
  std::vector<AddrInfo> out;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    AddrInfo info;
    info.family = ai->ai_family;
    info.type = ai->ai_socktype;
    info.protocol = ai->ai_protocol;
    if (ai->ai_canonname) info.canonname = ai->ai_canonname;
    info.address = SocketAddress(ai->ai_addr, ai->ai_addrlen);
    out.push_back(std::move(info));
  }
  freeaddrinfo(res);
  return out;
}

// The answer for a numeric host and port without a thread hop, or nothing.
std::optional<std::vector<AddrInfo>> numeric_answer(const std::string& host, const std::string& port,
                                                    int family, int type, int protocol) {
  if (type == 0 || host.empty() || host.find('%') != std::string::npos) return std::nullopt;
  char* end = nullptr;
  unsigned long p = std::strtoul(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p > 65535) return std::nullopt;
  in6_addr buf;
  int host_family = inet_pton(AF_INET, host.c_str(), &buf) == 1    ? AF_INET
                    : inet_pton(AF_INET6, host.c_str(), &buf) == 1 ? AF_INET6
                                                                   : AF_UNSPEC;
  if (host_family == AF_UNSPEC || (family != AF_UNSPEC && family != host_family)) return std::nullopt;
  AddrInfo info;
  info.family = host_family;
  info.type = type;
  info.protocol = protocol != 0 ? protocol : (type == SOCK_STREAM ? IPPROTO_TCP : type == SOCK_DGRAM ? IPPROTO_UDP : 0);
  info.address = SocketAddress::ip(host, static_cast<uint16_t>(p));
  return std::vector<AddrInfo>{std::move(info)};
}

}  // namespace

Coro<std::vector<AddrInfo>> getaddrinfo(std::string host, std::string port, int family, int type,
                                        int protocol, int flags) {
  if (auto answer = numeric_answer(host, port, family, type, protocol)) co_return std::move(*answer);
  co_return co_await to_thread(blocking_getaddrinfo, host, port, family, type, protocol, flags);
}

namespace {

// Raises the error of a create_connection in which every address failed (see the header).
[[noreturn]] void raise_all_failed(const std::string& what,
                                   const std::vector<std::exception_ptr>& errors) {
  // Each attempt's message is "connect(ADDRESS): [Errno N] TEXT"; the error raised here ends
  // with the last attempt's "[Errno N] TEXT" (OSError adds it), so that part is said once:
  // "...: every address failed: connect(A); connect(B): [Errno 111] Connection refused" when
  // they share the errno, each attempt in full but the last when they do not.
  struct Attempt {
    std::string full;
    std::string where;  // without ": [Errno N] TEXT"
    int errno_value;
  };
  std::vector<Attempt> attempts;
  for (const std::exception_ptr& e : errors) {
    if (!e) continue;  // never tried, or cancelled
    try {
      std::rethrow_exception(e);
    } catch (const OSError& os) {
      std::string full = os.what();
      size_t cut = full.rfind(": [Errno ");
      std::string where = cut == std::string::npos ? full : full.substr(0, cut);
      attempts.push_back({std::move(full), std::move(where), os.errno_value()});
    }
  }
  if (attempts.empty()) throw OSError(EADDRNOTAVAIL, what + ": no address to connect to");
  const int last_errno = attempts.back().errno_value;
  bool same_errno = true;
  for (const Attempt& a : attempts) same_errno = same_errno && a.errno_value == last_errno;
  std::string message = what + ": every address failed: ";
  for (size_t i = 0; i < attempts.size(); ++i) {
    const bool last = i + 1 == attempts.size();
    if (i > 0) message += "; ";
    message += same_errno || last ? attempts[i].where : attempts[i].full;
  }
  if (same_errno) raise_os_error(last_errno, message);  // the specific class for that errno
  throw OSError(last_errno, message);
}

// One address after another.
Coro<Socket> connect_in_turn(const std::vector<AddrInfo>& addresses,
                             std::vector<std::exception_ptr>& errors) {
  for (size_t i = 0; i < addresses.size(); ++i) {
    const AddrInfo& info = addresses[i];
    try {
      Socket s(info.family, SOCK_STREAM, info.protocol);
      co_await s.connect(info.address);
      co_return s;
    } catch (const OSError&) {
      errors[i] = std::current_exception();
    }
  }
  co_return Socket();
}

// Happy eyeballs: asyncio's staggered_race. Attempt i runs in a task of the group; before it
// connects it starts attempt i + 1, which first waits until attempt i failed or `delay` has
// passed. The first to connect takes `winner` and cancels the others (a cancelled attempt's
// socket closes as its frame unwinds; one that connected a moment too late closes its own).
struct Race {
  const std::vector<AddrInfo>* addresses;
  Duration delay;
  std::vector<std::exception_ptr>* errors;
  std::vector<Task<void>> attempts;  // attempts[i] is attempt i
  std::optional<Socket> winner;
};

Coro<void> race_attempt(Race& race, TaskGroup tg, size_t i, Future<void> previous_failed) {
  if (previous_failed) {
    try {
      // Named, not a temporary in the co_await: GCC bug 99576 (see the header).
      Coro<void> waiting = wait_for(previous_failed, race.delay);
      co_await std::move(waiting);
    } catch (const TimeoutError&) {
      // The previous attempt is slow: start this one alongside it.
    }
    // A winner may have connected while this task was already due to resume (its cancel
    // then lands at the connect below): start nothing more.
    if (race.winner) co_return;
  }
  Future<void> failed;
  if (i + 1 < race.addresses->size()) {
    failed = EventLoop::current().create_future<void>();
    Coro<void> next = race_attempt(race, tg, i + 1, failed);
    race.attempts.push_back(tg.create_task(std::move(next), "happy eyeballs attempt"));
  }
  const AddrInfo& info = (*race.addresses)[i];
  try {
    Socket s(info.family, SOCK_STREAM, info.protocol);
    co_await s.connect(info.address);
    if (!race.winner) {
      race.winner.emplace(std::move(s));
      for (size_t k = 0; k < race.attempts.size(); ++k) {
        if (k != i) race.attempts[k].cancel();
      }
    }
  } catch (const OSError&) {
    (*race.errors)[i] = std::current_exception();
    // wait_for cancels the future when its delay passed first: nobody waits for it then.
    if (failed && !failed.done()) failed.set_result();
  }
}

Coro<Socket> connect_staggered(const std::vector<AddrInfo>& addresses, Duration delay,
                               std::vector<std::exception_ptr>& errors) {
  Race race{&addresses, delay, &errors, {}, std::nullopt};
  co_await task_group([&race](TaskGroup& tg) -> Coro<void> {
    Coro<void> first = race_attempt(race, tg, 0, Future<void>());
    race.attempts.push_back(tg.create_task(std::move(first), "happy eyeballs attempt"));
    co_return;
  });
  if (race.winner) co_return std::move(*race.winner);
  co_return Socket();
}

}  // namespace

std::vector<AddrInfo> interleave_addrinfos(std::vector<AddrInfo> addresses,
                                           int first_family_count) {
  std::vector<std::vector<AddrInfo>> by_family;  // in order of first appearance
  for (AddrInfo& info : addresses) {
    auto it = std::find_if(by_family.begin(), by_family.end(),
                           [&](const auto& group) { return group.front().family == info.family; });
    if (it == by_family.end()) {
      by_family.emplace_back();
      it = by_family.end() - 1;
    }
    it->push_back(std::move(info));
  }
  std::vector<AddrInfo> out;
  out.reserve(addresses.size());
  std::vector<size_t> next(by_family.size(), 0);
  if (first_family_count > 1 && !by_family.empty()) {
    for (; next[0] < by_family[0].size() &&
           next[0] < static_cast<size_t>(first_family_count - 1);
         ++next[0]) {
      out.push_back(std::move(by_family[0][next[0]]));
    }
  }
  for (bool more = true; more;) {
    more = false;
    for (size_t f = 0; f < by_family.size(); ++f) {
      if (next[f] < by_family[f].size()) {
        out.push_back(std::move(by_family[f][next[f]++]));
        more = true;
      }
    }
  }
  return out;
}

Coro<Socket> create_connection(std::vector<AddrInfo> addresses, ConnectOptions options,
                               std::string what) {
  int interleave = options.interleave.value_or(options.happy_eyeballs_delay ? 1 : 0);
  if (interleave < 0) {
    throw std::invalid_argument(what + ": interleave must be 0 (off) or a positive count, not " +
                                std::to_string(interleave));
  }
  if (interleave > 0) addresses = interleave_addrinfos(std::move(addresses), interleave);
  std::vector<std::exception_ptr> errors(addresses.size());
  Socket s;
  if (options.happy_eyeballs_delay && addresses.size() > 1) {
    s = co_await connect_staggered(addresses, *options.happy_eyeballs_delay, errors);
  } else {
    s = co_await connect_in_turn(addresses, errors);
  }
  if (!s.is_open()) raise_all_failed(what, errors);
  co_return s;
}

Coro<Socket> create_connection(std::string host, uint16_t port, ConnectOptions options) {
  Coro<std::vector<AddrInfo>> resolving =
      getaddrinfo(host, std::to_string(port), AF_UNSPEC, SOCK_STREAM);
  std::vector<AddrInfo> infos = co_await std::move(resolving);
  std::string what = "create_connection(" + host + ", " + std::to_string(port) + ")";
  Coro<Socket> connecting = create_connection(std::move(infos), options, std::move(what));
  co_return co_await std::move(connecting);
}

Coro<Socket> create_datagram_endpoint(std::optional<HostPort> local, std::optional<HostPort> remote) {
  if (!local && !remote) {
    throw RuntimeError("create_datagram_endpoint: give a local address, a remote one, or both");
  }
  int family = AF_UNSPEC;
  std::optional<AddrInfo> remote_info;
  if (remote) {
    std::vector<AddrInfo> infos =
        co_await getaddrinfo(remote->host, std::to_string(remote->port), AF_UNSPEC, SOCK_DGRAM);
    remote_info = infos.at(0);
    family = remote_info->family;
  }
  std::optional<AddrInfo> local_info;
  if (local) {
    std::vector<AddrInfo> infos = co_await getaddrinfo(local->host, std::to_string(local->port), family,
                                                       SOCK_DGRAM, 0, AI_PASSIVE);
    local_info = infos.at(0);
    family = local_info->family;
  }
  Socket s(family, SOCK_DGRAM);
  if (local_info) s.bind(local_info->address);
  if (remote_info) co_await s.connect(remote_info->address);
  co_return s;
}

}  // namespace weft
