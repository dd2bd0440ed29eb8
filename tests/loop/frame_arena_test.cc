#include "loop/frame_arena.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "loop/frame_allocator.h"

// These tests run in declaration order and share the process's one arena; the last one uses
// it up.

namespace weft::internal {
namespace {

#if WEFT_FRAME_ALLOCATOR_FREE_LIST
constexpr bool kArenaInUse = true;
#else
constexpr bool kArenaInUse = false;
#endif

#define SKIP_WITHOUT_ARENA()                                                        \
  if (!kArenaInUse) {                                                               \
    GTEST_SKIP() << "the free list (and so the arena) is off in this build (ASan or " \
                    "--define)";                                                    \
  }

TEST(FrameArena, ChunksAreAlignedAndInsideTheArena) {
  char* begin;
  char* end;
  ASSERT_TRUE(FrameArena::take_chunk(&begin, &end));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(begin) % 16, 0u);
  EXPECT_EQ(static_cast<size_t>(end - begin), FrameArena::kChunkBytes);
  EXPECT_TRUE(FrameArena::contains(begin));
  EXPECT_TRUE(FrameArena::contains(end - 1));
  std::memset(begin, 0x5a, static_cast<size_t>(end - begin));  // usable memory
  int on_stack = 0;
  EXPECT_FALSE(FrameArena::contains(&on_stack));
  void* from_new = ::operator new(64);
  EXPECT_FALSE(FrameArena::contains(from_new));
  ::operator delete(from_new);
  // Handed back whole, as an exiting thread would; the next chunk taken is this one.
  FrameArena::give_back_leftover(begin, end);
  char* again;
  char* again_end;
  ASSERT_TRUE(FrameArena::take_chunk(&again, &again_end));
  EXPECT_EQ(again, begin);
  EXPECT_EQ(again_end, end);
  FrameArena::give_back_leftover(again, again_end);
}

// Whether this kernel populates on request (Linux 5.14 and later).
bool kernel_populates() {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* m = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return false;
  const bool ok = madvise(m, page, MADV_POPULATE_WRITE) == 0;
  munmap(m, page);
  return ok;
}

// A fresh chunk arrives with its pages already in (one madvise instead of a fault per page):
// the carving thread never faults on it.
TEST(FrameArena, AFreshChunkIsResidentBeforeItIsTouched) {
  if (!kernel_populates()) GTEST_SKIP() << "this kernel has no MADV_POPULATE_WRITE";
  std::vector<std::pair<char*, char*>> taken;
  char* fresh = nullptr;
  // Leftovers handed back by earlier tests come first; a fresh chunk moves carved_bytes.
  while (fresh == nullptr && taken.size() < 100) {
    const size_t carved_before = FrameArena::carved_bytes();
    char* begin;
    char* end;
    ASSERT_TRUE(FrameArena::take_chunk(&begin, &end));
    taken.emplace_back(begin, end);
    if (FrameArena::carved_bytes() > carved_before) fresh = begin;
  }
  ASSERT_NE(fresh, nullptr);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident(FrameArena::kChunkBytes / page);
  ASSERT_EQ(mincore(fresh, FrameArena::kChunkBytes, resident.data()), 0);
  for (size_t i = 0; i < resident.size(); ++i) {
    EXPECT_TRUE(resident[i] & 1) << "page " << i << " of a fresh chunk is not resident";
  }
  for (auto [begin, end] : taken) FrameArena::give_back_leftover(begin, end);
}

TEST(FrameArena, FreshBlocksComeFromTheArenaPackedAndAligned) {
  SKIP_WITHOUT_ARENA();
  const size_t size = 168;  // a TaskState
  std::thread t([&] {       // a fresh thread: its cache is empty
    std::vector<void*> blocks(100);
    for (void*& p : blocks) {
      p = FrameAllocator::allocate(size);
      EXPECT_TRUE(FrameArena::contains(p));
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % __STDCPP_DEFAULT_NEW_ALIGNMENT__, 0u);
      std::memset(p, 0xab, size);
    }
    // Carved one after another: 176 bytes apart, as glibc would place 168-byte requests.
    EXPECT_EQ(static_cast<char*>(blocks[1]) - static_cast<char*>(blocks[0]), 176);
    for (void* p : blocks) FrameAllocator::deallocate(p, size);
  });
  t.join();
}

// A thread's cache goes to the arena's free lists when it exits (arena blocks never reach
// operator delete), and another thread's allocations of that class take them from there.
TEST(FrameArena, BlocksFreedForGoodServeTheNextAllocationsOfTheirClass) {
  SKIP_WITHOUT_ARENA();
  const size_t size = 440;  // a class no other test here uses
  const size_t n = 1000;
  std::set<void*> first_round;
  const size_t free_before = FrameAllocator::arena_free_bytes_for_testing();
  std::thread t1([&] {
    std::vector<void*> blocks(n);
    for (void*& p : blocks) p = FrameAllocator::allocate(size);
    for (void* p : blocks) {
      EXPECT_TRUE(FrameArena::contains(p));
      first_round.insert(p);
    }
    for (void* p : blocks) FrameAllocator::deallocate(p, size);
  });
  t1.join();
  EXPECT_GE(FrameAllocator::arena_free_bytes_for_testing(), free_before + n * size);
  std::thread t2([&] {
    std::vector<void*> blocks(n);
    for (void*& p : blocks) p = FrameAllocator::allocate(size);
    for (void* p : blocks) EXPECT_TRUE(first_round.count(p)) << "not a reused block: " << p;
    for (void* p : blocks) FrameAllocator::deallocate(p, size);
  });
  t2.join();
}

// An exiting thread gives back the rest of its chunk; the next thread carves on from there.
TEST(FrameArena, AnExitedThreadsChunkIsCarvedOnByTheNext) {
  SKIP_WITHOUT_ARENA();
  const size_t size = 472;  // a class no other test here uses: nothing free in it
  char* first = nullptr;
  std::thread t1([&] {
    void* p = FrameAllocator::allocate(size);
    first = static_cast<char*>(p);
    // Kept in the cache, then released to the free list at exit.
    FrameAllocator::deallocate(p, size);
  });
  t1.join();
  const size_t carved_before = FrameArena::carved_bytes();
  std::thread t2([&] {
    // Another class, so the block t1 freed is not the one found.
    void* p = FrameAllocator::allocate(size + 16);
    auto* q = static_cast<char*>(p);
    EXPECT_TRUE(q >= first && q < first + FrameArena::kChunkBytes)
        << "expected the rest of t1's chunk, got " << p << " (t1's block " << static_cast<void*>(first)
        << ")";
    FrameAllocator::deallocate(p, size + 16);
  });
  t2.join();
  EXPECT_EQ(FrameArena::carved_bytes(), carved_before) << "a fresh chunk was taken";
}

// Once the arena is used up, blocks come from operator new and go back there; arena blocks
// still go to the free lists. Uses up this process's arena: keep it last.
TEST(FrameArena, WhenUsedUpAllocationFallsBackToOperatorNew) {
  SKIP_WITHOUT_ARENA();
  const size_t size = 1000;  // 1008 bytes a block in the arena
  std::vector<void*> blocks;
  blocks.reserve(FrameArena::kReserveBytes / 1008 + 1000);
  const size_t room = FrameArena::kReserveBytes - FrameArena::carved_bytes();
  std::thread t([&] {
    void* p;
    do {
      p = FrameAllocator::allocate(size);
      blocks.push_back(p);
    } while (FrameArena::contains(p) && blocks.size() < FrameArena::kReserveBytes / 1008 + 1000);
    EXPECT_FALSE(FrameArena::contains(p)) << "the arena was never used up";
    std::memset(p, 1, size);
    // The arena's room went to blocks (a chunk holds 65 blocks of 1008 bytes and 16 spare).
    EXPECT_GE(blocks.size() - 1, room / FrameArena::kChunkBytes * 65);
    char* begin;
    char* end;
    EXPECT_FALSE(FrameArena::take_chunk(&begin, &end));
  });
  t.join();
  // Freed on another thread: what does not fit the depot (and, at the thread's exit, the
  // thread's cache) goes to the free list if it came from the arena; the last block, from
  // operator new, goes back there (the free-list bytes count arena blocks only).
  const size_t free_before = FrameAllocator::arena_free_bytes_for_testing();
  std::thread freer([&] {
    for (void* p : blocks) FrameAllocator::deallocate(p, size);
  });
  freer.join();
  const size_t arena_blocks = blocks.size() - 1;
  EXPECT_LE(FrameAllocator::arena_free_bytes_for_testing() - free_before, arena_blocks * size);
  EXPECT_GE(FrameAllocator::arena_free_bytes_for_testing() - free_before,
            arena_blocks * size - FrameAllocator::kMaxDepotBytes);
}

}  // namespace
}  // namespace weft::internal
