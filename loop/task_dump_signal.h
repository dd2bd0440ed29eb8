// A task dump on a signal: `kill -USR1 <pid>` prints every running loop's tasks with their
// await chains (introspect.h's dump_all_tasks) to stderr.
//
//   int main() {
//     weft::enable_task_dump_on_signal(SIGUSR1);
//     return weft::run(main_coro());
//   }
//
// How. The signal handler only writes the signal number to a pipe (async-signal-safe); a
// thread of its own reads the pipe and builds the dump, each loop dumping its own tasks on
// its own thread (dump_all_tasks). A stuck loop does not answer and is reported as such.
// This is independent of the loop's own signal handling (add_signal_handler, signalfd): do
// not enable both for the same signal.
#ifndef WEFT_LOOP_TASK_DUMP_SIGNAL_H_
#define WEFT_LOOP_TASK_DUMP_SIGNAL_H_

#include <csignal>
#include <functional>
#include <string>

namespace weft {

// Installs the handler for `signo` (replacing its disposition) and starts the dump thread if
// needed. `sink` receives each dump; by default it is written to stderr. Any thread. Raises
// RuntimeError if the handler cannot be installed.
void enable_task_dump_on_signal(int signo = SIGUSR1,
                                std::function<void(const std::string&)> sink = nullptr);
// Restores the default disposition of `signo`. Any thread.
void disable_task_dump_on_signal(int signo = SIGUSR1);

}  // namespace weft

#endif  // WEFT_LOOP_TASK_DUMP_SIGNAL_H_
