#include "loop/task_name.h"

#include <mutex>
#include <thread>

namespace weft::internal {
namespace {

// The one hazard pointer: the TaskName the reader is reading, or nullptr.
std::atomic<const TaskName*> g_hazard{nullptr};

}  // namespace

void free_task_names(TaskName* newest) {
  // Pairs with the reader's seq_cst store of the hazard and re-load of the slot: either the
  // reader's re-load sees the slot cleared (it then drops the pointer unread), or this load
  // sees its hazard (and waits for the reader to be done).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  while (newest != nullptr) {
    while (g_hazard.load(std::memory_order_acquire) == newest) std::this_thread::yield();
    TaskName* older = newest->older;
    delete newest;
    newest = older;
  }
}

std::string read_published_name(const std::atomic<const TaskName*>& slot, uint64_t task_id) {
  static std::mutex reader_mu;  // one hazard pointer: one reader at a time
  std::lock_guard<std::mutex> lock(reader_mu);
  std::string text;
  const TaskName* p = slot.load(std::memory_order_acquire);
  while (p != nullptr) {
    g_hazard.store(p, std::memory_order_seq_cst);
    const TaskName* again = slot.load(std::memory_order_seq_cst);
    if (again == p) {
      if (p->task_id == task_id) text = p->text;  // protected: see free_task_names
      break;
    }
    p = again;
  }
  g_hazard.store(nullptr, std::memory_order_release);
  return text;
}

}  // namespace weft::internal
