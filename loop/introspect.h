// Introspection: which task is running, which tasks exist, and what each one is waiting on
// (asyncio's current_task, all_tasks, and 3.14's capture_call_graph / format_call_graph).
//
//   weft::TaskRef me = weft::current_task();            // empty outside a task
//   for (weft::TaskRef& t : weft::all_tasks()) ...      // the running loop's pending tasks
//   std::fputs(weft::dump_tasks(loop).c_str(), stderr);  // every task with its await chain
//   std::string all = weft::dump_all_tasks();            // every running loop, from any thread
//
// The await chain of a task is read from its coroutine promises, without a stack unwinder:
// each Coro records the line of the co_await it is suspended at and the Coro (or async
// generator) it is awaiting inline, so the chain runs from the task's root coroutine to the
// innermost suspension point, each frame with the coroutine's name and file:line. The
// innermost frame also says what it awaits: a Future, a Task (by name), a sleep, or the
// awaiter's type name for other weft awaitables (a Lock, a Queue...). Frames of foreign
// code (a coroutine type that is not a weft::Coro) end the chain.
//
// Thread-safety. A task's chain and state belong to its loop: current_task() is any thread
// (it answers for the calling thread), everything that reads a task's chain (all_tasks,
// capture_call_graph, dump_tasks) runs on that task's loop thread ("owning loop only") and
// raises RuntimeError elsewhere. From any other thread, dump_all_tasks() and
// dump_tasks_threadsafe() post the work to each loop (call_soon_threadsafe) and wait for the
// answer, so they never read a running loop's tasks from outside; a loop that does not
// answer within the timeout (it is stuck: see the watchdog in event_loop.h) is reported as
// such. They must not be called from a loop thread whose loop they would wait for: the own
// loop is dumped directly, the others are waited for up to the timeout.
#ifndef WEFT_LOOP_INTROSPECT_H_
#define WEFT_LOOP_INTROSPECT_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "loop/clock.h"
#include "loop/task.h"
#include "loop/task_base.h"

namespace weft {

class EventLoop;

// An untyped, reference-counted handle to a task (any Task<T>). Empty by default.
// Copying and destroying are any thread; the accessors follow Task<T>'s rules (owning loop
// only), except id() and get_loop(), which are any thread.
class TaskRef {
 public:
  TaskRef() = default;
  template <class T>
  explicit TaskRef(const Task<T>& task) : TaskRef(task.base()) {}
  // Takes a reference of its own.
  explicit TaskRef(internal::TaskBase* task) : t_(task) {
    if (t_) t_->ref();
  }
  TaskRef(const TaskRef& o) : TaskRef(o.t_) {}
  TaskRef(TaskRef&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  TaskRef& operator=(TaskRef o) noexcept {
    std::swap(t_, o.t_);
    return *this;
  }
  ~TaskRef() {
    if (t_) t_->unref();
  }

  explicit operator bool() const { return t_ != nullptr; }
  // Unique for the process (the "id" of the dump).
  uint64_t id() const { return t_->id(); }
  std::string get_name() const { return t_->name(); }
  EventLoop& get_loop() const { return *t_->loop(); }
  bool done() const { return t_->done(); }
  bool cancelled() const { return t_->cancelled(); }
  bool cancel(std::string msg = "") { return t_->cancel(std::move(msg)); }
  // "<Task pending name='x' coro=fn() at file:line>".
  std::string describe() const { return t_->describe(); }
  internal::TaskBase* base() const { return t_; }
  friend bool operator==(const TaskRef& a, const TaskRef& b) { return a.t_ == b.t_; }

 private:
  internal::TaskBase* t_ = nullptr;
};

// The task whose step runs on the calling thread, or an empty TaskRef (in a plain callback,
// or on a thread that runs no loop). asyncio.current_task().
TaskRef current_task();

// The pending tasks of the loop running on this thread, oldest first (asyncio.all_tasks()).
// Raises RuntimeError if no loop runs on this thread. Spawned tasks that have not started
// yet belong to no loop and are not listed.
std::vector<TaskRef> all_tasks();
// The same for `loop`. Owning loop only (RuntimeError from another thread while it runs).
std::vector<TaskRef> all_tasks(EventLoop& loop);
// The same from any thread: on the loop's thread directly, otherwise posted to the loop and
// waited for. Raises TimeoutError if the loop does not answer within `timeout` (it is stuck,
// or it is itself waiting for the calling thread). A closed loop has no tasks.
// Runtime::all_tasks() does this for every loop of a Runtime.
std::vector<TaskRef> all_tasks_threadsafe(EventLoop& loop,
                                          Duration timeout = std::chrono::seconds(1));

// One frame of an await chain.
struct CallStackEntry {
  std::string coroutine;     // the coroutine function's name
  std::string file;          // where it is defined
  uint32_t line = 0;         // the co_await it is suspended at; 0: it has not awaited yet
  uint32_t defined_line = 0;  // the line of its definition
};

// A task, its await chain, what it waits on, and who waits on it (asyncio.FutureCallGraph).
struct FutureCallGraph {
  uint64_t task_id = 0;
  std::string name;
  // "running", "suspended", "not started", or the state of a done task ("finished", ...).
  std::string state;
  uint64_t loop = 0;  // the loop's serial number (unique for the process)
  // Outermost (the task's root coroutine) first, innermost last.
  std::vector<CallStackEntry> call_stack;
  // What the innermost frame awaits ("" when running, not started, or done).
  std::string awaiting;
  // The tasks awaiting this one. Tasks of the same loop come with their own graph; a task
  // of another loop only with its id, its coroutine and its loop (its chain is that loop's
  // to read: dump that loop to see it).
  std::vector<FutureCallGraph> awaited_by;
};

// Captures `task`'s graph, following awaited_by up to `depth` levels. The task's loop
// thread only (RuntimeError elsewhere).
FutureCallGraph capture_call_graph(const TaskRef& task, int depth = 8);
// The graph as indented text, asyncio.format_call_graph's layout.
std::string format_call_graph(const FutureCallGraph& graph);

// Every pending task of `loop` with its await chain, oldest first. Owning loop only.
std::string dump_tasks(EventLoop& loop);
// The same from any thread: on the loop's thread directly, otherwise posted to the loop and
// waited for up to `timeout` (a loop that does not answer is reported as not answering).
std::string dump_tasks_threadsafe(EventLoop& loop,
                                  Duration timeout = std::chrono::seconds(1));
// Every running loop of the process, each dumped on its own thread (see the file comment).
// Any thread.
std::string dump_all_tasks(Duration timeout = std::chrono::seconds(1));

}  // namespace weft

#endif  // WEFT_LOOP_INTROSPECT_H_
