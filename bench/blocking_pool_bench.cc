// Prints the RESULT lines of workloads W7 and W7s (shared/WORKLOADS.md) for weft.
//
//   blocking_pool_bench [scale] [w7|w7s]     (default: scale 1, both workloads)
//
// Each workload runs on a weft::run of its own, with a pool of its own.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench/workloads_pool.h"

int main(int argc, char** argv) {
  double scale = argc > 1 ? std::atof(argv[1]) : 1.0;
  if (scale <= 0) scale = 1.0;
  const char* only = argc > 2 ? argv[2] : nullptr;
  if (only == nullptr || std::strcmp(only, "w7") == 0) {
    double calls_per_s = weft_w7_blocking_pool(scale);
    std::printf("RESULT weft blocking_pool calls_per_s=%.0f threads=%zu\n", calls_per_s,
                weft_last_pool_threads());
  }
  if (only == nullptr || std::strcmp(only, "w7s") == 0) {
    double seconds = weft_w7s_blocking_sleep(scale);
    std::printf("RESULT weft blocking_sleep seconds=%.4f threads=%zu\n", seconds,
                weft_last_pool_threads());
  }
  return 0;
}
