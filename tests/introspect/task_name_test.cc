// The scheme that lets the watchdog read a task's name from its own thread (loop/task_name.h):
// a reader racing with a loop that publishes, clears and frees names never reads a freed
// one (ASan) and has a happens-before edge to every byte it reads (TSan).
#include "loop/task_name.h"

#include <atomic>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace weft::internal {
namespace {

TEST(TaskName, ReadsTheNameOfTheTaskAskedFor) {
  std::atomic<const TaskName*> slot{nullptr};
  EXPECT_EQ(read_published_name(slot, 7), "");
  auto* name = new TaskName(7, "fetch", nullptr);
  slot.store(name);
  EXPECT_EQ(read_published_name(slot, 7), "fetch");
  EXPECT_EQ(read_published_name(slot, 8), "");  // the slot names another task
  slot.store(nullptr);
  free_task_names(name);
}

TEST(TaskName, FreesTheNamesItReplaced) {
  // Run under ASan/LSan: every name in the chain is freed.
  auto* first = new TaskName(1, "a", nullptr);
  auto* second = new TaskName(1, "b", first);
  free_task_names(new TaskName(1, "c", second));
  free_task_names(nullptr);
}

TEST(TaskName, AReaderRacingWithPublishAndFreeReadsOnlyLiveNames) {
  // The loop's side (this thread): publish a new name, clear the slot, free the name, as a
  // named task's step and its destruction do. The watchdog's side reads all the while.
  std::atomic<const TaskName*> slot{nullptr};
  std::atomic<bool> stop{false};
  std::atomic<long> seen{0};
  std::thread reader([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      for (uint64_t id = 0; id < 4; ++id) {
        std::string s = read_published_name(slot, id);
        if (!s.empty()) {
          EXPECT_EQ(s, "task number " + std::to_string(id) + " with a name too long for SSO");
          seen.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  });
  constexpr int kRounds = 5000;
  for (int i = 0; i < kRounds; ++i) {
    uint64_t id = i % 4;
    auto* name =
        new TaskName(id, "task number " + std::to_string(id) + " with a name too long for SSO",
                     nullptr);
    slot.store(name, std::memory_order_release);
    for (int spin = 0; spin < 20; ++spin) std::this_thread::yield();
    slot.store(nullptr, std::memory_order_relaxed);
    free_task_names(name);
  }
  stop = true;
  reader.join();
  // Not asserted: how many reads overlapped a publication depends on the scheduler.
  RecordProperty("names_read", std::to_string(seen.load()));
}

}  // namespace
}  // namespace weft::internal
