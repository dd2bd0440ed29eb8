#include "loop/frame_allocator.h"

#include <atomic>
#include <mutex>

#include "loop/frame_arena.h"

namespace weft::internal {

#if WEFT_FRAME_ALLOCATOR_FREE_LIST

constinit thread_local FrameAllocator::ThreadCache FrameAllocator::t_cache_{};

namespace {

// The depot: per size class, a stack of full batches that threads hand each other.
//
// Why: a block allocated on one loop and freed on another (a spawned task stolen by a
// sibling, a callback sent with call_soon_threadsafe) joins the freeing thread's cache while
// the allocating thread's cache stays empty. Without the depot the freeing thread, once its
// cache was full, gave its blocks back to glibc, whose free of a block from another thread's
// arena takes that arena's lock against the allocating thread's mallocs: W1 spawn_many ran
// at half its one-loop rate on two loops, a quarter of its time in _int_free/_int_malloc and
// in futex wakes from __lll_lock_wake_private. With the depot the blocks go round: the
// freeing thread hands full batches over, the allocating thread takes one when its list is
// empty, one lock per kBatchBlocks blocks.
//
// std::mutex rather than a lock-free stack: a pop would need ABA protection (a tagged
// 16-byte CAS), the lock is taken once per batch, and ThreadSanitizer sees std::mutex, so it
// sees every block that crosses threads here.
//
// Class 0 (8-byte blocks, no room for BatchHead) never goes to the depot.
struct alignas(64) DepotClass {
  std::mutex mu;
  void* top = nullptr;  // the top batch's BatchHead
};

constinit DepotClass g_depot[FrameAllocator::kNumClasses];
// Bytes in the depot; a batch that would take it over kMaxDepotBytes is released.
constinit std::atomic<size_t> g_depot_bytes{0};

// Blocks carved from the arena and then freed for good (past a full cache and a full depot,
// or at a thread's exit): they cannot go to operator delete, so they wait here, per class,
// for the next allocation that finds its cache and the depot empty. `top` is written under
// `mu`; the slow path reads it without the lock only to skip an empty list.
struct alignas(64) ArenaFreeClass {
  std::mutex mu;
  std::atomic<void*> top{nullptr};
};

constinit ArenaFreeClass g_arena_free[FrameAllocator::kNumClasses];
constinit std::atomic<size_t> g_arena_free_bytes{0};

}  // namespace

void* FrameAllocator::allocate_slow(size_t c) {
  ThreadCache& cache = t_cache_;
  // The spill batch first: no lock, and its blocks were just freed by this thread.
  if (FreeBlock* b = cache.spill[c]) {
    cache.heads[c] = b->next;
    cache.cached_bytes += (cache.spill_counts[c] - 1) * class_size(c);
    cache.spill[c] = nullptr;
    cache.spill_counts[c] = 0;
    return b;
  }
  // Not once the thread's exit hook has run: blocks put in its lists then would never be
  // freed.
  if (c > 0 && !cache.exiting && g_depot_bytes.load(std::memory_order_relaxed) != 0) {
    BatchHead* batch;
    {
      std::lock_guard<std::mutex> lock(g_depot[c].mu);
      batch = static_cast<BatchHead*>(g_depot[c].top);
      if (batch) g_depot[c].top = batch->next_batch;
    }
    if (batch) {
      g_depot_bytes.fetch_sub(kBatchBlocks * class_size(c), std::memory_order_relaxed);
      // The exit hook must give the batch's blocks back if the thread ends.
      if (!cache.registered) register_thread();
      // The first block serves this allocation; the other kBatchBlocks - 1 become the list.
      cache.heads[c] = batch->next;
      cache.cached_bytes += (kBatchBlocks - 1) * class_size(c);
      return batch;
    }
  }
  if (cache.exiting) return ::operator new(class_size(c));
  // Blocks carved earlier and freed for good: take up to a batch, as from the depot.
  ArenaFreeClass& freed = g_arena_free[c];
  if (freed.top.load(std::memory_order_relaxed) != nullptr) {
    FreeBlock* first = nullptr;
    size_t taken = 0;
    {
      std::lock_guard<std::mutex> lock(freed.mu);
      first = static_cast<FreeBlock*>(freed.top.load(std::memory_order_relaxed));
      if (first) {
        FreeBlock* last = first;
        taken = 1;
        while (taken < kBatchBlocks && last->next) {
          last = last->next;
          ++taken;
        }
        freed.top.store(last->next, std::memory_order_relaxed);
        last->next = nullptr;
      }
    }
    if (first) {
      g_arena_free_bytes.fetch_sub(taken * class_size(c), std::memory_order_relaxed);
      if (!cache.registered) register_thread();
      cache.heads[c] = first->next;
      cache.cached_bytes += (taken - 1) * class_size(c);
      return first;
    }
  }
  // A fresh block from the arena.
  const size_t stride = arena_stride(c);
  if (static_cast<size_t>(cache.arena_end - cache.arena_next) < stride) {
    // The rest of the chunk (less than one block of this class) is left unused.
    char* begin;
    char* end;
    if (!FrameArena::take_chunk(&begin, &end)) return ::operator new(class_size(c));
    // The exit hook gives back what is left of the chunk.
    if (!cache.registered) register_thread();
    cache.arena_next = begin;
    cache.arena_end = end;
  }
  void* block = cache.arena_next;
  cache.arena_next += stride;
  return block;
}

void FrameAllocator::release_chain(FreeBlock* head, size_t c) noexcept {
  FreeBlock* arena_head = nullptr;
  FreeBlock* arena_tail = nullptr;
  size_t arena_blocks = 0;
  while (FreeBlock* b = head) {
    head = b->next;
    if (FrameArena::contains(b)) {
      b->next = arena_head;
      arena_head = b;
      if (!arena_tail) arena_tail = b;
      ++arena_blocks;
    } else {
      delete_sized(b, class_size(c));
    }
  }
  if (!arena_head) return;
  g_arena_free_bytes.fetch_add(arena_blocks * class_size(c), std::memory_order_relaxed);
  ArenaFreeClass& freed = g_arena_free[c];
  std::lock_guard<std::mutex> lock(freed.mu);
  arena_tail->next = static_cast<FreeBlock*>(freed.top.load(std::memory_order_relaxed));
  freed.top.store(arena_head, std::memory_order_relaxed);
}

void FrameAllocator::deallocate_slow(void* p, size_t c) noexcept {
  ThreadCache& cache = t_cache_;
  // Not once the thread's exit hook has run: it has emptied the lists and nothing more is
  // kept.
  if (c > 0 && !cache.exiting) {
    // The batch is built from the blocks freed now, which this thread has just touched:
    // taking blocks off its list instead would walk cold memory (measured: most of the time
    // of a spill went to that walk's cache misses).
    auto* b = static_cast<FreeBlock*>(p);
    b->next = cache.spill[c];
    cache.spill[c] = b;
    if (++cache.spill_counts[c] < kBatchBlocks) return;
    auto* batch = static_cast<BatchHead*>(b);
    cache.spill[c] = nullptr;
    cache.spill_counts[c] = 0;
    const size_t batch_bytes = kBatchBlocks * class_size(c);
    if (g_depot_bytes.fetch_add(batch_bytes, std::memory_order_relaxed) + batch_bytes <=
        kMaxDepotBytes) {
      std::lock_guard<std::mutex> lock(g_depot[c].mu);
      batch->next_batch = static_cast<BatchHead*>(g_depot[c].top);
      g_depot[c].top = batch;
      return;
    }
    g_depot_bytes.fetch_sub(batch_bytes, std::memory_order_relaxed);
    release_chain(batch, c);
    return;
  }
  auto* b = static_cast<FreeBlock*>(p);
  b->next = nullptr;
  release_chain(b, c);
}

// Empties the thread's cache when the thread exits, and gives back the uncarved rest of its
// arena chunk. From then on the cache counts as full, so blocks freed later on this thread
// (by other thread-local destructors) are released one by one.
struct FrameAllocatorThreadExit {
  ~FrameAllocatorThreadExit() {
    FrameAllocator::ThreadCache& cache = FrameAllocator::t_cache_;
    for (size_t c = 0; c < FrameAllocator::kNumClasses; ++c) {
      FrameAllocator::release_chain(cache.heads[c], c);
      cache.heads[c] = nullptr;
      FrameAllocator::release_chain(cache.spill[c], c);
      cache.spill[c] = nullptr;
      cache.spill_counts[c] = 0;
    }
    if (cache.arena_next) FrameArena::give_back_leftover(cache.arena_next, cache.arena_end);
    cache.arena_next = cache.arena_end = nullptr;
    cache.cached_bytes = FrameAllocator::kMaxCachedBytes + 1;
    cache.exiting = true;
  }
};

void FrameAllocator::register_thread() {
  // A thread_local with a destructor: constructing it registers the destructor with the
  // thread's exit.
  static thread_local FrameAllocatorThreadExit exit_hook;
  (void)&exit_hook;
  t_cache_.registered = true;
}

size_t FrameAllocator::cached_bytes_for_testing() {
  return t_cache_.exiting ? 0 : t_cache_.cached_bytes;
}

size_t FrameAllocator::depot_bytes_for_testing() {
  return g_depot_bytes.load(std::memory_order_relaxed);
}

size_t FrameAllocator::arena_free_bytes_for_testing() {
  return g_arena_free_bytes.load(std::memory_order_relaxed);
}

#else

size_t FrameAllocator::cached_bytes_for_testing() { return 0; }
size_t FrameAllocator::depot_bytes_for_testing() { return 0; }
size_t FrameAllocator::arena_free_bytes_for_testing() { return 0; }

#endif

}  // namespace weft::internal
