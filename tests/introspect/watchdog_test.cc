// The stuck-loop watchdog (loop/watchdog.h): it reports a loop blocked in a callback or a
// task step while it is still blocked, then its recovery; it stays quiet for a busy loop that
// keeps yielding and for an idle loop parked in its poll.
#include "loop/watchdog.h"

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loop/weft.h"
#include "tests/scheduler/loop_thread.h"

namespace weft {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Collects the reports about one loop; notifies on the first stuck and the first recovered.
class Reports {
 public:
  explicit Reports(EventLoop& loop) : serial_(internal::loop_serial(&loop)) {
    set_stuck_loop_handler([this](const StuckLoopReport& r) {
      if (r.loop != serial_) return;
      std::lock_guard<std::mutex> lock(mu_);
      all_.push_back(r);
      (r.recovered ? recovered_ : stuck_).notify();
    });
  }
  ~Reports() { set_stuck_loop_handler(nullptr); }
  testing::Notification& stuck() { return stuck_; }
  testing::Notification& recovered() { return recovered_; }
  std::vector<StuckLoopReport> all() {
    std::lock_guard<std::mutex> lock(mu_);
    return all_;
  }

 private:
  uint64_t serial_;
  std::mutex mu_;
  std::vector<StuckLoopReport> all_;
  testing::Notification stuck_, recovered_;
};

// Waits until the watchdog has sampled for at least `span` more (rounds, not a timing
// assertion: the test asserts what was reported, whatever the speed of the machine).
void let_watchdog_sample(Duration span) {
  uint64_t start_round = internal::watchdog_rounds();
  TimePoint start = Clock::now();
  while (internal::watchdog_rounds() < start_round + 8 || Clock::now() - start < span) {
    std::this_thread::sleep_for(10ms);
  }
}

TEST(Watchdog, ReportsACallbackBlockingTheLoopWhileItIsBlocked) {
  testing::LoopThread t;
  Reports reports(t.loop());
  t.loop().set_stuck_threshold(50ms);
  // The callback blocks until the watchdog has reported it: the report is made while the
  // loop is stuck, or never.
  t.loop().call_soon_threadsafe([&] { reports.stuck().wait(); });
  reports.stuck().wait();
  reports.recovered().wait();
  std::vector<StuckLoopReport> all = reports.all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_FALSE(all[0].recovered);
  EXPECT_EQ(all[0].task_id, 0u);
  EXPECT_EQ(all[0].thread, t.loop().thread_id());
  EXPECT_GE(all[0].stuck_for, 50ms);
  EXPECT_THAT(all[0].message, HasSubstr("is stuck: a callback"));
  EXPECT_THAT(all[0].message, HasSubstr("has been running for"));
  EXPECT_THAT(all[0].message, HasSubstr("weft::to_thread"));
  EXPECT_TRUE(all[1].recovered);
  EXPECT_THAT(all[1].message, HasSubstr("is responsive again"));
}

Coro<void> blocking_step(testing::Notification* until) {
  until->wait();  // the mistake: a blocking wait inside a coroutine
  co_return;
}

TEST(Watchdog, NamesTheTaskWhoseStepBlocks) {
  testing::LoopThread t;
  Reports reports(t.loop());
  t.loop().set_stuck_threshold(50ms);
  uint64_t id = 0;
  testing::Notification created;
  t.loop().call_soon_threadsafe([&] {
    id = t.loop().create_task(blocking_step(&reports.stuck()), "blocker").base()->id();
    created.notify();
  });
  created.wait();
  reports.stuck().wait();
  reports.recovered().wait();
  StuckLoopReport r = reports.all().at(0);
  EXPECT_EQ(r.task_id, id);
  EXPECT_EQ(r.task_name, "blocker");
  EXPECT_EQ(r.coroutine, "blocking_step");
  EXPECT_THAT(r.message, HasSubstr("a step of task 'blocker' (Task-" + std::to_string(id) +
                                   ", coroutine 'blocking_step')"));
  EXPECT_THAT(reports.all().at(1).message, HasSubstr("a step of task 'blocker'"));
}

TEST(Watchdog, NamesAnUnnamedTaskByItsDefaultName) {
  testing::LoopThread t;
  Reports reports(t.loop());
  t.loop().set_stuck_threshold(50ms);
  uint64_t id = 0;
  testing::Notification created;
  t.loop().call_soon_threadsafe([&] {
    id = t.loop().create_task(blocking_step(&reports.stuck())).base()->id();
    created.notify();
  });
  created.wait();
  reports.stuck().wait();
  reports.recovered().wait();
  StuckLoopReport r = reports.all().at(0);
  EXPECT_EQ(r.task_name, "Task-" + std::to_string(id));
  EXPECT_THAT(r.message, HasSubstr("a step of task 'Task-" + std::to_string(id) +
                                   "' (coroutine 'blocking_step')"));
}

Coro<void> rename_then_block(testing::Notification* until) {
  current_task().base()->set_name("renamed-while-running");
  until->wait();
  co_return;
}

TEST(Watchdog, SeesANameSetDuringTheStuckStep) {
  testing::LoopThread t;
  Reports reports(t.loop());
  t.loop().set_stuck_threshold(50ms);
  testing::Notification created;
  t.loop().call_soon_threadsafe([&] {
    t.loop().create_task(rename_then_block(&reports.stuck()), "first-name");
    created.notify();
  });
  created.wait();
  reports.stuck().wait();
  reports.recovered().wait();
  EXPECT_EQ(reports.all().at(0).task_name, "renamed-while-running");
  EXPECT_THAT(reports.all().at(0).message, HasSubstr("'renamed-while-running'"));
}

TEST(Watchdog, QuietForABusyLoopThatKeepsYielding) {
  testing::LoopThread t;
  Reports reports(t.loop());
  t.loop().set_stuck_threshold(200ms);
  std::atomic<bool> stop{false};
  std::atomic<long> yields{0};
  testing::Notification done;
  auto busy = [&]() -> Coro<void> {
    while (!stop.load()) {
      yields.fetch_add(1);
      co_await sleep(0s);
    }
    done.notify();
  };
  t.loop().call_soon_threadsafe([&] { t.loop().create_task(busy()); });
  let_watchdog_sample(800ms);
  stop = true;
  done.wait();
  EXPECT_GT(yields.load(), 0);
  EXPECT_TRUE(reports.all().empty());
}

TEST(Watchdog, QuietForAnIdleParkedLoop) {
  testing::LoopThread t;
  Reports reports(t.loop());
  t.loop().set_stuck_threshold(20ms);
  let_watchdog_sample(200ms);
  EXPECT_TRUE(reports.all().empty());
}

TEST(Watchdog, OffWhenTheThresholdIsZero) {
  testing::Notification release;  // outlive the loop's thread, which waits on them
  testing::Notification blocked;
  testing::LoopThread t;
  Reports reports(t.loop());
  t.loop().set_stuck_threshold(0s);
  t.loop().call_soon_threadsafe([&] {
    blocked.notify();
    release.wait();
  });
  blocked.wait();
  let_watchdog_sample(200ms);
  release.notify();
  EXPECT_TRUE(reports.all().empty());
  EXPECT_EQ(t.loop().stuck_threshold(), Duration::zero());
}

TEST(Watchdog, DefaultThresholdIsOneSecond) {
  EventLoop loop;
  EXPECT_EQ(loop.stuck_threshold(), Duration(1s));
}

}  // namespace
}  // namespace weft
