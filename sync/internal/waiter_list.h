// WaiterList: the FIFO of suspended tasks behind every sync/ primitive (internal).
//
// A primitive (Lock, Semaphore, Event, Condition, Queue, ...) keeps its state and one or more
// WaiterLists under one small lock of its own, a WaitLock. The tasks waiting in the lists may
// run on ANY loop of a Runtime; the primitive may be released / set / put to from any thread.
//
// The pieces:
//   - Waiter: one waiting task. It lives inside the primitive's awaiter, that is inside the
//     waiting coroutine's frame (no allocation). It is the task's WaitCanceller.
//   - WaiterList: an intrusive FIFO of Waiters, guarded by the primitive's WaitLock.
//   - Wakeups: the tasks a granter must wake, collected under the lock, woken after it.
//
// The protocol. A Waiter's state moves only forward:
//
//     kIdle --enqueue--> kWaiting --grant_front (granter, under the lock)--> kGranted --claim--> kClaimed
//                           |  \----cancel_wait (the task's loop, under the lock)--> kCancelled
//                           \------withdraw (frame destroyed while waiting, under the lock)--> kIdle
//
//   Waiting: in await_suspend, under the lock, the awaiter checks the fast path once more and,
//   if it still has to wait, calls enqueue(list, task) (appends at the back, registers as the
//   task's WaitCanceller), unlocks and suspends.
//
//   Granting (any thread): under the lock, `Waiter* w = list.grant_front()` unlinks the first
//   waiter and marks it granted; the primitive moves what it grants (the lock, a permit, an
//   item) into the awaiter (it knows the awaiter's type: static_cast) and calls
//   `wakeups.add(*w)`. The Wakeups object wakes the tasks once the lock is released (declare it
//   BEFORE the lock guard, so that it is destroyed after it, or call wake_all() by hand).
//   Waking is TaskBase::wake_from_wait(): on another thread it crosses to the task's loop by
//   the thread-safe path.
//
//   Cancelling (Task::cancel while the task waits): TaskBase calls cancel_wait on the task's
//   loop. Under the lock: if the waiter is still kWaiting, it is unlinked, marked kCancelled,
//   and cancel_wait wakes the task itself (returns true); await_resume then raises
//   CancelledError with the cancel message. If it was already granted, cancel_wait returns
//   false: the granter wakes the task, and TaskBase raises CancelledError at the resumption
//   (loop/coro.h TaskAwaiterAdapter), BEFORE await_resume runs.
//
//   Claiming: await_resume calls claim(): raises CancelledError if the wait was cancelled,
//   otherwise marks the grant as taken by the caller.
//
//   Handing back (the documented hook): the awaiter's destructor calls withdraw() FIRST. It
//   returns true iff the waiter was granted and never claimed: the task was cancelled between
//   the grant and its resumption (await_resume never ran), or its frame was destroyed while
//   the wake was in flight. The awaiter then owns the grant and MUST hand it back:
//     Lock: release() (the lock passes to the next waiter); Semaphore: release() (the permit
//     returns); Queue get: put the item back at the FRONT; Queue put: the slot goes to the
//     next putter; Condition: notify(1) (the notification passes on).
//   withdraw() also unlinks a waiter whose frame is destroyed while it still waits (a loop
//   closed by hand while the task was suspended).
//
// Invariants.
//   - Exactly one wake per suspension: whoever takes the waiter out of the list (granter or
//     cancel_wait) wakes its task, and only it. withdraw() takes a waiter out only when its
//     frame is being destroyed, when there is nobody left to wake.
//   - Exactly-once grant: a grant is delivered by claim() or handed back by the destructor,
//     never both, never neither (a granted waiter is out of the list, so no second granter
//     and no cancel_wait can reach it).
//   - FIFO: enqueue appends, grant_front takes the oldest. A cancelled waiter leaves without
//     disturbing the order of the others. A handed-back grant goes to whoever is first then.
//   - A granter never touches a Waiter after the lock is released: Wakeups holds the tasks,
//     not the waiters, and takes a reference on a task of another loop so that a frame or
//     task destroyed meanwhile (loop closed by hand) cannot leave it dangling.
//
// Lifetimes and threads. The primitive must outlive every task waiting on it, and a waiting
// task's EventLoop object must outlive a wake in flight to it (closing the loop is fine; a
// Runtime's loops live as long as the Runtime, like those of futures awaited across loops).
// All WaiterList
// methods and grant_front require the primitive's WaitLock. enqueue, claim, withdraw and
// cancel_wait run on the waiting task's loop (the first under the lock, the others take it).
// A Waiter may be moved only while kIdle (an awaiter passed around before it is awaited).
#ifndef WEFT_SYNC_INTERNAL_WAITER_LIST_H_
#define WEFT_SYNC_INTERNAL_WAITER_LIST_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/container/inlined_vector.h"
#include "loop/spin_lock.h"
#include "loop/task_base.h"

namespace weft::internal {

// The lock guarding a primitive's state and its WaiterLists: critical sections are a few
// instructions (wakes happen after it is released). Not absl::Mutex: TSan cannot see it.
using WaitLock = SpinLock;
using WaitGuard = std::lock_guard<WaitLock>;

class WaiterList;

class Waiter : public WaitCanceller {
 public:
  enum class State : uint8_t { kIdle, kWaiting, kGranted, kCancelled, kClaimed };

  Waiter() = default;
  // Only an idle waiter (not yet awaited) may be moved; the new one starts idle.
  Waiter(Waiter&& other) noexcept;
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;
  Waiter& operator=(Waiter&&) = delete;

  // Under the list's lock, on the task's loop: appends this waiter to `list` (kWaiting) and
  // registers it as `task`'s WaitCanceller. The caller then releases the lock and suspends.
  void enqueue(WaiterList& list, TaskBase& task);

  // In await_resume. Raises CancelledError if cancel_wait ended the wait; otherwise, if the
  // waiter was granted, marks the grant as taken (withdraw() then returns false). A waiter
  // that never suspended (kIdle) is left as it is.
  void claim() {
    if (list_ == nullptr) return;  // never enqueued, or already settled
    list_ = nullptr;
    if (state_ == State::kCancelled) [[unlikely]] throw_cancelled();
    state_ = State::kClaimed;
  }

  // First thing in the awaiter's destructor. Returns true iff the waiter was granted and the
  // grant was never claimed: the caller owns it now and must hand it back (see the file
  // comment). A waiter still in its list is unlinked (its frame is going away).
  bool withdraw() noexcept {
    if (list_ == nullptr) return false;  // never enqueued, claimed, or cancelled and raised
    return withdraw_slow();
  }

  // WaitCanceller: the task's loop, while the task is suspended here.
  bool cancel_wait(const std::string& msg) override;

  // Under the lock (or after the wake, on the task's loop).
  State state() const { return state_; }
  TaskBase* task() const { return task_; }

 protected:
  // Inline: every awaiter runs it, also on the fast path where it never waited.
  ~Waiter() {
    // The awaiter's destructor must have called withdraw(): a waiter still linked here
    // would leave a dangling node in its primitive's list.
    assert(list_ == nullptr || state_ == State::kCancelled || state_ == State::kClaimed ||
           state_ == State::kIdle);
  }

 private:
  friend class WaiterList;
  bool withdraw_slow() noexcept;
  [[noreturn]] void throw_cancelled();

  // Owner-only (the waiting task's loop): non-null from enqueue until claim/withdraw. Lets
  // claim() and withdraw() skip the lock when the waiter never waited.
  WaiterList* list_ = nullptr;
  // Set by enqueue; left uninitialised before, so that an awaiter that never waits (the fast
  // path) does not pay for them. Guarded by the list's lock while linked.
  Waiter* prev_;
  Waiter* next_;
  TaskBase* task_;
  // The cancel message, set by cancel_wait (kCancelled only). Raised by the waiter itself,
  // like weft::sleep, so that a Task::uncancel() before the resumption cannot turn a
  // cancelled wait into a successful one.
  std::unique_ptr<std::string> cancel_msg_;
  State state_ = State::kIdle;
};

// An intrusive FIFO of Waiters. Every method requires lock() held.
class WaiterList {
 public:
  explicit WaiterList(WaitLock& lock) : lock_(&lock) {}
  WaiterList(const WaiterList&) = delete;
  WaiterList& operator=(const WaiterList&) = delete;

  WaitLock& lock() const { return *lock_; }
  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  // The oldest waiter, or nullptr.
  Waiter* front() const { return head_; }

  // Unlinks the oldest waiter and marks it kGranted; nullptr if the list is empty. The
  // caller moves the grant into it and hands it to a Wakeups before releasing the lock.
  Waiter* grant_front() {
    Waiter* w = head_;
    if (w == nullptr) return nullptr;
    unlink(w);
    w->state_ = Waiter::State::kGranted;
    return w;
  }

 private:
  friend class Waiter;
  void push_back(Waiter* w) {
    w->prev_ = tail_;
    w->next_ = nullptr;
    if (tail_) {
      tail_->next_ = w;
    } else {
      head_ = w;
    }
    tail_ = w;
    ++size_;
  }
  void unlink(Waiter* w) {
    (w->prev_ ? w->prev_->next_ : head_) = w->next_;
    (w->next_ ? w->next_->prev_ : tail_) = w->prev_;
    w->prev_ = w->next_ = nullptr;
    --size_;
  }

  WaitLock* lock_;
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  size_t size_ = 0;
};

// The tasks of granted waiters, woken once the primitive's lock is released:
//
//   Wakeups wakeups;          // before the guard: destroyed (and waking) after it
//   {
//     WaitGuard guard(lock_);
//     if (Waiter* w = waiters_.grant_front()) { ...move the grant in...; wakeups.add(*w); }
//   }
//
// A task of another loop is referenced from add() until its wake is posted, so a loop closed
// by hand meanwhile cannot free it under us. Not thread-safe itself: a local of the granter.
class Wakeups {
 public:
  Wakeups() = default;
  Wakeups(const Wakeups&) = delete;
  Wakeups& operator=(const Wakeups&) = delete;
  ~Wakeups() {
    if (!tasks_.empty()) wake_all();
  }

  // Under the lock: `w` was just returned by grant_front().
  void add(Waiter& w);
  // Without the lock. Idempotent.
  void wake_all();
  bool empty() const { return tasks_.empty(); }

 private:
  // A TaskBase*, with the low bit set when a reference was taken (a task of another loop).
  absl::InlinedVector<uintptr_t, 2> tasks_;
};

}  // namespace weft::internal

#endif  // WEFT_SYNC_INTERNAL_WAITER_LIST_H_
