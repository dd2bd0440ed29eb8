// LatencyHistogram: a log2-bucketed histogram of durations written by one thread and read
// by any (the loop's poll-time and scheduling-delay metrics, EventLoop::Stats).
//
// Bucket 0 holds durations under 1,024 ns; bucket i >= 1 holds [1,024 x 2^(i-1),
// 1,024 x 2^i) ns; the last one everything above (about 8.6 s). Recording is a few plain
// (relaxed atomic) loads and stores, no read-modify-write: only the owner writes.
#ifndef WEFT_LOOP_HISTOGRAM_H_
#define WEFT_LOOP_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>

#include "loop/clock.h"

namespace weft {

// A copy of a LatencyHistogram's counts.
struct HistogramSnapshot {
  static constexpr size_t kBuckets = 24;
  std::array<uint64_t, kBuckets> counts{};
  uint64_t count = 0;
  Duration sum{};
  Duration max{};

  // The upper bound of bucket i (exclusive); Duration::max() for the last bucket.
  static Duration bucket_upper_bound(size_t i);
  // The upper bound of the bucket holding the q-quantile (0 <= q <= 1); zero when empty.
  Duration quantile_upper_bound(double q) const;
  Duration mean() const { return count ? sum / static_cast<int64_t>(count) : Duration{}; }
  // "n=120 mean=3.2us p50<4.1us p99<65.5us max=70.1us".
  std::string summary() const;
};

class LatencyHistogram {
 public:
  // Owner thread only.
  void record(Duration d) {
    int64_t ns = d.count() < 0 ? 0 : std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    size_t b = std::bit_width(static_cast<uint64_t>(ns) >> 10);
    if (b >= HistogramSnapshot::kBuckets) b = HistogramSnapshot::kBuckets - 1;
    bump(counts_[b], 1);
    bump(count_, 1);
    bump(sum_ns_, static_cast<uint64_t>(ns));
    if (static_cast<uint64_t>(ns) > max_ns_.load(std::memory_order_relaxed)) {
      max_ns_.store(static_cast<uint64_t>(ns), std::memory_order_relaxed);
    }
  }
  // Any thread. The fields are read one by one: a snapshot taken while the owner records
  // may be off by the sample being recorded.
  HistogramSnapshot snapshot() const;

 private:
  static void bump(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::array<std::atomic<uint64_t>, HistogramSnapshot::kBuckets> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
  std::atomic<uint64_t> max_ns_{0};
};

}  // namespace weft

#endif  // WEFT_LOOP_HISTOGRAM_H_
