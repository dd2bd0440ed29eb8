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
// create_subprocess_exec get an empty mask and default dispositions back.
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
// handler replaces run's.
#ifndef WEFT_LOOP_SIGNALS_H_
#define WEFT_LOOP_SIGNALS_H_

#include <cstdint>
#include <initializer_list>

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

}  // namespace internal
}  // namespace weft

#endif  // WEFT_LOOP_SIGNALS_H_
