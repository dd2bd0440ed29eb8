#include "loop/watchdog.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "loop/event_loop.h"
#include "loop/signals.h"

namespace weft {
namespace internal {
namespace {

constexpr Duration kMaxPeriod = std::chrono::milliseconds(250);
constexpr Duration kMinPeriod = std::chrono::milliseconds(1);

// What the watchdog remembers about one loop between samples.
struct LoopWatch {
  uint64_t seq = 0;
  TimePoint since{};  // when this seq was first seen
  bool reported = false;
  StuckLoopReport last;  // the stuck report, for the recovery report
  bool seen = false;     // seen in the current round
};

// Leaked on purpose: the thread runs until the process exits and must never see these
// destroyed by static destructors.
struct Watchdog {
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  StuckLoopHandler handler;  // guarded by mu; empty: stderr
  std::mutex handler_call_mu;  // one report at a time
  std::atomic<uint64_t> rounds{0};
  std::unordered_map<uint64_t, LoopWatch> loops;  // the watchdog thread only
};

Watchdog& watchdog() {
  static Watchdog* w = new Watchdog();
  return *w;
}

std::string describe_item(const StuckLoopReport& r) {
  if (r.task_id == 0 || r.coroutine.empty()) {
    return "a callback (call_soon, call_later, an I/O callback or a done-callback)";
  }
  std::string id = absl::StrFormat("Task-%d", r.task_id);
  if (r.task_name == id) {
    return absl::StrFormat("a step of task '%s' (coroutine '%s')", r.task_name, r.coroutine);
  }
  return absl::StrFormat("a step of task '%s' (%s, coroutine '%s')", r.task_name, id,
                         r.coroutine);
}

void deliver(const StuckLoopReport& r) {
  Watchdog& w = watchdog();
  // handler_call_mu first: set_stuck_loop_handler waits for a call in progress, so a
  // replaced handler is never called after it returns.
  std::lock_guard<std::mutex> call_lock(w.handler_call_mu);
  StuckLoopHandler handler;
  {
    std::lock_guard<std::mutex> lock(w.mu);
    handler = w.handler;
  }
  if (handler) {
    handler(r);
  } else {
    std::string text = "weft: " + r.message + "\n";
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
  }
}

// One sampling round over every live loop. Returns the period until the next one.
Duration sample(std::vector<StuckLoopReport>& out) {
  Watchdog& w = watchdog();
  TimePoint now = Clock::now();
  Duration period = kMaxPeriod;
  for (auto& [serial, watch] : w.loops) watch.seen = false;
  for_each_live_loop([&](EventLoop* loop, uint64_t serial) {
    Duration threshold = loop->stuck_threshold();
    bool watched = threshold > Duration::zero() && loop->is_running() && !loop->parked();
    auto it = w.loops.find(serial);
    if (!watched) {
      if (it != w.loops.end() && it->second.reported) {
        StuckLoopReport r = it->second.last;
        r.recovered = true;
        r.stuck_for = now - it->second.since;
        out.push_back(std::move(r));
      }
      if (it != w.loops.end()) w.loops.erase(it);
      return;
    }
    period = std::min(period, threshold / 4);
    uint64_t seq = loop->step_seq();
    LoopWatch& watch = w.loops[serial];
    watch.seen = true;
    if (watch.since == TimePoint{} || watch.seq != seq) {
      if (watch.reported) {
        StuckLoopReport r = watch.last;
        r.recovered = true;
        r.stuck_for = now - watch.since;
        out.push_back(std::move(r));
      }
      watch = LoopWatch{seq, now, false, {}, true};
      return;
    }
    if (watch.reported || now - watch.since < threshold) return;
    const char* coroutine = loop->step_coroutine();
    uint64_t task_id = coroutine ? loop->step_task_id() : 0;
    std::string task_name;
    if (coroutine) {
      task_name = loop->step_task_name(task_id);
      if (task_name.empty()) task_name = absl::StrFormat("Task-%d", task_id);
    }
    if (loop->step_seq() != seq) return;  // it moved on while we looked
    StuckLoopReport r;
    r.loop = serial;
    r.thread = loop->thread_id();
    r.stuck_for = now - watch.since;
    r.task_id = task_id;
    r.task_name = std::move(task_name);
    r.coroutine = coroutine ? coroutine : "";
    watch.reported = true;
    watch.last = r;
    out.push_back(std::move(r));
  });
  for (auto it = w.loops.begin(); it != w.loops.end();) {
    it = it->second.seen ? std::next(it) : w.loops.erase(it);  // destroyed loops
  }
  return std::clamp(period, kMinPeriod, kMaxPeriod);
}

void finish_message(StuckLoopReport& r) {
  double secs = std::chrono::duration<double>(r.stuck_for).count();
  std::string what = describe_item(r);
  if (r.recovered) {
    r.message = absl::StrFormat(
        "event loop %d (thread %s) is responsive again: %s kept it from its poll for about "
        "%.3f s",
        r.loop, thread_name(r.thread), what, secs);
  } else {
    r.message = absl::StrFormat(
        "event loop %d (thread %s) is stuck: %s has been running for %.3f s without returning "
        "to the loop; every other task and callback of this loop waits. Find the blocking call "
        "(a blocking lock, sleep or I/O, a long computation) and move it off the loop with "
        "weft::to_thread / run_in_executor, or await an async version instead",
        r.loop, thread_name(r.thread), what, secs);
  }
}

void run_watchdog() {
  Watchdog& w = watchdog();
  std::vector<StuckLoopReport> reports;
  for (;;) {
    reports.clear();
    Duration period = sample(reports);
    for (StuckLoopReport& r : reports) {
      finish_message(r);
      deliver(r);
    }
    w.rounds.fetch_add(1, std::memory_order_release);
    std::unique_lock<std::mutex> lock(w.mu);
    w.cv.wait_for(lock, period, [&w] { return w.woken; });
    w.woken = false;
  }
}

}  // namespace

Duration default_stuck_threshold() {
  static const Duration d = [] {
    const char* v = std::getenv("WEFT_STUCK_THRESHOLD_MS");
    if (v != nullptr && *v != '\0') return Duration(std::chrono::milliseconds(std::atoll(v)));
    return Duration(std::chrono::seconds(1));
  }();
  return d;
}

void ensure_watchdog_running() {
  static const bool started = [] {
    AllSignalsBlocked quiet;  // the thread inherits the full mask (loop/signals.h)
    std::thread(run_watchdog).detach();
    return true;
  }();
  (void)started;
}

void wake_watchdog() {
  Watchdog& w = watchdog();
  std::lock_guard<std::mutex> lock(w.mu);
  w.woken = true;
  w.cv.notify_all();
}

uint64_t watchdog_rounds() { return watchdog().rounds.load(std::memory_order_acquire); }

}  // namespace internal

void set_stuck_loop_handler(StuckLoopHandler handler) {
  internal::Watchdog& w = internal::watchdog();
  std::lock_guard<std::mutex> call_lock(w.handler_call_mu);
  std::lock_guard<std::mutex> lock(w.mu);
  w.handler = std::move(handler);
}

}  // namespace weft
