// FrameAllocator: where the loop's hot, short-lived objects get their memory: coroutine
// frames (Coro's promise), task and future states (FutureBase) and callback nodes
// (CallbackNode). A class takes part by deriving from UsesFrameAllocator, which gives it
// class-level operator new/delete.
//
// What it is: a cache of free blocks per thread, in size classes 16 bytes apart up to 1 KiB,
// in front of plain operator new. The class sizes are 16k + 8 bytes: exactly what glibc's
// malloc can hold in a 16k + 16 byte chunk, so rounding a request up to its class costs no
// memory over plain new. A block freed on any thread goes to that thread's cache (blocks
// are interchangeable: they all come from operator new), so a frame created on one loop and
// destroyed on another is fine. Each thread caches at most kMaxCachedBytes; beyond that, and
// for sizes above 1 KiB, blocks go straight back to operator delete. A thread's cache is
// released when the thread exits.
//
// Why (bench/loop_bench.cc and bench/idle_tasks_memory.cc, opt, 2-core VM; medians of 5 runs,
// instructions from callgrind; see bench/ALLOCATOR_STUDY.md for the whole study):
//
//                             plain new (glibc)   oneTBB scalable_malloc   this free list
//   call_soon + run           40 ns / 388 Ir      29 ns / 278 Ir           21 ns / 218 Ir
//   create_task + await       152 ns / 1303 Ir    ...                      ...
//   sleep(0)                  unchanged: sleeping does not allocate
//   W9 bytes per idle task    505                 ...                      ...
//
// glibc's own per-thread cache (tcache) holds only 7 blocks per size, so a burst of callbacks
// or tasks falls through to its arena code; oneTBB is faster than that but pays a call into
// a shared library and its own bookkeeping on every operation; the free list is a
// thread-local pop/push inlined at the call site.
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

  // Never returns nullptr: throws std::bad_alloc.
  static void* allocate(size_t size);
  // `size` must be the size passed to allocate().
  static void deallocate(void* p, size_t size) noexcept;

  // Bytes in the calling thread's cache (for tests).
  static size_t cached_bytes_for_testing();

 private:
#if WEFT_FRAME_ALLOCATOR_FREE_LIST
  struct FreeBlock {
    FreeBlock* next;
  };
  struct ThreadCache {
    FreeBlock* heads[kNumClasses];
    // Bytes held in heads; above kMaxCachedBytes once the thread is exiting, so that nothing
    // more is cached.
    size_t cached_bytes;
    // Whether the thread's exit hook is installed.
    bool registered;
  };
  // Trivially constructed and destroyed: access is a plain %fs-relative load, no TLS guard.
  static constinit thread_local ThreadCache t_cache_;

  static size_t class_of(size_t size) { return (size + 7) / kGranule; }
  static size_t class_size(size_t c) { return c * kGranule + 8; }
  // Installs the hook that empties the cache at thread exit.
  static void register_thread();
  friend struct FrameAllocatorThreadExit;
#endif
};

// Gives a class operator new/delete from FrameAllocator. The class (or, with a virtual
// destructor, each class deleted through it) must be deleted with its own size, which C++
// guarantees for sized class-level operator delete.
struct UsesFrameAllocator {
  static void* operator new(size_t size) { return FrameAllocator::allocate(size); }
  static void operator delete(void* p, size_t size) noexcept {
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

inline void* FrameAllocator::allocate(size_t size) {
  size_t c = class_of(size);
  if (c < kNumClasses) {
    ThreadCache& cache = t_cache_;
    if (FreeBlock* b = cache.heads[c]) {
      cache.heads[c] = b->next;
      cache.cached_bytes -= class_size(c);
      return b;
    }
    return ::operator new(class_size(c));
  }
  return ::operator new(size);
}

inline void FrameAllocator::deallocate(void* p, size_t size) noexcept {
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
    delete_sized(p, bytes);
    return;
  }
  delete_sized(p, size);
}

#elif defined(WEFT_FRAME_ALLOCATOR_TBB)

inline void* FrameAllocator::allocate(size_t size) {
  void* p = scalable_malloc(size);
  if (!p) throw std::bad_alloc();
  return p;
}

inline void FrameAllocator::deallocate(void* p, size_t) noexcept { scalable_free(p); }

#else  // plain operator new (also under AddressSanitizer)

inline void* FrameAllocator::allocate(size_t size) { return ::operator new(size); }

inline void FrameAllocator::deallocate(void* p, size_t size) noexcept { delete_sized(p, size); }

#endif

}  // namespace weft::internal

#endif  // WEFT_LOOP_FRAME_ALLOCATOR_H_
