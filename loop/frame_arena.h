// FrameArena: the memory FrameAllocator (frame_allocator.h) carves fresh blocks from, in
// place of malloc: one range of address space reserved once per process, handed to threads
// in chunks that each thread carves by bumping a pointer.
//
// Why: a burst of new tasks (W6: 100,000 spawns in a row) finds every cache empty, so each
// task's two blocks came from malloc: about 240 instructions per block in glibc's
// _int_malloc (it sorts its bins before it splits the top chunk), plus a page fault per
// fresh 4 KiB page (about 8,400 faults for W6). Carving from the range costs a few
// instructions per block, and a fresh chunk is faulted in with one
// madvise(MADV_POPULATE_WRITE) (16 pages per call instead of 16 faults).
//
// Small pages on purpose (MADV_NOHUGEPAGE). The range was first advised for transparent
// huge pages, which looked best in back-to-back runs. But this VM (Firecracker) reports
// free 2 MiB blocks to its host, which drops them, so a huge page taken a few seconds after
// the memory was freed costs 2-5 ms to fault in (the host faults every 4 KiB of it in). A
// 4 KiB page usually comes from memory the guest freed recently and never reported. Touching
// 32 MiB fresh (bench/first_touch.cc, 2 s idle before each): huge pages 4-82 ms, small
// pages 11-14 ms, small pages populated 64 KiB at a time 8 ms. W6 after 3 s idle:
// overhead 70-92 ms with huge pages (60-70 ms of it system time in 13 faults), 22-26 ms
// now. bench/README.md has the runs.
//
// The price, and the bound on it: memory carved from the arena never goes back to malloc or
// to the system. A block freed for good (its thread's cache and the depot are full, or its
// thread exits) joins a per-class free list in frame_allocator.cc and serves the next
// allocation of its class on any thread. So the arena holds at most kReserveBytes, the high
// water mark of frames carved from it, as Go's heap and tcmalloc's page heap keep theirs
// until a scavenger returns them (we have none). When the range is used up, FrameAllocator
// falls back to operator new, as before the arena.
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
