// FrameArena: the memory FrameAllocator (frame_allocator.h) carves fresh blocks from, in
// place of malloc: one range of address space reserved once per process, advised for
// transparent huge pages, handed to threads in chunks that each thread carves by bumping a
// pointer.
//
// Why: a burst of new tasks (W6: 100,000 spawns in a row) finds every cache empty, so each
// task's two blocks came from malloc: about 240 instructions per block in glibc's
// _int_malloc (it sorts its bins before it splits the top chunk), plus a page fault per
// fresh 4 KiB page, about 1.7 us each on this VM (about 8,400 faults for W6). Carving from a
// huge-page range costs a few instructions per block and one fault per 2 MiB. Measured on
// W6 (opt, 2 loops, alternating runs of the tree before and after): overhead 34-50 ms ->
// 16-20 ms (one run of 6: 47 ms), page faults about 8,400 -> 750 (bench/README.md has the
// numbers and how to rerun).
//
// The price, and the bound on it: memory carved from the arena never goes back to malloc or
// to the system. A block freed for good (its thread's cache and the depot are full, or its
// thread exits) joins a per-class free list in frame_allocator.cc and serves the next
// allocation of its class on any thread. So the arena holds at most kReserveBytes, the high
// water mark of frames carved from it, as Go's heap and tcmalloc's page heap keep theirs
// until a scavenger returns them (we have none). When the range is used up, FrameAllocator
// falls back to operator new, as before the arena.
//
// Where THP is off ("never" in /sys/kernel/mm/transparent_hugepage/enabled) the arena still
// works, with 4 KiB pages: the malloc instructions are saved, the faults are not.
//
// Thread-safety: any thread. take_chunk and give_back_leftover take a lock; contains is a
// relaxed load and a compare.
#ifndef WEFT_LOOP_FRAME_ARENA_H_
#define WEFT_LOOP_FRAME_ARENA_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace weft::internal {

class FrameArena {
 public:
  // Address space reserved (MAP_NORESERVE: it costs memory only once touched).
  static constexpr size_t kReserveBytes = size_t{64} << 20;
  // What a thread takes at a time. Small, so that threads that allocate little (blocking
  // pool threads posting a result) do not pin much of the range.
  static constexpr size_t kChunkBytes = size_t{64} << 10;

  // A range [*begin, *end) for the calling thread to carve, 16-byte aligned: a chunk that an
  // exited thread left part-used, else a fresh one. Returns false when the arena is used up
  // or could not be reserved (then the caller uses operator new).
  static bool take_chunk(char** begin, char** end);

  // An exiting thread's uncarved rest of its chunk, for the next take_chunk. A rest too
  // small to matter, or one that finds the list of rests full, is dropped (bounded waste:
  // less than kChunkBytes per exited thread, and only while the list is full).
  static void give_back_leftover(char* begin, char* end);

  // Whether `p` points into the arena (so its block must never reach operator delete).
  static bool contains(const void* p) {
    const uintptr_t base = base_.load(std::memory_order_relaxed);
    return base != 0 && reinterpret_cast<uintptr_t>(p) - base < kReserveBytes;
  }

  // Bytes handed out in chunks so far: what the arena holds, in use or free (for tests and
  // the memory benchmarks).
  static size_t carved_bytes();

 private:
  // Set once, under the lock, by the first take_chunk. A thread that tests contains(p) on a
  // block p from the arena has received p from the thread that carved it, through whatever
  // ordered that hand-off, which also orders this store before the load.
  static std::atomic<uintptr_t> base_;
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_FRAME_ARENA_H_
