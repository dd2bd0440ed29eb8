#include "loop/creation_site.h"

#include <algorithm>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/debugging/stacktrace.h"
#include "absl/debugging/symbolize.h"
#include "absl/strings/str_format.h"
#include "loop/event_loop.h"

namespace weft::internal {
namespace {

// A creation stack keeps the innermost kMaxFrames frames: the few of the capture and the
// promise's constructors, then the kShown printed.
constexpr int kMaxFrames = 16;
constexpr int kShown = 10;

struct Frames {
  void* pc[kMaxFrames];
  int n = 0;
};

// The recorded Coro creation stacks. Leaked on purpose: frames may be destroyed during static
// destruction.
struct OriginTable {
  std::mutex mu;
  std::unordered_map<const void*, Frames> stacks;
};

OriginTable& origins() {
  static OriginTable* t = new OriginTable();
  return *t;
}

// absl::Symbolize reads /proc/self/maps and the ELF files on every call (milliseconds in
// an unoptimised build): each address is symbolised once per process. A report prints two
// stacks that share most of their frames (the loop's).
std::string symbol_of(void* pc) {
  static std::mutex mu;
  static auto* cache = new std::unordered_map<void*, std::string>();
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(pc);
    if (it != cache->end()) return it->second;
  }
  char name[1024];
  std::string symbol = absl::Symbolize(pc, name, sizeof name) ? std::string(name) : "??";
  std::lock_guard<std::mutex> lock(mu);
  return cache->emplace(pc, std::move(symbol)).first->second;
}

bool is_machinery(std::string_view symbol, const char* const* skip) {
  for (; *skip != nullptr; ++skip) {
    if (symbol.find(*skip) != std::string_view::npos) return true;
  }
  return false;
}

// The frames from the first one that is not machinery on, innermost first: (pc, symbol).
std::vector<std::pair<void*, std::string>> user_frames(void* const* pc, int n,
                                                       const char* const* skip) {
  std::vector<std::pair<void*, std::string>> out;
  for (int i = 0; i < n && static_cast<int>(out.size()) < kShown; ++i) {
    std::string symbol = symbol_of(pc[i]);
    if (out.empty() && is_machinery(symbol, skip)) continue;
    out.emplace_back(pc[i], std::move(symbol));
  }
  return out;
}

}  // namespace

std::string CallSite::to_string() const { return absl::StrFormat("%s:%d", file, line); }

alignas(64) std::atomic<int> g_debug_reasons{0};

void count_debug_loop(int delta) { g_debug_reasons.fetch_add(delta, std::memory_order_relaxed); }

bool capture_coro_origin(const void* promise) {
  EventLoop* loop = EventLoop::current_or_null();
  if (!(loop ? loop->get_debug() : debug_from_environment())) return false;
  // absl::GetStackTrace walks frame pointers (every weft config keeps them): a few
  // instructions per frame, where backtrace(3)'s DWARF unwinding costs tens of thousands per
  // stack, and this runs for every Coro created in debug mode.
  Frames f;
  f.n = absl::GetStackTrace(f.pc, kMaxFrames, 0);
  OriginTable& t = origins();
  std::lock_guard<std::mutex> lock(t.mu);
  t.stacks[promise] = f;
  return true;
}

void forget_coro_origin(const void* promise) {
  OriginTable& t = origins();
  std::lock_guard<std::mutex> lock(t.mu);
  t.stacks.erase(promise);
}

std::string coro_origin(const void* promise) {
  Frames f;
  {
    OriginTable& t = origins();
    std::lock_guard<std::mutex> lock(t.mu);
    auto it = t.stacks.find(promise);
    if (it == t.stacks.end()) return "";
    f = it->second;
  }
  // The capture itself and the promise's constructors are left out: the innermost frame shown
  // is the coroutine function's ramp (the call that created the frame), then its caller.
  static const char* const kSkip[] = {"capture_coro_origin", "CoroPromise", "promise_type",
                                      nullptr};
  auto frames = user_frames(f.pc, f.n, kSkip);
  std::reverse(frames.begin(), frames.end());  // most recent call last, as asyncio prints
  std::string out;
  for (size_t i = 0; i < frames.size(); ++i) {
    absl::StrAppendFormat(&out, "%s#%d %p %s", out.empty() ? "" : "\n",
                          frames.size() - 1 - i, frames[i].first, frames[i].second);
  }
  return out;
}

std::string symbolized_stack_here(const char* const* skip) {
  void* pc[2 * kMaxFrames];
  int n = absl::GetStackTrace(pc, 2 * kMaxFrames, 1);  // not this function
  auto frames = user_frames(pc, n, skip);
  std::string out;
  for (size_t i = 0; i < frames.size(); ++i) {
    absl::StrAppendFormat(&out, "%s#%d %p %s", out.empty() ? "" : "\n", i, frames[i].first,
                          frames[i].second);
  }
  return out;
}

}  // namespace weft::internal
