// The stuck-loop watchdog: a loop that does not come back to its poll for longer than its
// threshold (EventLoop::set_stuck_threshold, default 1 s) is reported while it is still
// stuck, naming the task or callback that is running and for how long.
//
//   weft::set_stuck_loop_handler([](const weft::StuckLoopReport& r) { log(r.message); });
//   loop.set_stuck_threshold(200ms);   // or 0s: off for this loop
//
// How. One thread per process, started when a loop first runs, samples every running loop a
// few times per threshold. The loop's own cost is plain (relaxed/release atomic) stores: one
// per batch of ready items (EventLoop::step_seq), two per task step and one per callback
// (which item is running). A loop whose batch number has not moved for a whole threshold,
// and which is not parked in its poll, has not come back to its poll: it is stuck. A busy
// loop that keeps yielding starts a new batch every few microseconds (a batch holds at most
// kMaxBatch items, those ready when it started); an idle loop is parked. The time is measured
// from the first sample that saw the batch, so it is a lower bound, within a quarter of the
// threshold; the item named is the one running when the report is made.
//
// What is reported. The loop (its serial number and thread), how long, and, for a task
// step, the task's name (get_name()), id and coroutine; for a callback, that it is a
// callback. The name is read through a hazard pointer (task_name.h): the task can end, and be
// freed, while the watchdog reads. Not the await chain: it belongs to the stuck loop's
// thread, which is busy, and changes as the task runs. Dump the task from the loop once it
// recovers, or dump the other loops (introspect.h). When the item finally returns, a second
// report (recovered = true) says so.
//
// Reports go to the handler set with set_stuck_loop_handler, called on the watchdog thread
// (not to the loop's exception handler: that one runs on the loop's thread, which is the
// stuck one). The default handler writes the message to stderr.
#ifndef WEFT_LOOP_WATCHDOG_H_
#define WEFT_LOOP_WATCHDOG_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "loop/clock.h"

namespace weft {

struct StuckLoopReport {
  uint64_t loop = 0;         // the loop's serial number (as in the task dumps)
  std::thread::id thread;    // the loop's thread
  Duration stuck_for{};      // at least this long
  uint64_t task_id = 0;      // the task whose step is running; 0: a callback
  std::string task_name;     // that task's get_name() ("" for a callback)
  std::string coroutine;     // that task's root coroutine ("" for a callback)
  bool recovered = false;    // false: still stuck; true: the item has returned
  std::string message;       // the whole report as text
};

using StuckLoopHandler = std::function<void(const StuckLoopReport&)>;

// Replaces the process-wide handler; nullptr restores the default (stderr). Any thread but
// the handler itself. Once it returns, the previous handler is not running and will not be
// called again. The handler runs on the watchdog thread, one report at a time; it must not
// block for long (the watchdog waits for it) nor wait for a stuck loop.
void set_stuck_loop_handler(StuckLoopHandler handler);

namespace internal {
// The default threshold: 1 s, or WEFT_STUCK_THRESHOLD_MS from the environment.
Duration default_stuck_threshold();
// Starts the watchdog thread if it is not running (EventLoop does, when it starts running).
void ensure_watchdog_running();
// Makes the watchdog re-read the thresholds now (after set_stuck_threshold).
void wake_watchdog();
// How many sampling rounds the watchdog has completed (tests wait for rounds, not time).
uint64_t watchdog_rounds();
}  // namespace internal

}  // namespace weft

#endif  // WEFT_LOOP_WATCHDOG_H_
