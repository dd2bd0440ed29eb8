// FrameAllocator: where the loop's hot, short-lived objects get their memory: coroutine
// frames (Coro's promise), task and future states (FutureBase) and callback nodes
// (CallbackNode). A class takes part by deriving from UsesFrameAllocator, which gives it
// class-level operator new/delete.
//
// What it is: a cache of free blocks per thread, in size classes 16 bytes apart up to 1 KiB,
// in front of FrameArena (frame_arena.h: one reserved range carved by a bump pointer) and,
// once the arena is used up, plain operator new. The class sizes are 16k + 8 bytes: exactly
// what glibc's malloc can hold in a 16k + 16 byte chunk, and a block takes 16k + 16 bytes
// in the arena, so rounding a request up to its class costs no memory over plain new. A
// block freed on any thread goes to that thread's cache (blocks of a class are
// interchangeable), so a frame created on one loop and destroyed on another is fine. Each
// thread caches at most kMaxCachedBytes; sizes above 1 KiB go straight back to operator
// delete. A thread's cache is released when the thread exits: blocks from the arena to the
// arena's free list of their class (they never go back to malloc), the others to operator
// delete.
//
// The depot (frame_allocator.cc), for blocks that cross threads: when one loop allocates and
// another frees (a spawned task stolen by a sibling, call_soon_threadsafe), the freeing
// thread's cache fills and the allocating thread's stays empty. A free that finds the cache
// full goes into a batch of kBatchBlocks blocks of its class; a full batch goes to a shared
// per-class stack (one lock per batch), up to kMaxDepotBytes over all classes, beyond which
// blocks are released (to the arena's free lists, or operator delete). An allocation that
// finds its list empty takes a batch from there before it looks at the arena. Measured with
// bench:workloads (opt, 2 loops), the same tree with and without the depot, 5 alternating
// runs each on the idle VM: W1 spawn_many median 1.17 -> 3.98 M tasks/s (without it:
// glibc's arena lock between the loops, _int_free, _int_malloc and futex wakes in the
// profile); W1r spawn_many_remote 0.94 -> 1.42 M/s; W9 unchanged (395 bytes), the blocks
// being the same.
//
// Why this one (bench/README.md has the whole study and how to rerun it). Same code, three
// allocators; opt build on the shared 2-core VM; ns = median over 3 interleaved rounds of the
// median of 5 repetitions (noisy: the machine is shared), Ir = instructions per operation
// from callgrind (deterministic):
//
//                                plain new (glibc)   oneTBB scalable_malloc   this free list
//   call_soon + run              31 ns / 345 Ir      34 ns / 340 Ir           23 ns / 157 Ir
//   create_task + await          100 ns / 1151 Ir    106 ns / 1244 Ir         95 ns / 886 Ir
//   inline co_await Coro<int>    22 ns / 295 Ir      28 ns / 352 Ir           12 ns / 164 Ir
//   sleep(0)                     12 ns / 184 Ir      13 ns / 184 Ir           14 ns / 184 Ir
//   call_soon_threadsafe         166 ns              113 ns                   157 ns
//   W9 bytes per idle task       393                 434                      393
//
// (sleep(0) does not allocate: the differences are noise.) glibc's own per-thread cache
// (tcache) holds only 7 blocks per size, so a burst of callbacks or tasks falls through to
// its arena code; oneTBB pays a call into a shared library and its own bookkeeping on every
// operation, and its size classes are coarser (168-byte objects take 192); the free list is
// a thread-local pop/push inlined at the call site and, its classes matching glibc's chunks,
// costs no memory. oneTBB does better when one thread only allocates and another only frees
// (call_soon_threadsafe: its remote-free lists beat glibc's locked arena free; the free list
// cannot help there, the producer's cache stays empty), but it is not instrumented for
// ThreadSanitizer, which then reports false races on blocks reused across threads (seen in
// frame_allocator_test with --define=weft_frame_allocator=tbb); with the free list over
// malloc, TSan sees every hand-off.
//
// Sanitizers: under AddressSanitizer the cache is off and every block goes to operator new,
// so that use-after-free and double-free are still reported. ThreadSanitizer keeps the cache
// (it is thread-local; a block handed between threads is ordered by the reference counts
// that decide when it is freed).
//
// Build-time choice, for rerunning the study: --define=weft_frame_allocator=new (plain
// operator new) or =tbb (oneTBB's scalable_malloc); see loop/BUILD.
//
// Thread-safety: any thread.
#ifndef WEFT_LOOP_FRAME_ALLOCATOR_H_
#define WEFT_LOOP_FRAME_ALLOCATOR_H_

#include <cstddef>
#include <cstdint>
#include <new>

#if defined(WEFT_FRAME_ALLOCATOR_TBB)
#include <oneapi/tbb/scalable_allocator.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_FRAME_ALLOCATOR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_FRAME_ALLOCATOR_ASAN 1
#endif
#endif

#if !defined(WEFT_FRAME_ALLOCATOR_NEW) && !defined(WEFT_FRAME_ALLOCATOR_TBB) && \
    !defined(WEFT_FRAME_ALLOCATOR_ASAN)
#define WEFT_FRAME_ALLOCATOR_FREE_LIST 1
#endif

namespace weft::internal {

class FrameAllocator {
 public:
  // Size classes: class c holds sizes in (16c - 8, 16c + 8], up to kMaxSize.
  static constexpr size_t kGranule = 16;
  static constexpr size_t kMaxSize = 1024 + 8;
  static constexpr size_t kNumClasses = kMaxSize / kGranule + 1;
  // The most a thread keeps in its cache.
  static constexpr size_t kMaxCachedBytes = size_t{2} << 20;
  // Blocks move between a thread's cache and the depot this many at a time.
  static constexpr uint32_t kBatchBlocks = 32;
  // The most the depot holds, over all classes.
  static constexpr size_t kMaxDepotBytes = size_t{16} << 20;

  // Never returns nullptr: throws std::bad_alloc.
  static void* allocate(size_t size);
  // `size` must be the size passed to allocate().
  static void deallocate(void* p, size_t size) noexcept;

  // Bytes in the calling thread's cache, in the depot, and in the arena's free lists (for
  // tests).
  static size_t cached_bytes_for_testing();
  static size_t depot_bytes_for_testing();
  static size_t arena_free_bytes_for_testing();

 private:
#if WEFT_FRAME_ALLOCATOR_FREE_LIST
  struct FreeBlock {
    FreeBlock* next;
  };
  // The first block of a batch in the depot (frame_allocator.cc): kBatchBlocks blocks chained
  // through `next`, and the link to the depot's next batch in the first block's second word.
  struct BatchHead : FreeBlock {
    BatchHead* next_batch;
  };
  struct ThreadCache {
    FreeBlock* heads[kNumClasses];
    // Per class, the batch being filled for the depot by frees that found the cache full,
    // and its length (below kBatchBlocks). Not counted in cached_bytes.
    FreeBlock* spill[kNumClasses];
    uint32_t spill_counts[kNumClasses];
    // Bytes held in heads. May go a batch over kMaxCachedBytes when a batch is taken in; set
    // above it for good when the thread exits, so that the fast path caches nothing more.
    size_t cached_bytes;
    // The part of this thread's FrameArena chunk not carved yet (frame_arena.h).
    char* arena_next;
    char* arena_end;
    // Whether the thread's exit hook is installed, and whether it has run (from then on the
    // slow paths keep nothing either: blocks kept now would never be freed).
    bool registered;
    bool exiting;
  };
  // Trivially constructed and destroyed: access is a plain %fs-relative load, no TLS guard.
  static constinit thread_local ThreadCache t_cache_;

  static size_t class_of(size_t size) { return (size + 7) / kGranule; }
  static size_t class_size(size_t c) { return c * kGranule + 8; }
  // The slow paths, out of line. allocate_slow: the thread's list for class c is empty;
  // takes its spill batch, else a batch from the depot, else blocks the arena's free list
  // holds, else a block carved from the arena, else a block from operator new.
  // deallocate_slow: the thread's cache is full; adds `p` to the class's spill batch, which
  // goes to the depot when full (or is released, the depot being full too).
  static void* allocate_slow(size_t c);
  static void deallocate_slow(void* p, size_t c) noexcept;
  // Frees a chain of blocks of class c for good: blocks carved from the arena go to its
  // free list for class c, others to operator delete.
  static void release_chain(FreeBlock* head, size_t c) noexcept;
  // The bytes a block of class c takes in the arena: class_size(c) rounded up to 16, so
  // that every block carved there keeps operator new's alignment.
  static size_t arena_stride(size_t c) { return class_size(c) + 8; }
  // Installs the hook that empties the cache at thread exit.
  static void register_thread();
  friend struct FrameAllocatorThreadExit;
#endif
};

// Gives a class operator new/delete from FrameAllocator. The class (or, with a virtual
// destructor, each class deleted through it) must be deleted with its own size, which C++
// guarantees for sized class-level operator delete.
struct UsesFrameAllocator {
  [[gnu::always_inline]] static void* operator new(size_t size) {
    return FrameAllocator::allocate(size);
  }
  [[gnu::always_inline]] static void operator delete(void* p, size_t size) noexcept {
    FrameAllocator::deallocate(p, size);
  }
};

// operator delete with the size when the compiler declares it (clang 14 does so only with
// -fsized-deallocation).
inline void delete_sized(void* p, [[maybe_unused]] size_t size) noexcept {
#if defined(__cpp_sized_deallocation)
  ::operator delete(p, size);
#else
  ::operator delete(p);
#endif
}

#if WEFT_FRAME_ALLOCATOR_FREE_LIST

// Forced inline (both): with the size a constant the class is folded away. Left to the
// compiler, a coroutine frame's delete was a call that computed the class: 31 instructions a
// frame instead of 9 (W4).
[[gnu::always_inline]] inline void* FrameAllocator::allocate(size_t size) {
  size_t c = class_of(size);
  if (c < kNumClasses) {
    ThreadCache& cache = t_cache_;
    if (FreeBlock* b = cache.heads[c]) [[likely]] {
      FreeBlock* next = b->next;
      cache.heads[c] = next;
      cache.cached_bytes -= class_size(c);
      // The next block's first line, for writing, one allocation ahead (null is harmless: a
      // prefetch never faults). A loop that spawns while a sibling runs and frees its tasks
      // gets its blocks back from that sibling's core, and the pop that reads a block's
      // link waited for the line: W1 (2 loops) medians of 12 alternating runs 7.9 -> 9.9 M
      // tasks/s. Prefetching the whole block did more for W1 (11.1 M) but cost W5 and W10
      // 2-4%, whose blocks are already in this core's cache; one line costs them nothing
      // measurable (W4 +2 instructions a hop).
      __builtin_prefetch(next, 1, 3);
      return b;
    }
    return allocate_slow(c);
  }
  return ::operator new(size);
}

[[gnu::always_inline]] inline void FrameAllocator::deallocate(void* p, size_t size) noexcept {
  size_t c = class_of(size);
  if (c < kNumClasses) {
    ThreadCache& cache = t_cache_;
    size_t bytes = class_size(c);
    if (cache.cached_bytes + bytes <= kMaxCachedBytes) [[likely]] {
      if (!cache.registered) [[unlikely]] register_thread();
      auto* b = static_cast<FreeBlock*>(p);
      b->next = cache.heads[c];
      cache.heads[c] = b;
      cache.cached_bytes += bytes;
      return;
    }
    deallocate_slow(p, c);
    return;
  }
  delete_sized(p, size);
}

#elif defined(WEFT_FRAME_ALLOCATOR_TBB)

// scalable_malloc aligns blocks of some sizes (8, 24, 40, ...) to 8 bytes only; operator new
// must give __STDCPP_DEFAULT_NEW_ALIGNMENT__.
inline void* FrameAllocator::allocate(size_t size) {
  void* p = scalable_aligned_malloc(size, __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  if (!p) throw std::bad_alloc();
  return p;
}

inline void FrameAllocator::deallocate(void* p, size_t) noexcept { scalable_aligned_free(p); }

#else  // plain operator new (also under AddressSanitizer)

inline void* FrameAllocator::allocate(size_t size) { return ::operator new(size); }

inline void FrameAllocator::deallocate(void* p, size_t size) noexcept { delete_sized(p, size); }

#endif

}  // namespace weft::internal

#endif  // WEFT_LOOP_FRAME_ALLOCATOR_H_
