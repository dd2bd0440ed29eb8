// Queue<T>, PriorityQueue<T>, LifoQueue<T>: asyncio's queues, safe to share between tasks on
// different loops of a Runtime and with plain threads.
//
//   weft::Queue<Job> jobs(/*maxsize=*/100);          // 0: unbounded
//   // producer task (any loop)                      // consumer task (any loop)
//   co_await jobs.put(make_job());                   Job j = co_await jobs.get();
//                                                    process(j);
//   co_await jobs.join();  // every item done        jobs.task_done();
//
// The API and semantics are asyncio 3.13's:
// - put(item) waits while the queue is full; get() waits while it is empty. put_nowait /
//   get_nowait never wait: they raise QueueFull / QueueEmpty instead (sync/queue_errors.h).
//   Neither put() nor get() suspends when it need not, and then a pending cancellation is not
//   raised there (asyncio does not yield either).
// - Each put counts an unfinished task; task_done() marks one finished (calling it more
//   often than items were put raises ValueError); join() waits until none is unfinished.
// - shutdown(immediate=false): every later put raises QueueShutDown, gets drain what is left
//   and then raise QueueShutDown; waiting putters and getters are woken and raise
//   QueueShutDown. shutdown(true) also drops the items still queued, counting each as done
//   (which may release join()).
// - maxsize 0 means unbounded; qsize(), empty(), full() and maxsize() as in asyncio.
// - PriorityQueue<T, Less> gives the lowest item first (heapq order); LifoQueue the newest.
//   T may be move-only (std::unique_ptr<X>).
//
// Waiting. Waiters may be tasks on any loop; they are served first come, first served
// (sync/internal/waiter_list.h). A put finding a getter waiting hands the item to it
// directly (the item never enters the storage). A get that frees room grants it to the
// first waiting putter: the slot is reserved for that putter, which puts its item when it
// resumes, so full() stays true and put_nowait() raises QueueFull until it has.
//
// Cancellation never loses or duplicates an item:
// - a get() cancelled while it waits takes nothing; one cancelled after it was handed an item
//   but before it resumed gives the item back to the front of the queue (to the next waiting
//   getter if there is one), as if it had never been taken. That may leave the queue one over
//   maxsize for a while; the item is never dropped. After shutdown(true) it is dropped and
//   counted done, like the items shutdown dropped.
// - a put() that raises CancelledError did not put its item (asyncio's guarantee): one
//   cancelled after being granted a slot passes the slot to the next waiting putter.
//
// An item already handed to a waiting getter when shutdown(true) comes is that getter's:
// its get() returns it (in asyncio the woken getter would find the queue drained).
//
// Thread-safety: every method may be called from any thread; the *_nowait forms, task_done,
// shutdown and the observers also from plain threads. qsize(), empty() and full() are
// snapshots when other threads use the queue at the same time.
//
// Ownership: the queue owns the items it holds. It must outlive every task waiting in put(),
// get() or join() on it.
#ifndef WEFT_SYNC_QUEUE_H_
#define WEFT_SYNC_QUEUE_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loop/errors.h"
#include "loop/task_base.h"
#include "sync/errors.h"
#include "sync/internal/queue_order.h"
#include "sync/internal/waiter_list.h"
#include "sync/queue_errors.h"

namespace weft {
namespace internal {

// The Waiter of a put or get awaiter, made only when it has to wait: a put or get that does
// not suspend never builds (nor destroys) one. Built in place, never moved.
template <class Awaiter>
class QueueWaiter final : public Waiter {
 public:
  explicit QueueWaiter(Awaiter& awaiter) : awaiter_(&awaiter) {}
  static Awaiter& awaiter_of(Waiter* w) { return *static_cast<QueueWaiter*>(w)->awaiter_; }

 private:
  Awaiter* awaiter_;
};

// The queue itself; Queue, PriorityQueue and LifoQueue only choose the Order
// (sync/internal/queue_order.h).
template <class T, class Order>
class BasicQueue {
 public:
  using value_type = T;
  class GetAwaiter;
  class PutAwaiter;
  class JoinAwaiter;

  // maxsize: the most items the queue holds before put() waits; 0 is unbounded.
  // `order_args` construct the Order (PriorityQueue's comparison).
  template <class... OrderArgs>
  explicit BasicQueue(size_t maxsize, OrderArgs&&... order_args)
      : maxsize_(maxsize), items_(std::forward<OrderArgs>(order_args)...) {}
  // Debug builds check that no task waits in, or was granted and not yet resumed from, a
  // put(), get() or join() of this queue (their awaiters would touch it after it is gone).
  ~BasicQueue() {
    assert(getters_.empty() && putters_.empty() && joiners_.empty() && reserved_ == 0 &&
           "weft::Queue destroyed while tasks wait on it");
  }
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  // Number of items in the queue.
  size_t qsize() const {
    WaitGuard guard(mu_);
    return items_.size();
  }
  // The bound given at construction (0: unbounded).
  size_t maxsize() const { return maxsize_; }
  bool empty() const { return qsize() == 0; }
  // True when put_nowait() would raise QueueFull: maxsize items are queued or promised to
  // putters that were granted room. Never for an unbounded queue.
  bool full() const {
    WaitGuard guard(mu_);
    return !can_put_locked();
  }

  // Puts `item` without waiting. Raises QueueShutDown after shutdown(), QueueFull when the
  // queue is full (the item is then destroyed with the argument).
  void put_nowait(T item) {
    Wakeups wakeups;
    WaitGuard guard(mu_);
    if (shutdown_) throw_shut_down("put_nowait");
    if (!can_put_locked()) throw_full();
    put_locked(std::move(item), wakeups);
  }

  // Takes the next item without waiting. Raises QueueEmpty when there is none, or
  // QueueShutDown if the queue is also shut down.
  T get_nowait() {
    Wakeups wakeups;
    WaitGuard guard(mu_);
    if (items_.size() == 0) {
      if (shutdown_) throw_shut_down("get_nowait");
      throw_empty();
    }
    return take_locked(wakeups);
  }

  // Waits for room, then puts `item`. Raises QueueShutDown if the queue is or gets shut
  // down before the item is in (the item is then destroyed), CancelledError if the task is
  // cancelled while it waits (the item was not put).
  [[nodiscard]] PutAwaiter put(T item) { return PutAwaiter(*this, std::move(item)); }
  // Waits for an item and returns it. Raises QueueShutDown once the queue is shut down and
  // empty, CancelledError if the task is cancelled while it waits (nothing was taken).
  [[nodiscard]] GetAwaiter get() { return GetAwaiter(*this); }
  // Waits until task_done() was called for every item put.
  [[nodiscard]] JoinAwaiter join() { return JoinAwaiter(*this); }

  // Marks one item that get() returned as processed. Raises ValueError (sync/errors.h) if
  // called more often than items were put.
  void task_done() {
    Wakeups wakeups;
    WaitGuard guard(mu_);
    if (unfinished_ == 0) throw_too_many_task_done();
    if (--unfinished_ == 0) grant_all_locked(joiners_, wakeups);
  }

  // See the file comment. Idempotent; a later shutdown(true) still drops the items left.
  void shutdown(bool immediate = false) {
    std::vector<T> dropped;  // destroyed after the lock is released, and after the wakes
    Wakeups wakeups;
    WaitGuard guard(mu_);
    shutdown_ = true;
    if (immediate) {
      immediate_ = true;
      dropped.reserve(items_.size());
      while (items_.size() > 0) {
        dropped.push_back(items_.pop());
        if (unfinished_ > 0) --unfinished_;
      }
      if (unfinished_ == 0) grant_all_locked(joiners_, wakeups);
    }
    // Woken without an item / a slot, they raise QueueShutDown.
    grant_all_locked(getters_, wakeups);
    grant_all_locked(putters_, wakeups);
  }

 private:
  // Room in the storage for one more item, counting the slots reserved for woken putters.
  bool room_locked() const { return maxsize_ == 0 || items_.size() + reserved_ < maxsize_; }
  // A waiting getter takes an item without it occupying room.
  bool can_put_locked() const { return !getters_.empty() || room_locked(); }

  // A put that was allowed: to the first waiting getter, else into the storage.
  void put_locked(T&& item, Wakeups& wakeups) {
    ++unfinished_;
    if (Waiter* w = getters_.grant_front()) {
      QueueWaiter<GetAwaiter>::awaiter_of(w).item_.emplace(std::move(item));
      wakeups.add(*w);
      // Nothing entered the storage: if that put used a reserved slot, the room is free again.
      grant_room_locked(wakeups);
    } else {
      items_.push(std::move(item));
    }
  }

  // Precondition: the storage is not empty.
  T take_locked(Wakeups& wakeups) {
    T item = items_.pop();
    grant_room_locked(wakeups);
    return item;
  }

  // Reserves the room there is for the first waiting putters and wakes them.
  void grant_room_locked(Wakeups& wakeups) {
    while (!putters_.empty() && room_locked()) {
      Waiter* w = putters_.grant_front();
      QueueWaiter<PutAwaiter>::awaiter_of(w).has_slot_ = true;
      ++reserved_;
      wakeups.add(*w);
    }
  }

  static void grant_all_locked(WaiterList& list, Wakeups& wakeups) {
    while (Waiter* w = list.grant_front()) wakeups.add(*w);
  }

  // A getter that was handed `item` was cancelled before it could take it.
  void give_back(T&& item) {
    std::optional<T> dropped;  // destroyed after the lock is released
    Wakeups wakeups;
    WaitGuard guard(mu_);
    if (immediate_) {
      // shutdown(true) came meanwhile: the item goes the way of the ones it dropped.
      dropped.emplace(std::move(item));
      if (unfinished_ > 0 && --unfinished_ == 0) grant_all_locked(joiners_, wakeups);
    } else if (Waiter* w = getters_.grant_front()) {
      QueueWaiter<GetAwaiter>::awaiter_of(w).item_.emplace(std::move(item));
      wakeups.add(*w);
    } else {
      items_.unpop(std::move(item));
    }
  }

  // A putter that was granted a slot was cancelled before it could use it.
  void release_slot() {
    Wakeups wakeups;
    WaitGuard guard(mu_);
    --reserved_;
    grant_room_locked(wakeups);
  }

  [[noreturn]] void throw_full() const {
    throw QueueFull(std::string(Order::kName) + "::put_nowait: the queue is full (maxsize " +
                    std::to_string(maxsize_) +
                    "); co_await put() to wait for room, or check full() first");
  }
  [[noreturn]] static void throw_empty() {
    throw QueueEmpty(std::string(Order::kName) +
                     "::get_nowait: the queue is empty; co_await get() to wait for an item, "
                     "or check empty() first");
  }
  [[noreturn]] static void throw_shut_down(const char* what) {
    const bool is_get = what[0] == 'g';
    throw QueueShutDown(std::string(Order::kName) + "::" + what + ": the queue is shut down" +
                        (is_get ? " and empty: nothing is left to get"
                                : ": nothing more can be put"));
  }
  [[noreturn]] static void throw_too_many_task_done() {
    throw ValueError(std::string(Order::kName) +
                     "::task_done() called too many times: call it once per item that get() "
                     "returned");
  }

  // Layout: what every put and get writes (the lock, the counters, the storage's indices)
  // comes first, together (64 bytes for the ring orders); the waiter lists, which the fast
  // paths only read, after it. No alignas: a queue often lives in a coroutine frame, which
  // does not honour over-alignment.
  mutable WaitLock mu_;
  // Everything below is guarded by mu_.
  bool shutdown_ = false;
  bool immediate_ = false;
  const size_t maxsize_;
  size_t reserved_ = 0;  // slots granted to woken putters that have not put yet
  size_t unfinished_ = 0;
  Order items_;
  WaiterList getters_{mu_};
  WaiterList putters_{mu_};
  WaiterList joiners_{mu_};
};

// co_await queue.get(). Fast path (an item is there, or the queue is shut down and empty)
// in await_ready: one lock round trip, no suspension.
template <class T, class Order>
class BasicQueue<T, Order>::GetAwaiter {
 public:
  explicit GetAwaiter(BasicQueue& queue) : queue_(&queue) {}
  // Only before it is awaited.
  GetAwaiter(GetAwaiter&& other) noexcept : queue_(other.queue_), item_(std::move(other.item_)) {}
  ~GetAwaiter() {
    // Handed an item, never resumed to take it (cancelled, or the frame was destroyed).
    if (waiter_ && waiter_->withdraw() && item_) queue_->give_back(std::move(*item_));
  }

  bool await_ready() {
    Wakeups wakeups;
    WaitGuard guard(queue_->mu_);
    return try_take_locked(wakeups);
  }
  bool await_suspend(TaskBase& task) {
    Wakeups wakeups;
    WaitGuard guard(queue_->mu_);
    if (try_take_locked(wakeups)) return false;
    waiter_.emplace(*this).enqueue(queue_->getters_, task);
    return true;
  }
  T await_resume() {
    if (waiter_) waiter_->claim();  // raises CancelledError if cancelled while waiting
    if (!item_) throw_shut_down("get");  // woken by shutdown()
    return std::move(*item_);
  }

 private:
  friend class BasicQueue;
  // True when the get is over: an item was taken, or there is none and never will be.
  bool try_take_locked(Wakeups& wakeups) {
    if (queue_->items_.size() > 0) {
      item_.emplace(queue_->take_locked(wakeups));
      return true;
    }
    return queue_->shutdown_;
  }

  BasicQueue* queue_;
  std::optional<T> item_;  // the item, once taken or handed over
  std::optional<QueueWaiter<GetAwaiter>> waiter_;  // once it waits
};

// co_await queue.put(item).
template <class T, class Order>
class BasicQueue<T, Order>::PutAwaiter {
 public:
  PutAwaiter(BasicQueue& queue, T&& item) : queue_(&queue), item_(std::move(item)) {}
  // Only before it is awaited.
  PutAwaiter(PutAwaiter&& other) noexcept : queue_(other.queue_), item_(std::move(other.item_)) {}
  ~PutAwaiter() {
    // Granted a slot, never resumed to use it: the next putter may have it.
    if (waiter_ && waiter_->withdraw() && has_slot_) queue_->release_slot();
  }

  bool await_ready() {
    Wakeups wakeups;
    WaitGuard guard(queue_->mu_);
    return try_put_locked(wakeups);
  }
  bool await_suspend(TaskBase& task) {
    Wakeups wakeups;
    WaitGuard guard(queue_->mu_);
    if (try_put_locked(wakeups)) return false;
    waiter_.emplace(*this).enqueue(queue_->putters_, task);
    return true;
  }
  void await_resume() {
    if (waiter_) waiter_->claim();  // raises CancelledError if cancelled while waiting
    if (state_ == kWaited) {
      // Woken: granted a slot, or by shutdown().
      Wakeups wakeups;
      WaitGuard guard(queue_->mu_);
      if (has_slot_) {
        has_slot_ = false;
        --queue_->reserved_;
      }
      if (queue_->shutdown_) {
        state_ = kShutDown;
      } else {
        queue_->put_locked(std::move(item_), wakeups);
        state_ = kPut;
      }
    }
    if (state_ == kShutDown) throw_shut_down("put");
  }

 private:
  friend class BasicQueue;
  enum PutState : uint8_t { kWaited, kPut, kShutDown };
  // True when the put is over: the item is in (or with a getter), or the queue is shut down.
  bool try_put_locked(Wakeups& wakeups) {
    if (queue_->shutdown_) {
      state_ = kShutDown;
      return true;
    }
    if (!queue_->can_put_locked()) return false;
    queue_->put_locked(std::move(item_), wakeups);
    state_ = kPut;
    return true;
  }

  BasicQueue* queue_;
  T item_;
  PutState state_ = kWaited;
  bool has_slot_ = false;  // set by the getter that granted this putter room
  std::optional<QueueWaiter<PutAwaiter>> waiter_;  // once it waits
};

// co_await queue.join().
template <class T, class Order>
class BasicQueue<T, Order>::JoinAwaiter final : public Waiter {
 public:
  explicit JoinAwaiter(BasicQueue& queue) : queue_(&queue) {}
  JoinAwaiter(JoinAwaiter&& other) noexcept : Waiter(std::move(other)), queue_(other.queue_) {}
  // Nothing to hand back: a finished join is not a resource.
  ~JoinAwaiter() { withdraw(); }

  bool await_ready() {
    WaitGuard guard(queue_->mu_);
    return queue_->unfinished_ == 0;
  }
  bool await_suspend(TaskBase& task) {
    WaitGuard guard(queue_->mu_);
    if (queue_->unfinished_ == 0) return false;
    enqueue(queue_->joiners_, task);
    return true;
  }
  void await_resume() { claim(); }

 private:
  BasicQueue* queue_;
};

}  // namespace internal

// First in, first out.
template <class T>
class Queue : public internal::BasicQueue<T, internal::FifoOrder<T>> {
 public:
  explicit Queue(size_t maxsize = 0) : internal::BasicQueue<T, internal::FifoOrder<T>>(maxsize) {}
};

// Lowest first by `Less` (entries are typically std::pair<priority, data>).
template <class T, class Less = std::less<T>>
class PriorityQueue : public internal::BasicQueue<T, internal::PriorityOrder<T, Less>> {
 public:
  explicit PriorityQueue(size_t maxsize = 0, Less less = Less())
      : internal::BasicQueue<T, internal::PriorityOrder<T, Less>>(maxsize, std::move(less)) {}
};

// Last in, first out.
template <class T>
class LifoQueue : public internal::BasicQueue<T, internal::LifoOrder<T>> {
 public:
  explicit LifoQueue(size_t maxsize = 0)
      : internal::BasicQueue<T, internal::LifoOrder<T>>(maxsize) {}
};

}  // namespace weft

#endif  // WEFT_SYNC_QUEUE_H_
