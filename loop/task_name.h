// TaskName (internal): a task's name as an immutable string that another thread (the
// stuck-loop watchdog, watchdog.h) can read while the task's loop is busy running the task.
//
// The problem. The watchdog reports a loop stuck in a task step from its own thread. The
// task's name belongs to the loop's thread, and the step can end, and the task be freed, at
// any moment while the watchdog reads.
//
// The scheme. A name is never changed in place: set_name makes a new TaskName, and the old
// ones stay alive (chained) until the task is destroyed (set_name is rare). A named task's
// step stores its current TaskName in its loop's slot (EventLoop::step_task_name); an unnamed
// task's step leaves the slot alone (the reader checks the task id, and spells an unnamed
// task "Task-<id>" from the id alone). The slot only ever holds names of live tasks: it is
// cleared (EventLoop::forget_step_name) when the task completes, when it is abandoned, and
// when a spawned task's step ends (it may next run, and end, on another loop). The watchdog
// reads the slot through one hazard pointer (a single reader: read_published_name serialises
// its callers): it announces the pointer it is about to read, then checks that the slot
// still holds it; the task's destructor waits until the hazard holds none of its names
// before freeing them. The wait is at most the time the reader takes to copy one string, and
// happens only when a named task dies at the moment its name is being read.
//
// Cost to the hot path: a test of TaskBase::cold_ per step (a store if the task is named),
// folded into complete()'s existing test; a spawned task's step that suspends compares the
// slot with its id. A named task's destruction: a fence.
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
