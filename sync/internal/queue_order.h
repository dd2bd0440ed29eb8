// The storage of the queues (sync/queue.h): where items wait and in which order they leave.
// Internal.
//
// An order keeps items and answers three calls:
//   push(T&&)    a new item arrives;
//   pop() -> T   the next item leaves;
//   unpop(T&&)   an item that was popped comes back, to be the very next one popped (a getter
//                cancelled at the moment it was handed the item gives it back this way).
// FifoOrder and LifoOrder sit on a RingBuffer (no allocation once it has grown to the
// queue's working size, unlike std::deque's blocks); PriorityOrder is a binary min-heap.
// Move-only T works everywhere. Not thread-safe: the queue holds its lock around every call.
#ifndef WEFT_SYNC_INTERNAL_QUEUE_ORDER_H_
#define WEFT_SYNC_INTERNAL_QUEUE_ORDER_H_

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace weft::internal {

// A growable circular buffer of T with both ends open. Capacity is a power of two.
template <class T>
class RingBuffer {
 public:
  RingBuffer() = default;
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;
  ~RingBuffer() {
    clear();
    if (slots_) std::allocator<T>().deallocate(slots_, capacity_);
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void push_back(T&& item) {
    if (size_ == capacity_) grow();
    std::construct_at(slots_ + index(size_), std::move(item));
    ++size_;
  }
  void push_front(T&& item) {
    if (size_ == capacity_) grow();
    const size_t at = (head_ + capacity_ - 1) & (capacity_ - 1);
    std::construct_at(slots_ + at, std::move(item));
    head_ = at;
    ++size_;
  }
  // Precondition: !empty().
  T pop_front() {
    T* slot = slots_ + head_;
    T item(std::move(*slot));
    std::destroy_at(slot);
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
    return item;
  }
  // Precondition: !empty().
  T pop_back() {
    T* slot = slots_ + index(size_ - 1);
    T item(std::move(*slot));
    std::destroy_at(slot);
    --size_;
    return item;
  }
  void clear() {
    while (size_ > 0) std::destroy_at(slots_ + index(--size_));
    head_ = 0;
  }

 private:
  size_t index(size_t i) const { return (head_ + i) & (capacity_ - 1); }
  void grow() {
    const size_t capacity = capacity_ ? capacity_ * 2 : 16;
    T* slots = std::allocator<T>().allocate(capacity);
    for (size_t i = 0; i < size_; ++i) {
      T* from = slots_ + index(i);
      std::construct_at(slots + i, std::move(*from));
      std::destroy_at(from);
    }
    if (slots_) std::allocator<T>().deallocate(slots_, capacity_);
    slots_ = slots;
    capacity_ = capacity;
    head_ = 0;
  }

  T* slots_ = nullptr;
  size_t capacity_ = 0;
  size_t head_ = 0;
  size_t size_ = 0;
};

// First in, first out (Queue).
template <class T>
class FifoOrder {
 public:
  static constexpr const char* kName = "Queue";
  size_t size() const { return items_.size(); }
  void push(T&& item) { items_.push_back(std::move(item)); }
  T pop() { return items_.pop_front(); }
  void unpop(T&& item) { items_.push_front(std::move(item)); }

 private:
  RingBuffer<T> items_;
};

// Last in, first out (LifoQueue).
template <class T>
class LifoOrder {
 public:
  static constexpr const char* kName = "LifoQueue";
  size_t size() const { return items_.size(); }
  void push(T&& item) { items_.push_back(std::move(item)); }
  T pop() { return items_.pop_back(); }
  void unpop(T&& item) { items_.push_back(std::move(item)); }

 private:
  RingBuffer<T> items_;
};

// Lowest first by `Less` (PriorityQueue; asyncio's heapq order). Items that compare equal
// leave in no particular order, as with heapq.
template <class T, class Less = std::less<T>>
class PriorityOrder {
 public:
  static constexpr const char* kName = "PriorityQueue";
  PriorityOrder() = default;
  explicit PriorityOrder(Less less) : greater_{std::move(less)} {}
  size_t size() const { return heap_.size(); }
  void push(T&& item) {
    heap_.push_back(std::move(item));
    std::push_heap(heap_.begin(), heap_.end(), greater_);
  }
  T pop() {
    std::pop_heap(heap_.begin(), heap_.end(), greater_);
    T item(std::move(heap_.back()));
    heap_.pop_back();
    return item;
  }
  // Whatever was popped last is among the lowest: pushing it back makes it next again
  // (or an equal one).
  void unpop(T&& item) { push(std::move(item)); }

 private:
  // std::*_heap build a max-heap; reversing the comparison gives a min-heap.
  struct Greater {
    Less less;
    bool operator()(const T& a, const T& b) const { return less(b, a); }
  };
  std::vector<T> heap_;
  Greater greater_;
};

}  // namespace weft::internal

#endif  // WEFT_SYNC_INTERNAL_QUEUE_ORDER_H_
