#include "loop/frame_allocator.h"

namespace weft::internal {

#if WEFT_FRAME_ALLOCATOR_FREE_LIST

constinit thread_local FrameAllocator::ThreadCache FrameAllocator::t_cache_{};

// Empties the thread's cache when the thread exits. From then on the cache counts as full,
// so blocks freed later on this thread (by other thread-local destructors) go straight to
// operator delete.
struct FrameAllocatorThreadExit {
  ~FrameAllocatorThreadExit() {
    FrameAllocator::ThreadCache& cache = FrameAllocator::t_cache_;
    for (size_t c = 0; c < FrameAllocator::kNumClasses; ++c) {
      while (FrameAllocator::FreeBlock* b = cache.heads[c]) {
        cache.heads[c] = b->next;
        delete_sized(b, FrameAllocator::class_size(c));
      }
    }
    cache.cached_bytes = FrameAllocator::kMaxCachedBytes + 1;
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
  size_t bytes = t_cache_.cached_bytes;
  return bytes > kMaxCachedBytes ? 0 : bytes;
}

#else

size_t FrameAllocator::cached_bytes_for_testing() { return 0; }

#endif

}  // namespace weft::internal
