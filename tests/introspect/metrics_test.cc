// The loop's poll-time and scheduling-delay histograms (EventLoop::Stats, loop/histogram.h).
#include "loop/histogram.h"

#include <chrono>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loop/weft.h"

namespace weft {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(LatencyHistogram, BucketsAreLog2OfMicroseconds) {
  LatencyHistogram h;
  h.record(500ns);    // bucket 0: < 1024 ns
  h.record(1500ns);   // bucket 1: [1024, 2048)
  h.record(3us);      // bucket 2: [2048, 4096)
  h.record(3us);
  h.record(1h);       // the last bucket
  HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.counts[0], 1u);
  EXPECT_EQ(s.counts[1], 1u);
  EXPECT_EQ(s.counts[2], 2u);
  EXPECT_EQ(s.counts[HistogramSnapshot::kBuckets - 1], 1u);
  EXPECT_EQ(s.max, Duration(1h));
  EXPECT_EQ(s.quantile_upper_bound(0.5), Duration(4096ns));
  EXPECT_EQ(s.quantile_upper_bound(1.0), Duration(1h));
  EXPECT_EQ(HistogramSnapshot::bucket_upper_bound(0), Duration(1024ns));
  EXPECT_THAT(s.summary(), HasSubstr("n=5 "));
  EXPECT_EQ(HistogramSnapshot{}.summary(), "n=0");
}

TEST(LoopMetrics, PollTimeCountsParks) {
  EventLoop loop;
  auto body = []() -> Coro<void> {
    for (int i = 0; i < 3; ++i) co_await sleep(1ms);  // each sleep parks the idle loop
  };
  loop.run_until_complete(body());
  EventLoop::Stats s = loop.stats();
  EXPECT_GE(s.poll_time.count, 1u);
  EXPECT_EQ(s.poll_time.count, s.parks);
  EXPECT_GT(s.poll_time.max, Duration::zero());
  EXPECT_THAT(loop.stats_text(), HasSubstr("poll_time: n="));
}

TEST(LoopMetrics, SchedulingDelayIsSampledOnABusyLoop) {
  EventLoop loop;
  auto body = []() -> Coro<void> {
    // One yielding task: one item per yield.
    for (uint32_t i = 0; i < 10 * EventLoop::kDelaySampleInterval; ++i) co_await sleep(0s);
  };
  loop.run_until_complete(body());
  EventLoop::Stats s = loop.stats();
  EXPECT_GE(s.sched_delay.count, 5u);
  EXPECT_LE(s.sched_delay.count, 12u);  // the probes count as items too
  EXPECT_THAT(loop.stats_text(), HasSubstr("sched_delay (sampled): n="));
}

}  // namespace
}  // namespace weft
