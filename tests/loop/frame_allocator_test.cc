#include "loop/frame_allocator.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "loop/frame_arena.h"
#include "loop/weft.h"
#include "tests/sanitizers.h"

namespace weft::internal {
namespace {

TEST(FrameAllocator, EverySizeIsUsableAndAligned) {
  std::vector<std::pair<void*, size_t>> blocks;
  for (size_t size = 1; size <= 2 * FrameAllocator::kMaxSize; size += 7) {
    void* p = FrameAllocator::allocate(size);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % __STDCPP_DEFAULT_NEW_ALIGNMENT__, 0u) << size;
    std::memset(p, 0xab, size);
    blocks.emplace_back(p, size);
  }
  for (auto [p, size] : blocks) FrameAllocator::deallocate(p, size);
}

TEST(FrameAllocator, ReusesAFreedBlockOfTheSameClass) {
#if !WEFT_FRAME_ALLOCATOR_FREE_LIST
  GTEST_SKIP() << "the free list is off in this build (AddressSanitizer or --define)";
#else
  void* a = FrameAllocator::allocate(200);
  FrameAllocator::deallocate(a, 200);
  // 193..200 share a class (16k + 8 = 200).
  void* b = FrameAllocator::allocate(193);
  EXPECT_EQ(a, b);
  FrameAllocator::deallocate(b, 193);
#endif
}

TEST(FrameAllocator, CacheIsBounded) {
  const size_t size = 512;
  std::vector<void*> blocks(2 * FrameAllocator::kMaxCachedBytes / size);
  for (void*& p : blocks) p = FrameAllocator::allocate(size);
  for (void* p : blocks) FrameAllocator::deallocate(p, size);
  EXPECT_LE(FrameAllocator::cached_bytes_for_testing(), FrameAllocator::kMaxCachedBytes);
#if WEFT_FRAME_ALLOCATOR_FREE_LIST
  EXPECT_GT(FrameAllocator::cached_bytes_for_testing(), 0u);
#endif
  // Drain what this thread cached so later tests start from a known state.
  for (void*& p : blocks) p = FrameAllocator::allocate(size);
  for (void* p : blocks) FrameAllocator::deallocate(p, size);
}

// Blocks allocated on one thread and freed on another join the freeing thread's cache and
// serve its next allocations.
TEST(FrameAllocator, BlocksFreedOnAnotherThread) {
  constexpr int kBlocks = 10000;
  std::vector<void*> blocks(kBlocks);
  std::thread producer([&] {
    for (int i = 0; i < kBlocks; ++i) {
      blocks[i] = FrameAllocator::allocate(64 + i % 300);
      std::memset(blocks[i], i & 0xff, 64 + i % 300);
    }
  });
  producer.join();
  std::thread consumer([&] {
    for (int i = 0; i < kBlocks; ++i) FrameAllocator::deallocate(blocks[i], 64 + i % 300);
    for (int i = 0; i < kBlocks; ++i) {
      blocks[i] = FrameAllocator::allocate(64 + i % 300);
      std::memset(blocks[i], 0, 64 + i % 300);
    }
    for (int i = 0; i < kBlocks; ++i) FrameAllocator::deallocate(blocks[i], 64 + i % 300);
  });
  consumer.join();
}

// Two threads trading blocks back and forth at once.
TEST(FrameAllocator, ConcurrentCrossThreadFrees) {
  constexpr int kRounds = 20000;
  std::atomic<void*> slot{nullptr};
  std::thread a([&] {
    for (int i = 0; i < kRounds; ++i) {
      void* p = FrameAllocator::allocate(96);
      std::memset(p, 1, 96);
      void* expected = nullptr;
      while (!slot.compare_exchange_weak(expected, p, std::memory_order_release,
                                         std::memory_order_relaxed)) {
        expected = nullptr;
        std::this_thread::yield();
      }
    }
  });
  std::thread b([&] {
    for (int i = 0; i < kRounds; ++i) {
      void* p;
      while ((p = slot.exchange(nullptr, std::memory_order_acquire)) == nullptr) {
        std::this_thread::yield();
      }
      std::memset(p, 2, 96);
      FrameAllocator::deallocate(p, 96);
    }
  });
  a.join();
  b.join();
}

TEST(FrameAllocator, ThreadExitReturnsTheCache) {
#if !WEFT_FRAME_ALLOCATOR_FREE_LIST || WEFT_TEST_TSAN
  GTEST_SKIP() << "needs the free list and glibc's malloc statistics";
#else
  const size_t before = mallinfo2().uordblks;
  size_t arena_free_before = 0;
  size_t from_arena = 0;
  std::thread t([&] {
    std::vector<void*> blocks(4000);
    for (void*& p : blocks) p = FrameAllocator::allocate(256);
    // After the allocations, which may have taken blocks from the free list.
    arena_free_before = FrameAllocator::arena_free_bytes_for_testing();
    for (void* p : blocks) from_arena += FrameArena::contains(p);
    for (void* p : blocks) FrameAllocator::deallocate(p, 256);
    EXPECT_GE(FrameAllocator::cached_bytes_for_testing(), 4000u * 256);
  });
  t.join();
  // The thread's cache (about 1 MiB) went back: its blocks from the arena to the arena's
  // free list (264 bytes each: the class of 256), the others to malloc; allow for malloc's
  // own noise.
  EXPECT_EQ(FrameAllocator::arena_free_bytes_for_testing() - arena_free_before,
            from_arena * 264);
  EXPECT_LT(mallinfo2().uordblks, before + 64 * 1024);
#endif
}

// One thread only allocates and another only frees (a loop spawning tasks that a sibling
// steals and finishes): once the freeing thread's cache is full its frees go to the depot in
// batches, and the allocating thread's next allocations of that class come from there.
TEST(FrameAllocator, DepotCarriesBlocksFromTheFreeingThreadToTheAllocatingOne) {
#if !WEFT_FRAME_ALLOCATOR_FREE_LIST
  GTEST_SKIP() << "the free list is off in this build (AddressSanitizer or --define)";
#else
  const size_t size = 232;  // a class no other test uses
  // Enough to fill the freeing thread's cache and then make a few batches.
  const size_t n = FrameAllocator::kMaxCachedBytes / size + 4 * FrameAllocator::kBatchBlocks;
  std::vector<void*> blocks(n);
  std::thread producer([&] {
    for (void*& p : blocks) p = FrameAllocator::allocate(size);
  });
  producer.join();
  const size_t depot_before = FrameAllocator::depot_bytes_for_testing();
  std::thread freer([&] {
    for (void* p : blocks) FrameAllocator::deallocate(p, size);
  });
  freer.join();
  // The freer exited, returning its own cache to malloc; the batches it made stay.
  EXPECT_GE(FrameAllocator::depot_bytes_for_testing(), depot_before + 3 * 32 * 232)
      << "frees past a full cache should have gone to the depot";
  std::set<void*> freed(blocks.begin(), blocks.end());
  std::thread allocator([&] {
    std::vector<void*> got(FrameAllocator::kBatchBlocks);
    for (void*& p : got) p = FrameAllocator::allocate(size);
    for (void* p : got) EXPECT_TRUE(freed.count(p)) << "a block not from the depot: " << p;
    for (void* p : got) FrameAllocator::deallocate(p, size);
  });
  allocator.join();
#endif
}

// The depot holds at most kMaxDepotBytes; past that, batches go back to operator delete.
TEST(FrameAllocator, DepotIsBounded) {
  const size_t size = 1000;
  const size_t n = (FrameAllocator::kMaxCachedBytes + 2 * FrameAllocator::kMaxDepotBytes) / size;
  std::vector<void*> blocks(n);
  for (void*& p : blocks) p = FrameAllocator::allocate(size);
  std::thread freer([&] {
    for (void* p : blocks) FrameAllocator::deallocate(p, size);
  });
  freer.join();
  EXPECT_LE(FrameAllocator::depot_bytes_for_testing(), FrameAllocator::kMaxDepotBytes);
#if WEFT_FRAME_ALLOCATOR_FREE_LIST
  EXPECT_GT(FrameAllocator::depot_bytes_for_testing(), FrameAllocator::kMaxDepotBytes / 2);
#endif
}

#if WEFT_FRAME_ALLOCATOR_ASAN
// Under AddressSanitizer the cache is off so that ASan still sees misuse of freed frames.
struct Node : UsesFrameAllocator {
  int value = 1;
};

TEST(FrameAllocatorDeathTest, AddressSanitizerSeesUseAfterFree) {
  EXPECT_DEATH(
      {
        Node* node = new Node;
        delete node;
        volatile int v = node->value;
        (void)v;
      },
      "heap-use-after-free");
}
#endif

Coro<int> Add(int a, int b) { co_return a + b; }

// A coroutine frame created on one thread and destroyed on another.
TEST(FrameAllocator, CoroutineFrameDestroyedOnAnotherThread) {
  std::vector<Coro<int>> coros;
  for (int i = 0; i < 1000; ++i) coros.push_back(Add(i, 1));
  std::thread t([&] {
    // Running each on a loop of this thread, then destroying it here.
    EventLoop loop;
    int sum = 0;
    for (auto& c : coros) sum += loop.run_until_complete(std::move(c));
    EXPECT_EQ(sum, 1000 * 999 / 2 + 1000);
    loop.close();
  });
  t.join();
}

}  // namespace
}  // namespace weft::internal
