// AdaptiveSpin's rules (loop/adaptive_spin.h), driven with explicit park outcomes: no clocks.
#include "loop/adaptive_spin.h"

#include <gtest/gtest.h>

#include <chrono>

namespace weft::internal {
namespace {

using std::chrono::microseconds;

constexpr Duration kLimit = microseconds(50);

TEST(AdaptiveSpinTest, StartsAtTheLimit) {
  AdaptiveSpin spin;
  EXPECT_EQ(spin.budget(), Duration::zero());
  spin.set_limit(kLimit);
  EXPECT_EQ(spin.budget(), kLimit);
  EXPECT_EQ(spin.limit(), kLimit);
}

TEST(AdaptiveSpinTest, LongParksStopTheSpin) {
  // An idle loop: every park outlasts the limit. Within a handful of parks it spins no more.
  AdaptiveSpin spin;
  spin.set_limit(kLimit);
  int parks = 0;
  while (spin.budget() > Duration::zero()) {
    spin.on_park_ended(/*woken_by_thread=*/true, std::chrono::seconds(1));
    ASSERT_LT(++parks, 10);
  }
  EXPECT_EQ(parks, 5);  // 50 -> 25 -> 12.5 -> 6.25 -> 3.125 -> below 2: zero
}

TEST(AdaptiveSpinTest, ParksEndedByIoOrTimersShrinkEvenWhenShort) {
  // A loop fed by sockets: its parks are short, but the spin (which watches only the queues
  // other threads push to) could not have caught what ended them.
  AdaptiveSpin spin;
  spin.set_limit(kLimit);
  for (int i = 0; i < 10; ++i) spin.on_park_ended(/*woken_by_thread=*/false, microseconds(1));
  EXPECT_EQ(spin.budget(), Duration::zero());
}

TEST(AdaptiveSpinTest, QuickWakesFromOtherThreadsBringTheSpinBack) {
  AdaptiveSpin spin;
  spin.set_limit(kLimit);
  for (int i = 0; i < 10; ++i) spin.on_park_ended(false, microseconds(1));
  ASSERT_EQ(spin.budget(), Duration::zero());
  spin.on_park_ended(/*woken_by_thread=*/true, microseconds(30));
  EXPECT_EQ(spin.budget(), AdaptiveSpin::kMinSpin);
  spin.on_park_ended(true, microseconds(30));
  EXPECT_EQ(spin.budget(), 2 * AdaptiveSpin::kMinSpin);
  // Then each spin that finds work doubles it, up to the limit and no further.
  for (int i = 0; i < 10; ++i) spin.on_work_found();
  EXPECT_EQ(spin.budget(), kLimit);
}

TEST(AdaptiveSpinTest, AWakeLaterThanTheLimitIsNoReasonToSpin) {
  AdaptiveSpin spin;
  spin.set_limit(kLimit);
  spin.on_park_ended(/*woken_by_thread=*/true, microseconds(80));
  EXPECT_EQ(spin.budget(), kLimit / 2);
}

TEST(AdaptiveSpinTest, ZeroLimitNeverSpins) {
  AdaptiveSpin spin;
  spin.set_limit(Duration::zero());
  spin.on_work_found();
  spin.on_park_ended(true, microseconds(1));
  EXPECT_EQ(spin.budget(), Duration::zero());
  spin.set_limit(-kLimit);  // negative: off too
  EXPECT_EQ(spin.budget(), Duration::zero());
}

}  // namespace
}  // namespace weft::internal
