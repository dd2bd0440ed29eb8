#include "scheduler/lifo_slot.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/sanitizers.h"

namespace weft::internal {
namespace {

// The slot never dereferences what it holds: numbered fake pointers stand for tasks.
TaskBase* item(uintptr_t i) { return reinterpret_cast<TaskBase*>((i + 1) * 8); }
uintptr_t index_of(TaskBase* t) { return reinterpret_cast<uintptr_t>(t) / 8 - 1; }

// The owner's plain take, held between reading the slot and emptying it for 30 us (longer
// than a rescuer's fence, ~14 us) once every 32 takes, so that rescues land in that window:
// a handshake that let a rescue overlap a plain take would give the task twice.
struct WideWindow {
  static void pause() {
    thread_local unsigned calls = 0;
    if (++calls % 32 != 0) return;
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(30);
    while (std::chrono::steady_clock::now() < until) {
    }
  }
};

// Both the handshake (when the kernel has membarrier) and the exchange-only fallback.
class LifoSlotTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam() && !asymmetric_fence_available()) {
      GTEST_SKIP() << "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) is not available here";
    }
  }
  BasicLifoSlot<WideWindow> slot_{GetParam()};
};

TEST_P(LifoSlotTest, PushReturnsTheTaskItDisplaces) {
  EXPECT_FALSE(slot_.occupied());
  EXPECT_EQ(slot_.push(item(0)), nullptr);
  EXPECT_TRUE(slot_.occupied());
  EXPECT_EQ(slot_.push(item(1)), item(0));
  EXPECT_EQ(slot_.take(), item(1));
  EXPECT_FALSE(slot_.occupied());
  EXPECT_EQ(slot_.take(), nullptr);
}

TEST_P(LifoSlotTest, PutIfEmptyFillsOnlyAnEmptySlot) {
  EXPECT_TRUE(slot_.put_if_empty(item(0)));
  EXPECT_FALSE(slot_.put_if_empty(item(1)));
  EXPECT_EQ(slot_.take(), item(0));
  EXPECT_TRUE(slot_.put_if_empty(item(1)));
  EXPECT_EQ(slot_.push(item(2)), item(1));
  EXPECT_EQ(slot_.take(), item(2));
}

// Every put marks the owner awake, takes and rescues keep the mark, and only the owner's
// parking (with the slot empty) clears it.
TEST_P(LifoSlotTest, TheAwakeMarkLastsUntilTheOwnerParks) {
  auto view = [&] { return slot_.peek(); };
  EXPECT_FALSE(view().occupied);
  EXPECT_FALSE(view().owner_awake);
  slot_.push(item(0));
  EXPECT_TRUE(view().occupied);
  EXPECT_TRUE(view().owner_awake);
  slot_.owner_parking();  // not empty: the mark stays
  EXPECT_TRUE(view().owner_awake);
  EXPECT_EQ(slot_.take(), item(0));
  EXPECT_FALSE(view().occupied);
  EXPECT_TRUE(view().owner_awake);
  ASSERT_TRUE(slot_.put_if_empty(item(1)));
  std::thread([&] { EXPECT_EQ(slot_.rescue(), item(1)); }).join();
  EXPECT_FALSE(view().occupied);
  EXPECT_TRUE(view().owner_awake);
  slot_.owner_parking();
  EXPECT_FALSE(view().owner_awake);
  EXPECT_EQ(slot_.take(), nullptr);
}

TEST_P(LifoSlotTest, TakeIfTakesOnlyTheTaskAskedFor) {
  slot_.push(item(0));
  EXPECT_EQ(slot_.take_if(item(1)), nullptr);
  EXPECT_TRUE(slot_.occupied());
  EXPECT_EQ(slot_.take_if(item(0)), item(0));
  EXPECT_FALSE(slot_.occupied());
  EXPECT_EQ(slot_.take_if(item(0)), nullptr);
}

TEST_P(LifoSlotTest, ARescueFromAnotherThreadTakesTheTaskOnce) {
  slot_.push(item(3));
  TaskBase* rescued = nullptr;
  TaskBase* again = item(9);
  std::thread([&] {
    rescued = slot_.rescue();
    again = slot_.rescue();
  }).join();
  EXPECT_EQ(rescued, item(3));
  EXPECT_EQ(again, nullptr);
  EXPECT_EQ(slot_.take(), nullptr);
  // The owner goes on using the slot after a rescue.
  slot_.push(item(4));
  EXPECT_EQ(slot_.take(), item(4));
}

// The owner pushes, takes and takes-if as the Runtime does while rescuers take from the
// other side as fast as they can: every task comes out exactly once.
TEST_P(LifoSlotTest, OwnerAndRescuersTakeEachTaskExactlyOnce) {
  constexpr uintptr_t kTasks = 200000 / test_env::kSanitizerSlowdown;
  constexpr int kRescuers = 2;
  auto taken = std::make_unique<std::atomic<int>[]>(kTasks);
  for (uintptr_t i = 0; i < kTasks; ++i) taken[i].store(0);
  auto count = [&](TaskBase* t) {
    if (t != nullptr) taken[index_of(t)].fetch_add(1, std::memory_order_relaxed);
  };
  std::atomic<bool> owner_done{false};
  std::atomic<uint64_t> rescues{0};
  std::vector<std::thread> rescuers;
  for (int r = 0; r < kRescuers; ++r) {
    rescuers.emplace_back([&] {
      while (!owner_done.load(std::memory_order_acquire)) {
        if (TaskBase* t = slot_.rescue()) {
          count(t);
          rescues.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (uintptr_t i = 0; i < kTasks; ++i) {
    // Half the puts plain (when the slot is empty), as the Runtime's unannounced ones; the
    // displaced task goes "to the queue".
    if (i % 2 == 0 || !slot_.put_if_empty(item(i))) count(slot_.push(item(i)));
    switch (i % 4) {
      case 0: count(slot_.take()); break;
      case 1: count(slot_.take_if(item(i))); break;
      case 2: count(slot_.take_if(item(i + 1))); break;  // never there: takes nothing
      default: break;                                    // left for the next push
    }
  }
  owner_done.store(true, std::memory_order_release);
  for (auto& t : rescuers) t.join();
  count(slot_.take());
  uintptr_t wrong = 0;
  for (uintptr_t i = 0; i < kTasks; ++i) wrong += taken[i].load() != 1;
  EXPECT_EQ(wrong, 0u) << "tasks taken other than exactly once";
  RecordProperty("rescues", static_cast<int>(rescues.load()));
}

INSTANTIATE_TEST_SUITE_P(HandshakeAndFallback, LifoSlotTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Handshake")
                                             : std::string("ExchangeOnly");
                         });

}  // namespace
}  // namespace weft::internal
