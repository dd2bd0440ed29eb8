// weft::Event: a flag tasks can wait for (asyncio.Event), shareable between tasks on
// different loops.
//
//   weft::Event ready;
//   // some task, on any loop:          // another task or thread:
//   co_await ready.wait();              ready.set();
//
// set() wakes every waiting task (in the order they started waiting) and lets later wait()s
// return at once until clear(). A task woken by set() returns from wait() even if clear()
// runs before it resumes (asyncio does the same). Waiters may run on any loop; set() from
// another thread wakes them through the thread-safe path. Cancelling a waiting task raises
// CancelledError at its wait() and removes it from the queue.
//
// The Event must outlive every task waiting on it. Thread-safety: every method, any thread
// (wait from a task); set() and is_set() never block on a task.
#ifndef WEFT_SYNC_EVENT_H_
#define WEFT_SYNC_EVENT_H_

#include <atomic>
#include <cassert>
#include <optional>

#include "loop/task_base.h"
#include "sync/internal/waiter_list.h"

namespace weft {

class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event();

  // Its Waiter is made only if it has to wait.
  class WaitAwaiter {
   public:
    explicit WaitAwaiter(Event& event) noexcept : event_(&event) {}
    // Only before it is awaited (e.g. into a wait_for).
    WaitAwaiter(WaitAwaiter&& other) noexcept : event_(other.event_) {
      assert(!other.waiter_ && "an awaiter is moved only before it is awaited");
    }
    ~WaitAwaiter() {
      // A set() that raced with a cancellation grants nothing to hand back: the event
      // stays set for everyone else.
      if (waiter_) waiter_->withdraw();
    }
    bool await_ready() const noexcept { return event_->is_set(); }
    bool await_suspend(internal::TaskBase& task) {
      return event_->wait_unless_set(waiter_.emplace(), task);
    }
    void await_resume() {
      if (waiter_) waiter_->claim();
    }

   private:
    struct EventWaiter final : internal::Waiter {};
    Event* event_;
    std::optional<EventWaiter> waiter_;
  };

  // `co_await event.wait()`: returns once the event is set.
  [[nodiscard]] WaitAwaiter wait() noexcept { return WaitAwaiter(*this); }

  // Sets the flag and wakes every waiting task. Idempotent.
  void set();
  // Clears the flag: later wait()s wait for the next set().
  void clear();
  // A snapshot of the flag (acquire: what was written before set() is visible).
  bool is_set() const noexcept { return set_.load(std::memory_order_acquire); }

 private:
  bool wait_unless_set(internal::Waiter& w, internal::TaskBase& task);

  std::atomic<bool> set_{false};  // written under wait_lock_
  internal::WaitLock wait_lock_;
  internal::WaiterList waiters_{wait_lock_};
};

}  // namespace weft

#endif  // WEFT_SYNC_EVENT_H_
