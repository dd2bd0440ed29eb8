// Unix signals as loop callbacks (asyncio's loop.add_signal_handler), and weft::run's Ctrl-C.
//
//   loop.add_signal_handler(SIGTERM, [&] { server.close(); });
//   ...
//   loop.remove_signal_handler(SIGTERM);
//
// How. The signals that have handlers are blocked in the main thread and read from one
// signalfd that the loop watches (add_reader); each delivery runs the handler on the loop,
// as an ordinary callback (a handler that throws goes to the loop's exception handler). No
// async-signal-safety rules apply to the handler. Several deliveries of a standard signal
// that arrive before the loop reads them count as one, as with sigaction.
//
// Blocked in every thread. signalfd only sees a signal that no thread lets through: a signal
// that is not blocked in some thread is delivered to that thread instead, with its default
// action (SIGINT and SIGTERM end the process). weft therefore blocks the signal in the main
// thread, and threads inherit the mask of the thread that creates them: every thread weft
// starts afterwards (a Runtime's loops, the blocking pool, which grows from those threads)
// has it blocked too. weft::run installs its SIGINT handler (below) before it starts any
// thread. A program that starts threads of its own *before* its first add_signal_handler
// must block those signals first, in main, before starting them: call
// weft::block_signals({SIGTERM, SIGHUP}) at the top of main(). Children started by
// create_subprocess_exec start with an empty mask (and SIGPIPE at its default).
//
// Rules. Main thread only, on a loop that is not closed (RuntimeError otherwise, naming the
// thread); one loop at a time may own signal handlers (a second live loop asking raises
// RuntimeError). Invalid signal numbers and signals that cannot be caught (SIGKILL,
// SIGSTOP) raise std::invalid_argument. Removing the last handler of a signal unblocks it
// again (pending deliveries are discarded first, so none is acted on by the default action).
// The handlers of a loop that is closed without removing them are dropped when another loop
// next adds one.
//
// weft::run and Ctrl-C (asyncio.Runner): when weft::run runs on the main thread and SIGINT has
// its default disposition, the first SIGINT cancels the main task (run then raises
// KeyboardInterrupt instead of CancelledError, unless the task swallowed the cancellation),
// and the second stops the loop at once: run raises KeyboardInterrupt after the usual
// shutdown (pending tasks cancelled and awaited). SIGINT is restored to its default before
// that shutdown, so a third Ctrl-C ends the process. A program that adds its own SIGINT
// handler replaces run's. With {.threads = N}: see MultiLoopSigint below (the second SIGINT
// ends the process at once there).
#ifndef WEFT_LOOP_SIGNALS_H_
#define WEFT_LOOP_SIGNALS_H_

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <thread>

#include "loop/errors.h"

namespace weft {

class EventLoop;

// Raised by weft::run when SIGINT interrupted the main task (Python's KeyboardInterrupt).
// Not a std::exception, like CancelledError: a generic catch must not swallow it.
class KeyboardInterrupt : public BaseException {
 public:
  KeyboardInterrupt() : BaseException("interrupted by SIGINT") {}
};

// Blocks `signals` in the calling thread (see the file comment: call it in main, before
// starting threads, for signals whose handlers are added later).
void block_signals(std::initializer_list<int> signals);

namespace internal {
// Blocks every signal on the calling thread for its lifetime, then restores the mask. weft's
// own helper threads (the watchdog, the task-dump thread) are started inside one, so they
// inherit a full mask and a process-directed signal is never delivered to them: a thread that
// existed before add_signal_handler() blocked the signal would otherwise take it and die of
// its default action.
class AllSignalsBlocked {
 public:
  AllSignalsBlocked();
  ~AllSignalsBlocked();
  AllSignalsBlocked(const AllSignalsBlocked&) = delete;
  AllSignalsBlocked& operator=(const AllSignalsBlocked&) = delete;

 private:
  sigset_t old_;
};
}  // namespace internal

namespace internal {

class TaskBase;

// weft::run's SIGINT handling for one run (see the file comment). install() does nothing
// off the main thread or when SIGINT is not at its default disposition.
class RunnerSigint {
 public:
  RunnerSigint(EventLoop& loop, TaskBase& main_task);
  ~RunnerSigint() { restore(); }
  RunnerSigint(const RunnerSigint&) = delete;
  RunnerSigint& operator=(const RunnerSigint&) = delete;

  // Removes the handler (if it is still run's own).
  void restore();
  // The second SIGINT stopped the loop.
  bool hard_stopped() const { return interrupts_ >= 2; }
  // After the main task finished: raises KeyboardInterrupt if SIGINT cancelled it and it
  // did not swallow the cancellation (asyncio's uncancel() == 0 rule).
  void raise_if_interrupted();

 private:
  void on_sigint();

  EventLoop& loop_;
  TaskBase& task_;
  uint64_t id_ = 0;  // the hub's id of run's handler; 0: not installed
  int interrupts_ = 0;
};

// The same for weft::run(main, {.threads = N}), where the main task runs on a Runtime's loop
// and the main thread only waits: SIGINT is blocked in the main thread before the Runtime
// starts its threads, and a small watcher thread reads it from a signalfd. The first SIGINT
// cancels the main task (from the watcher: Task::cancel is thread-safe); the second ends the
// process by SIGINT's default action at once, without cleanup (the loops are busy on their
// own threads and cannot be stopped from outside).
class MultiLoopSigint {
 public:
  MultiLoopSigint();
  ~MultiLoopSigint();
  MultiLoopSigint(const MultiLoopSigint&) = delete;
  MultiLoopSigint& operator=(const MultiLoopSigint&) = delete;

  // Called by the main task on its loop when it starts (set) and when it ends (nullptr).
  void set_main_task(TaskBase* task);
  // Stops the watcher and gives SIGINT back. Idempotent.
  void restore();
  // After the main task ended with CancelledError: raises KeyboardInterrupt if SIGINT
  // cancelled it and it did not swallow the cancellation.
  void raise_if_interrupted();

 private:
  void watch();

  int signal_fd_ = -1;
  int stop_fd_ = -1;
  bool blocked_by_us_ = false;
  std::thread watcher_;
  std::mutex mu_;                 // guards live_ and cancel_on_start_
  TaskBase* live_ = nullptr;      // the main task while its coroutine runs
  bool cancel_on_start_ = false;  // SIGINT came before the main task started
  TaskBase* main_ = nullptr;      // the main task (a reference), for raise_if_interrupted
  std::atomic<int> interrupts_{0};
};

// Tells `sigint` (if any) which task is the main one, for as long as its coroutine runs.
class MainTaskNote {
 public:
  MainTaskNote(MultiLoopSigint* sigint, TaskBase* task) : sigint_(sigint) {
    if (sigint_) sigint_->set_main_task(task);
  }
  ~MainTaskNote() {
    if (sigint_) sigint_->set_main_task(nullptr);
  }
  MainTaskNote(const MainTaskNote&) = delete;
  MainTaskNote& operator=(const MainTaskNote&) = delete;

 private:
  MultiLoopSigint* sigint_;
};

}  // namespace internal
}  // namespace weft

#endif  // WEFT_LOOP_SIGNALS_H_
