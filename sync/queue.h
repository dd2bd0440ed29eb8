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
// - Each put counts an unfinished task; task_done() marks one finished (calling it more
//   often than items were put raises InvalidStateError, asyncio's ValueError); join()
//   waits until none is unfinished.
// - shutdown(immediate=false): every later put raises QueueShutDown, gets drain what is left
//   and then raise QueueShutDown; waiting putters and getters are woken and raise
//   QueueShutDown. shutdown(true) also drops the items still queued, counting each as done
//   (which may release join()).
// - maxsize 0 means unbounded; qsize(), empty(), full() and maxsize() as in asyncio.
// - PriorityQueue<T, Less> gives the lowest item first (heapq order); LifoQueue the newest.
//   T may be move-only (std::unique_ptr<X>).
//
// Thread-safety: every method may be called from any thread, including plain threads for the
// *_nowait forms, task_done and shutdown. qsize(), empty() and full() are snapshots when
// other threads use the queue at the same time.
//
// Ownership: the queue owns the items it holds. It must outlive every task waiting in put(),
// get() or join() on it.
#ifndef WEFT_SYNC_QUEUE_H_
#define WEFT_SYNC_QUEUE_H_

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "loop/errors.h"
#include "loop/spin_lock.h"
#include "sync/internal/queue_order.h"
#include "sync/queue_errors.h"

namespace weft {
namespace internal {

// The queue itself; Queue, PriorityQueue and LifoQueue only choose the Order
// (sync/internal/queue_order.h).
template <class T, class Order>
class BasicQueue {
 public:
  using value_type = T;

  // maxsize: the most items the queue holds before put() waits; 0 is unbounded.
  // `order_args` construct the Order (PriorityQueue's comparison).
  template <class... OrderArgs>
  explicit BasicQueue(size_t maxsize, OrderArgs&&... order_args)
      : items_(std::forward<OrderArgs>(order_args)...), maxsize_(maxsize) {}
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  // Number of items in the queue.
  size_t qsize() const {
    std::lock_guard<SpinLock> lock(mu_);
    return items_.size();
  }
  // The bound given at construction (0: unbounded).
  size_t maxsize() const { return maxsize_; }
  bool empty() const { return qsize() == 0; }
  // True when put_nowait would raise QueueFull; never for an unbounded queue.
  bool full() const {
    std::lock_guard<SpinLock> lock(mu_);
    return full_locked();
  }

  // Puts `item` without waiting. Raises QueueShutDown after shutdown(), QueueFull when the
  // queue is full (the item is then dropped with the argument).
  void put_nowait(T item) {
    std::lock_guard<SpinLock> lock(mu_);
    if (shutdown_) throw_shut_down("put_nowait");
    if (full_locked()) throw_full();
    items_.push(std::move(item));
    ++unfinished_;
  }

  // Takes the next item without waiting. Raises QueueEmpty when there is none, or
  // QueueShutDown if the queue is also shut down.
  T get_nowait() {
    std::lock_guard<SpinLock> lock(mu_);
    if (items_.size() == 0) {
      if (shutdown_) throw_shut_down("get_nowait");
      throw_empty();
    }
    return items_.pop();
  }

  // Marks one item that get() returned as processed. Raises InvalidStateError if called
  // more often than items were put.
  void task_done() {
    std::lock_guard<SpinLock> lock(mu_);
    if (unfinished_ == 0) throw_too_many_task_done();
    --unfinished_;
  }

  // See the file comment. Idempotent; a later shutdown(true) still drops the items left.
  void shutdown(bool immediate = false) {
    std::vector<T> dropped;  // destroyed after the lock is released
    {
      std::lock_guard<SpinLock> lock(mu_);
      shutdown_ = true;
      if (immediate) {
        dropped.reserve(items_.size());
        while (items_.size() > 0) {
          dropped.push_back(items_.pop());
          if (unfinished_ > 0) --unfinished_;
        }
      }
    }
  }

 private:
  bool full_locked() const { return maxsize_ != 0 && items_.size() >= maxsize_; }

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
    throw QueueShutDown(std::string(Order::kName) + "::" + what +
                        ": the queue is shut down" +
                        (what[0] == 'g' ? " and empty" : "") +
                        "; nothing more can be put and nothing is left to get");
  }
  [[noreturn]] static void throw_too_many_task_done() {
    throw InvalidStateError(std::string(Order::kName) +
                            "::task_done() called too many times: call it once per item "
                            "that get() returned");
  }

  mutable SpinLock mu_;
  Order items_;
  const size_t maxsize_;
  size_t unfinished_ = 0;
  bool shutdown_ = false;
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
      : internal::BasicQueue<T, internal::PriorityOrder<T, Less>>(
            maxsize, std::move(less)) {}
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
