#include "loop/histogram.h"

#include "absl/strings/str_format.h"

namespace weft {
namespace {

std::string human(Duration d) {
  double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  if (ns < 1e3) return absl::StrFormat("%.0fns", ns);
  if (ns < 1e6) return absl::StrFormat("%.1fus", ns / 1e3);
  if (ns < 1e9) return absl::StrFormat("%.1fms", ns / 1e6);
  return absl::StrFormat("%.2fs", ns / 1e9);
}

}  // namespace

Duration HistogramSnapshot::bucket_upper_bound(size_t i) {
  if (i + 1 >= kBuckets) return Duration::max();
  return std::chrono::nanoseconds(uint64_t{1024} << i);
}

Duration HistogramSnapshot::quantile_upper_bound(double q) const {
  if (count == 0) return Duration{};
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts[i];
    if (seen > rank || (seen == total && seen > 0)) {
      Duration upper = bucket_upper_bound(i);
      return upper < max ? upper : max;
    }
  }
  return max;
}

std::string HistogramSnapshot::summary() const {
  if (count == 0) return "n=0";
  return absl::StrFormat("n=%d mean=%s p50<=%s p99<=%s max=%s", count, human(mean()),
                         human(quantile_upper_bound(0.5)), human(quantile_upper_bound(0.99)),
                         human(max));
}

HistogramSnapshot LatencyHistogram::snapshot() const {
  HistogramSnapshot s;
  for (size_t i = 0; i < HistogramSnapshot::kBuckets; ++i) {
    s.counts[i] = counts_[i].load(std::memory_order_relaxed);
  }
  s.count = count_.load(std::memory_order_relaxed);
  s.sum = std::chrono::nanoseconds(sum_ns_.load(std::memory_order_relaxed));
  s.max = std::chrono::nanoseconds(max_ns_.load(std::memory_order_relaxed));
  return s;
}

}  // namespace weft
