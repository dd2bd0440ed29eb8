// FutureBase: the untyped half of a result slot bound to a loop, shared by Future<T> and
// Task<T> (asyncio.Task is an asyncio.Future too). Internal: users see Future<T>/Task<T>.
//
// It holds the state (pending, finished, cancelled), the exception, and who to tell when it
// is done: tasks awaiting it (woken directly: one trip through the ready queue, as asyncio's
// Task.__wakeup) and done-callbacks (scheduled with call_soon, as asyncio does), in the order
// they were added.
//
// Reference counted (atomic: a Task handle may be copied to another thread). The loop holds
// a reference to every pending Task.
//
// Thread-safety. state() and done() may be read from any thread (an acquire load; the
// result and exception are published before the state). A plain future belongs to its loop:
// every other method is owning-loop only, and a task on another loop that awaits it
// registers through call_soon_threadsafe (FutureAwaiter). A *shared* future (a spawned task,
// which can run on any loop of a Runtime) guards its waiter list and its completion with a
// spin lock, so registration and completion may happen on any thread; its done-callbacks are
// posted thread-safely to the loop that registered each of them.
//
// Awaiter pins. A task that awaits a plain future of its own loop by name (`co_await fut`)
// and never leaves that loop (a create_task, or a spawned task pinned to it) does not take
// a reference: it pins the future, a count in the byte the spin lock would use (a plain
// future never locks), written by the loop's thread only, without a locked instruction.
// Two locked instructions fewer per await (W3l: four per round trip). The reference the
// awaiter borrows is the handle's; the pin keeps the future alive if every handle is
// dropped while the task waits (`co_await member` with the member reassigned meanwhile).
// The rules, for a plain future:
//   - Its count never goes from 1 to 0 off the loop: a drop that is not the last one is a
//     compare-and-swap that stops at 1, and the holder that reads 1 is the last and decides
//     (unref). So a thread that decides always still holds a counted reference.
//   - The last holder deletes the future if the pin byte reads 0. Otherwise, on the loop's
//     thread, it deletes it if no pin is held and else marks it orphaned (kOrphaned: the
//     last unpin deletes it); on another thread, which must not write the byte, it hands
//     its reference to the loop (PinnedRelease, future_base.cc), which decides there.
//   - A thread that drops the last handle after a task borrowed it sees the pin: the pin is
//     stored in await_suspend before anything else runs on the awaiting thread, so whatever
//     let the other thread drop that handle (a release on the awaiting thread) comes after.
//     An unpin is a release store, and the awaiter does not touch the future after it.
//   - Only the loop's thread adds a reference without holding one: each done-callback that
//     completion posts takes one (post_callback), and a pinned task can complete a future
//     nobody holds by being cancelled (cancelling the future it awaits). Another thread's
//     "I am the last" may have been read before that reference was added; the task unpins
//     after adding it, so a holder that reads no pin reads the count again, and finds the
//     addition (release_last). A reference added to an orphaned future clears kOrphaned
//     (the callbacks' references keep it now).
#ifndef WEFT_LOOP_FUTURE_BASE_H_
#define WEFT_LOOP_FUTURE_BASE_H_

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "loop/creation_site.h"
#include "loop/frame_allocator.h"
#include "loop/ref_count.h"
#include "loop/spin_lock.h"

namespace weft {

class EventLoop;

namespace internal {

class TaskBase;
class FutureBase;

// A unique_ptr deleter whose delete is a call, for members that are null in nearly every
// object: the owner's destructor then has no inlined destructor of theirs to save registers
// for (TaskState<void>'s destructor, run for every task: 41 -> 36 instructions, W4).
template <class T>
struct DeleteOutOfLine {
  [[gnu::noinline, gnu::cold]] void operator()(T* p) const { delete p; }
};

using DoneCallbackFn = absl::AnyInvocable<void(FutureBase&)>;

// Allocated with FrameAllocator: task states are created and destroyed as often as frames.
class FutureBase : public UsesFrameAllocator {
 public:
  enum class State : uint8_t { kPending, kCancelled, kFinished };

  FutureBase(EventLoop* loop, uint32_t refs) : loop_(loop), refs_(refs) {}
  FutureBase(const FutureBase&) = delete;
  FutureBase& operator=(const FutureBase&) = delete;
  // Inline, as is every test on the paths every future and task takes (check_result,
  // unref): out of line, each cost a call plus the frame its cold error path needed, about
  // 20 instructions apiece on W3l's hop.
  virtual ~FutureBase() = default;

  void ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  // drop_ref (ref_count.h), except that a plain future's count stops at 1 (see Awaiter
  // pins): the holder that reads 1 is the last, whatever thread it is on.
  //
  // Inline and short, the slow cases out of line (unref_slow): this runs twice a task (the
  // handle and the loop's reference), and when the pin rules made it a function with a
  // frame W4 paid about 30 instructions a hop. A shared future's drop is drop_ref's; a plain
  // future's common last drop reads 1, no pin, and 1 again (see release_last).
  void unref() {
    if (shared_) {
      if (drop_ref(refs_)) destroy();
      return;
    }
    if (refs_.load(std::memory_order_acquire) == 1 &&
        lock_.pins().load(std::memory_order_acquire) == 0 &&
        refs_.load(std::memory_order_acquire) == 1) {
      return destroy();
    }
    unref_slow();
  }

  // Awaiter pins (see the file comment). A plain future, on its loop's thread (or the
  // thread closing it). try_pin_awaiter returns false if the count is full (127 pinned
  // awaiters): take a reference instead.
  bool try_pin_awaiter() {
    uint8_t w = lock_.pins().load(std::memory_order_relaxed);
    if ((w & kPinCount) == kPinCount) [[unlikely]] return false;
    lock_.pins().store(w + 1, std::memory_order_relaxed);
    return true;
  }
  // How many awaiting tasks hold a pin now (tests). Owning loop only.
  int pinned_awaiters() const {
    return shared_ ? 0 : lock_.pins().load(std::memory_order_relaxed) & kPinCount;
  }
  void unpin_awaiter() {
    uint8_t w = lock_.pins().load(std::memory_order_relaxed);
    if ((w & (kOrphaned | kPinCount)) == (kOrphaned | 1)) [[unlikely]] return destroy();
    // Release: a thread that reads the count without this pin may delete the future.
    lock_.pins().store(w - 1, std::memory_order_release);
  }

  EventLoop* loop() const { return loop_.load(std::memory_order_acquire); }
  State state() const { return state_.load(std::memory_order_acquire); }
  bool done() const { return state() != State::kPending; }
  bool cancelled() const { return state() == State::kCancelled; }

  // Makes the future safe to register on and complete from any thread (see the file
  // comment). Set before the future is visible to another thread.
  void set_shared() { shared_ = true; }
  bool shared() const { return shared_; }
  // Finished with an exception (not cancelled). Does not mark the exception retrieved.
  bool has_exception() const { return state() == State::kFinished && exception_ != nullptr; }

  // asyncio Future.cancel(): false if already done. Task overrides it.
  virtual bool cancel(std::string msg);
  // "<Future pending>", "<Task 'name' finished>", ...; in debug mode a Future adds where it
  // was created: "<Future pending created at file.cc:12>".
  virtual std::string describe() const;
  // Where create_future was called (debug mode); nullptr otherwise and for tasks.
  virtual const CallSite* creation_site() const { return nullptr; }

  // Throws InvalidStateError if pending, CancelledError if cancelled, and rethrows the
  // stored exception (marking it retrieved). Returns normally if a result is set.
  void check_result() {
    if (state() != State::kFinished || exception_ != nullptr) [[unlikely]] raise_result();
  }
  // asyncio Future.exception(): the stored exception or nullptr; throws like check_result()
  // for pending and cancelled futures.
  std::exception_ptr exception();
  // Raises InvalidStateError unless pending (and, in debug mode, RuntimeError when called
  // from another thread than the loop's, check_loop_thread). `what` names the caller.
  void check_pending(const char* what) const;
  // In debug mode, raises RuntimeError if called from another thread than the one running
  // the future's loop (EventLoop::check_thread).
  void check_loop_thread(const char* what) const;

  // Completion. Each wakes the awaiting tasks and schedules the done-callbacks.
  // The result is already stored by the typed subclass. Inline for a future that nobody
  // awaits and no other thread can reach (a fire-and-forget task at its end): just the
  // state, and no call (W4: ~20 instructions a task).
  void finish() {
    if (!shared_ && first_waiter_ == nullptr && callbacks_ == nullptr) {
      state_.store(State::kFinished, std::memory_order_release);
      return;
    }
    complete_as(State::kFinished);
  }
  void finish_exception(std::exception_ptr e);
  void finish_cancelled(std::exception_ptr cancelled_error);

  // Done-callbacks: scheduled with call_soon when the future completes (at once, if done).
  uint64_t add_done_callback(DoneCallbackFn fn);
  // Removes every callback registered under `id`; returns how many were removed.
  size_t remove_done_callback(uint64_t id);

  // Awaiting tasks, woken with TaskBase::wake_from_wait() on completion. add_waiter returns
  // false, registering nothing, if the future is already done.
  bool add_waiter(TaskBase* task);
  bool remove_waiter(TaskBase* task);
  // The tasks awaiting this future, in the order they registered (the task dump's
  // "awaited by"). Owning loop only (any thread for a shared future).
  std::vector<TaskBase*> waiters() const;

  // Marks the exception as seen, so that it is not reported as never retrieved.
  void mark_retrieved() { exception_retrieved_ = true; }
  bool exception_retrieved() const { return exception_retrieved_; }

 protected:
  // Called once before deletion when the future finished with an exception nobody
  // retrieved: reports it to the loop's exception handler.
  virtual void report_never_retrieved();
  // Whether the caller's reference is the only one. Acquire: pairs with the release of the
  // other holders' drops, so what they did before is visible. A count of 1 cannot rise
  // under the caller, except through a path to the object that needs no reference (a
  // subclass knows which it has: TaskBase::only_this_thread_reaches).
  bool sole_reference() const { return refs_.load(std::memory_order_acquire) == 1; }
  // For a shared future that no other thread can reach any more: from here on its methods
  // skip the lock, as an unshared future's do.
  void unshare() { shared_ = false; }
  void set_loop(EventLoop* loop) { loop_.store(loop, std::memory_order_release); }
  // A drop that may not be the last: true if it is the last after all (the count read 1).
  bool drop_one_of_several() {
    if (shared_) return refs_.fetch_sub(1, std::memory_order_acq_rel) == 1;
    uint32_t r = refs_.load(std::memory_order_relaxed);
    do {
      if (r == 1) return true;
    } while (!refs_.compare_exchange_weak(r, r - 1, std::memory_order_acq_rel,
                                          std::memory_order_acquire));
    return false;
  }
  // The holder of the last reference deletes the future, unless a pinned awaiter may still
  // need it.
  void release_last() {
    if (!shared_) {
      if (lock_.pins().load(std::memory_order_acquire) != 0) [[unlikely]] {
        return release_last_while_pinned();
      }
      // A reference the loop's thread added without holding one came before the unpin the
      // load above saw (see Awaiter pins): then this holder is not the last after all.
      if (refs_.load(std::memory_order_acquire) != 1) [[unlikely]] return unref();
    }
    destroy();
  }
  void destroy() {
    if (has_exception() && !exception_retrieved_) [[unlikely]] return report_and_destroy();
    delete this;
  }
  // destroy()'s rare half, out of line: with the report's call inline, unref needed a stack
  // frame on every path, set up at its entry or not as LTO's inlining fell (W4 +8
  // instructions a hop when it fell badly).
  [[gnu::cold, gnu::noinline]] void report_and_destroy();

  std::atomic<EventLoop*> loop_;
  std::exception_ptr exception_;  // the error, or the CancelledError when cancelled

 private:
  struct Callback {
    uint64_t id;
    TaskBase* waiter;  // a task to wake, or null for fn
    DoneCallbackFn fn;
    // Where fn runs: the loop that registered it (a shared future completes on whichever
    // loop runs it last, and the registrant's state belongs to the registrant's loop); null:
    // registered from outside any loop, so the future's own loop.
    EventLoop* loop;
  };
  friend class PinnedRelease;
  void complete_as(State s);
  // release_last's pinned half; release_as_owner drops, on the loop's thread, the reference
  // a PinnedRelease carried there, and decide_as_owner is what its last holder does there.
  void release_last_while_pinned();
  // unref's other cases: not the last reference, or a pin held.
  void unref_slow();
  void release_as_owner();
  void decide_as_owner();
  // check_result's throwing half.
  [[noreturn]] void raise_result();
  // Schedules fn on `loop`, or the future's loop if null (thread-safely when called from
  // another thread).
  void post_callback(DoneCallbackFn fn, EventLoop* loop);

  std::atomic<uint32_t> refs_;
  std::atomic<State> state_{State::kPending};
  bool exception_retrieved_ = false;
  bool shared_ = false;

 protected:
  // The spin lock of a shared future; for a plain future, which never locks, the awaiter
  // pins: a count (kPinCount) and kOrphaned. One byte for both: FutureBase has no other
  // spare byte, and one more would cost TaskState<void> a FrameAllocator size class (W9).
  class LockOrPins : public SpinLock {
   public:
    std::atomic<uint8_t>& pins() { return word_; }
  };
  static constexpr uint8_t kPinCount = 0x7f;
  static constexpr uint8_t kOrphaned = 0x80;  // every reference dropped while pinned
  mutable LockOrPins lock_;
  // The first waiter is stored inline: most futures have exactly one awaiting task.
  TaskBase* first_waiter_ = nullptr;
  using Callbacks = std::unique_ptr<std::vector<Callback>, DeleteOutOfLine<std::vector<Callback>>>;
  Callbacks callbacks_;
};

// Where a typed future keeps its value.
template <class T>
class ResultSlot {
 public:
  template <class U>
  void set(U&& v) {
    value_.emplace(std::forward<U>(v));
  }
  T& get() { return *value_; }

 private:
  std::optional<T> value_;
};

template <class T>
class ResultSlot<T&> {
 public:
  void set(T& v) { ptr_ = &v; }
  T& get() { return *ptr_; }

 private:
  T* ptr_ = nullptr;
};

template <>
class ResultSlot<void> {
 public:
  void get() {}
};

}  // namespace internal
}  // namespace weft

#endif  // WEFT_LOOP_FUTURE_BASE_H_
