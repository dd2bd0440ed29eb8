// TaskName (internal): a task's name as an immutable string that another thread (the
// stuck-loop watchdog, watchdog.h) can read while the task's loop is busy running the task.
//
// The problem. The watchdog reports a loop stuck in a task step from its own thread. The
// task's name belongs to the loop's thread, and the step can end, and the task be freed, at
// any moment while the watchdog reads.
//
// The scheme. A name is never changed in place: set_name makes a new TaskName, and the old
// ones stay alive (chained) until the task is destroyed (set_name is rare). While a named
// task's step runs, its loop's slot (EventLoop::step_name) points to the current TaskName;
// the step clears the slot when it returns, before the task can complete and be freed. The
// watchdog reads the slot through one hazard pointer (a single reader: read_published_name
// serialises its callers): it announces the pointer it is about to read, then checks that
// the slot still holds it; the task's destructor waits until the hazard does not hold any of
// its names before freeing them. The wait is at most the time the reader takes to copy one
// string, and happens only when a named task dies at the moment its name is being read.
//
// Cost to the hot path: an unnamed task ("Task-<id>", which the reader can spell from the
// id alone) costs a test of TaskBase::cold_ per step. A named task: a store when its step
// starts and one when it ends; a fence when it is destroyed.
#ifndef WEFT_LOOP_TASK_NAME_H_
#define WEFT_LOOP_TASK_NAME_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace weft::internal {

struct TaskName {
  TaskName(uint64_t task_id, std::string text, TaskName* older)
      : task_id(task_id), text(std::move(text)), older(older) {}
  const uint64_t task_id;  // the task it names: the reader checks it against the step's id
  const std::string text;
  TaskName* const older;  // the names it replaced, kept until the task is destroyed
};

// Frees `newest` and the names it replaced, once no reader holds any of them. Every slot
// that pointed to them must have been cleared first (happens-before this call). Any thread.
void free_task_names(TaskName* newest);

// The text of the name `slot` points to, if it names task `task_id`; "" if the slot is empty
// or names another task. Any thread, while the slot's owner (the loop) is alive.
std::string read_published_name(const std::atomic<const TaskName*>& slot, uint64_t task_id);

}  // namespace weft::internal

#endif  // WEFT_LOOP_TASK_NAME_H_
