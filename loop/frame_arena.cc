#include "loop/frame_arena.h"

#include <sys/mman.h>

#include <mutex>

namespace weft::internal {

constinit std::atomic<uintptr_t> FrameArena::base_{0};

namespace {

// Rests of chunks smaller than this are not worth keeping.
constexpr size_t kMinLeftover = 4096;
constexpr size_t kMaxLeftovers = 64;

struct ArenaState {
  std::mutex mu;
  bool reserve_tried = false;  // guarded by mu
  char* base = nullptr;        // guarded by mu
  size_t next_offset = 0;      // guarded by mu: the first byte no chunk has had
  struct Range {
    char* begin;
    char* end;
  };
  Range leftovers[kMaxLeftovers];  // guarded by mu
  size_t num_leftovers = 0;        // guarded by mu
};

// Not destroyed at exit: threads still running then may allocate.
ArenaState& state() {
  static auto* s = new ArenaState();
  return *s;
}

// Reserves the range. Small pages on purpose (frame_arena.h says why).
char* reserve() {
  void* m = mmap(nullptr, FrameArena::kReserveBytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  // Advice only: where THP is "always", this keeps the range on small pages too.
  madvise(m, FrameArena::kReserveBytes, MADV_NOHUGEPAGE);
  return static_cast<char*>(m);
}

// Faults a fresh chunk in with one system call instead of one fault per page. Advice only:
// before Linux 5.14 (no MADV_POPULATE_WRITE) the pages fault in on first touch as before.
void populate(char* begin, size_t bytes) { madvise(begin, bytes, MADV_POPULATE_WRITE); }

}  // namespace

bool FrameArena::take_chunk(char** begin, char** end) {
  ArenaState& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.num_leftovers > 0) {
      const ArenaState::Range r = s.leftovers[--s.num_leftovers];
      *begin = r.begin;
      *end = r.end;
      return true;
    }
    if (!s.reserve_tried) {
      s.reserve_tried = true;
      s.base = reserve();
      if (s.base) base_.store(reinterpret_cast<uintptr_t>(s.base), std::memory_order_relaxed);
    }
    if (!s.base || s.next_offset + kChunkBytes > kReserveBytes) return false;
    *begin = s.base + s.next_offset;
    s.next_offset += kChunkBytes;
    *end = *begin + kChunkBytes;
  }
  // Outside the lock: the chunk is this thread's alone now.
  populate(*begin, kChunkBytes);
  return true;
}

void FrameArena::give_back_leftover(char* begin, char* end) {
  if (static_cast<size_t>(end - begin) < kMinLeftover) return;
  ArenaState& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.num_leftovers < kMaxLeftovers) s.leftovers[s.num_leftovers++] = {begin, end};
}

size_t FrameArena::carved_bytes() {
  ArenaState& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.next_offset;
}

}  // namespace weft::internal
