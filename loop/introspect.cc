#include "loop/introspect.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include "absl/strings/str_format.h"
#include "loop/coro.h"
#include "loop/errors.h"
#include "loop/event_loop.h"

namespace weft {
namespace {

using internal::CoroPromiseBase;
using internal::TaskBase;

// Owning-loop-only entry points: the caller runs `loop`, or nobody does (then the caller is
// its one user, by EventLoop's contract).
void check_owner(const EventLoop& loop, const char* what) {
  if (EventLoop::current_or_null() == &loop || !loop.is_running()) return;
  throw RuntimeError(absl::StrFormat(
      "%s() reads the tasks of a loop that runs on thread %s, from thread %s: a task's await "
      "chain belongs to its loop. From another thread use dump_tasks_threadsafe(loop) or "
      "dump_all_tasks(), which run the dump on the loop's own thread",
      what, internal::thread_name(loop.thread_id()),
      internal::thread_name(std::this_thread::get_id())));
}

std::string task_state(const TaskBase& t) {
  if (t.done()) return t.state_name();
  if (t.loop()->current_task() == &t) return "running";
  if (!t.started()) return "not started";
  return "suspended";
}

// A task of another loop: only what does not change (id, coroutine) and where it is.
FutureCallGraph remote_entry(const TaskBase& t) {
  FutureCallGraph g;
  g.task_id = t.id();
  g.name = absl::StrFormat("Task-%d", t.id());
  g.state = "on another loop";
  g.loop = internal::loop_serial(t.loop());
  const internal::CoroSite& site = t.site();
  g.call_stack.push_back(CallStackEntry{site.function, site.file, 0, site.line});
  return g;
}

// A spawned task that may migrate: it can be running on another loop while it sits in this
// loop's list, so only what does not change is read.
FutureCallGraph migratable_entry(const TaskBase& t) {
  FutureCallGraph g = remote_entry(t);
  g.state = t.done() ? t.state_name() : "migratable (may run on any loop: chain not read)";
  g.loop = internal::loop_serial(t.loop());
  return g;
}

FutureCallGraph capture(const TaskBase& t, int depth) {
  if (!t.readable_here()) return migratable_entry(t);
  FutureCallGraph g;
  g.task_id = t.id();
  g.name = t.name();
  g.state = task_state(t);
  g.loop = internal::loop_serial(t.loop());
  for (const CoroPromiseBase* p = t.chain_root(); p; p = p->child()) {
    g.call_stack.push_back(
        CallStackEntry{p->function_name(), p->file(), p->await_line(), p->site().line});
    if (g.call_stack.size() > 100000) break;  // a corrupt chain must not hang the dump
  }
  if (g.state == "suspended") {
    if (const internal::WaitCanceller* w = t.waiting_on()) {
      g.awaiting = w->describe_wait();
    } else if (t.waiting_on_foreign()) {
      g.awaiting = "a foreign awaitable (it holds the task's waker)";
    } else {
      g.awaiting = "nothing: ready to run (woken, or yielded with sleep(0))";
    }
  }
  for (TaskBase* waiter : t.waiters()) {
    if (!waiter->readable_here()) {
      g.awaited_by.push_back(remote_entry(*waiter));
    } else if (depth > 0) {
      g.awaited_by.push_back(capture(*waiter, depth - 1));
    } else {
      FutureCallGraph brief;
      brief.task_id = waiter->id();
      brief.name = waiter->name();
      brief.state = task_state(*waiter);
      brief.loop = g.loop;
      g.awaited_by.push_back(std::move(brief));
    }
  }
  return g;
}

void format_into(const FutureCallGraph& g, const std::string& indent, std::string& out) {
  absl::StrAppendFormat(&out, "%s* Task '%s' (id %d, %s, loop %d)\n", indent, g.name, g.task_id,
                        g.state, g.loop);
  if (!g.call_stack.empty()) {
    absl::StrAppendFormat(&out, "%s  + Call stack (outermost first):\n", indent);
    for (const CallStackEntry& f : g.call_stack) {
      if (f.line != 0) {
        absl::StrAppendFormat(&out, "%s  |   %s() at %s:%d\n", indent, f.coroutine, f.file,
                              f.line);
      } else {
        absl::StrAppendFormat(&out, "%s  |   %s() defined at %s:%d\n", indent, f.coroutine,
                              f.file, f.defined_line);
      }
    }
  }
  if (!g.awaiting.empty()) {
    absl::StrAppendFormat(&out, "%s  + Awaiting: %s\n", indent, g.awaiting);
  }
  if (!g.awaited_by.empty()) {
    absl::StrAppendFormat(&out, "%s  + Awaited by:\n", indent);
    for (const FutureCallGraph& w : g.awaited_by) format_into(w, indent + "     ", out);
  }
}

// The answer of a loop to work posted from another thread (a dump, a task list). If the
// posted callback is destroyed without running (the loop closed), its guard answers for it.
template <class T>
struct Reply {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::optional<T> value;  // unset: the loop closed first
  void set(std::optional<T> v) {
    std::lock_guard<std::mutex> lock(mu);
    if (done) return;
    value = std::move(v);
    done = true;
    cv.notify_all();
  }
  // Waits up to `timeout`; false if no answer came.
  bool wait(Duration timeout) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, [this] { return done; });
  }
};

template <class T>
class ReplyGuard {
 public:
  explicit ReplyGuard(std::shared_ptr<Reply<T>> r) : r_(std::move(r)) {}
  ReplyGuard(ReplyGuard&&) = default;
  ~ReplyGuard() {
    if (r_) r_->set(std::nullopt);
  }
  Reply<T>& reply() { return *r_; }

 private:
  std::shared_ptr<Reply<T>> r_;
};

// Runs fn(loop) on `loop`'s thread; the caller waits on the returned reply. The caller holds
// the registry lock or otherwise knows the loop is alive.
template <class T, class F>
std::shared_ptr<Reply<T>> post_to_loop(EventLoop& loop, F fn) {
  auto reply = std::make_shared<Reply<T>>();
  try {
    loop.call_soon_threadsafe(
        [&loop, fn = std::move(fn), guard = ReplyGuard<T>(reply)]() mutable {
          guard.reply().set(fn(loop));
        });
  } catch (const RuntimeError&) {
    reply->set(std::nullopt);  // closed
  }
  return reply;
}

std::string loop_header(EventLoop& loop, uint64_t serial) {
  return absl::StrFormat("Loop %d (thread %s):\n", serial,
                         internal::thread_name(loop.thread_id()));
}

std::shared_ptr<Reply<std::string>> post_dump(EventLoop& loop) {
  return post_to_loop<std::string>(loop, [](EventLoop& l) { return dump_tasks(l); });
}

std::string wait_reply(Reply<std::string>& r, Duration timeout, const std::string& header) {
  if (!r.wait(timeout)) {
    auto secs = std::chrono::duration<double>(timeout).count();
    return header + absl::StrFormat(
                        "  (no answer within %.3f s: the loop is blocked in a callback or a "
                        "task step; the watchdog names it)\n",
                        secs);
  }
  return r.value ? *r.value : header + "  (the loop closed before it could answer)\n";
}

}  // namespace

TaskRef current_task() { return TaskRef(internal::current_task_or_null()); }

std::vector<TaskRef> all_tasks() { return all_tasks(EventLoop::current()); }

std::vector<TaskRef> all_tasks(EventLoop& loop) {
  check_owner(loop, "all_tasks");
  std::vector<TaskBase*> raw = loop.pending_tasks_snapshot();
  std::vector<TaskRef> out;
  out.reserve(raw.size());
  for (TaskBase* t : raw) {
    out.emplace_back(t);
    t->unref();  // the snapshot's reference; the TaskRef holds its own
  }
  return out;
}

std::vector<TaskRef> all_tasks_threadsafe(EventLoop& loop, Duration timeout) {
  if (EventLoop::current_or_null() == &loop || !loop.is_running()) return all_tasks(loop);
  auto reply = post_to_loop<std::vector<TaskRef>>(loop, [](EventLoop& l) { return all_tasks(l); });
  if (!reply->wait(timeout)) {
    throw TimeoutError(absl::StrFormat(
        "all_tasks_threadsafe(): loop %d (thread %s) did not answer within %.3f s: it is "
        "blocked in a callback or a task step (the watchdog names it), or waiting for this "
        "thread",
        internal::loop_serial(&loop), internal::thread_name(loop.thread_id()),
        std::chrono::duration<double>(timeout).count()));
  }
  return reply->value ? std::move(*reply->value) : std::vector<TaskRef>{};
}

FutureCallGraph capture_call_graph(const TaskRef& task, int depth) {
  if (!task) throw RuntimeError("capture_call_graph(): the TaskRef is empty");
  check_owner(*task.base()->loop(), "capture_call_graph");
  return capture(*task.base(), depth);
}

std::string format_call_graph(const FutureCallGraph& graph) {
  std::string out;
  format_into(graph, "", out);
  return out;
}

std::string dump_tasks(EventLoop& loop) {
  check_owner(loop, "dump_tasks");
  std::vector<TaskRef> tasks = all_tasks(loop);
  std::string out = loop_header(loop, internal::loop_serial(&loop));
  if (tasks.empty()) out += "  (no pending tasks)\n";
  for (const TaskRef& t : tasks) format_into(capture(*t.base(), 0), "  ", out);
  return out;
}

std::string dump_tasks_threadsafe(EventLoop& loop, Duration timeout) {
  if (EventLoop::current_or_null() == &loop) return dump_tasks(loop);
  if (!loop.is_running()) {
    return loop_header(loop, internal::loop_serial(&loop)) +
           "  (not running: dump it with dump_tasks(loop) from the thread that owns it)\n";
  }
  std::shared_ptr<Reply<std::string>> r = post_dump(loop);
  return wait_reply(*r, timeout, loop_header(loop, internal::loop_serial(&loop)));
}

std::string dump_all_tasks(Duration timeout) {
  struct Pending {
    uint64_t serial;
    std::string header;
    std::shared_ptr<Reply<std::string>> reply;  // null: dumped directly
    std::string text;
  };
  std::vector<Pending> loops;
  EventLoop* here = EventLoop::current_or_null();
  internal::for_each_live_loop([&](EventLoop* loop, uint64_t serial) {
    if (!loop->is_running() && loop != here) return;
    Pending p{serial, loop_header(*loop, serial), nullptr, {}};
    if (loop != here) p.reply = post_dump(*loop);
    loops.push_back(std::move(p));
  });
  std::sort(loops.begin(), loops.end(),
            [](const Pending& a, const Pending& b) { return a.serial < b.serial; });
  std::string out;
  if (here) out += dump_tasks(*here);
  TimePoint deadline = Clock::now() + timeout;
  for (Pending& p : loops) {
    if (!p.reply) continue;
    Duration left = std::max(Duration::zero(), deadline - Clock::now());
    out += wait_reply(*p.reply, left, p.header);
  }
  if (loops.empty()) out += "(no running event loop)\n";
  return out;
}

}  // namespace weft
