// drop_ref (loop/ref_count.h): only the holder of the last reference is told to destroy, both
// on the sole owner's shortcut and when several threads drop their references at once.
#include "loop/ref_count.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "tests/sanitizers.h"

namespace weft::internal {
namespace {

TEST(DropRef, OnlyTheLastReferenceDestroys) {
  std::atomic<uint32_t> refs{3};
  EXPECT_FALSE(drop_ref(refs));
  EXPECT_FALSE(drop_ref(refs));
  EXPECT_EQ(refs.load(), 1u);
  EXPECT_TRUE(drop_ref(refs));  // the sole owner: no decrement needed
}

TEST(DropRef, ExactlyOneOfManyConcurrentDroppersDestroys) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 500 / test_env::kSanitizerSlowdown;  // thread starts dominate
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<uint32_t> refs{kThreads};
    std::atomic<int> destroyers{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        if (drop_ref(refs)) destroyers.fetch_add(1);
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_EQ(destroyers.load(), 1) << "round " << round;
  }
}

}  // namespace
}  // namespace weft::internal
