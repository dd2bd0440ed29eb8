// W9 idle_tasks_memory (shared/WORKLOADS.md): 100,000 tasks all sleeping 1 s at once; the
// memory each one costs.
//
//   bazel run --config=opt //bench:idle_tasks_memory [-- <scale>]     (tasks = 100,000 x scale)
//
// Prints
//   RESULT weft idle_tasks_memory bytes_per_task=<peak RSS - baseline RSS, per task>
//       heap_bytes_per_task=<malloc bytes in use at the peak - baseline, per task>
//       rss_at_peak_bytes_per_task=<RSS while all sleep - baseline, per task>
//
// The program is what a user writes: create the tasks from a running task, keep their handles
// (as gather would), await them all. The baseline is taken on the running loop before the first
// task exists, and the peak RSS counter (VmHWM) is reset there (/proc/self/clear_refs), so the
// peak is that of the workload alone. heap_bytes counts glibc malloc's bytes in use (mallinfo2):
// it sees allocations that go through malloc, not memory an allocator maps by itself (e.g.
// oneTBB's scalable_malloc), which only the RSS figures include.
#include <malloc.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "loop/weft.h"

using namespace std::chrono_literals;

namespace {

// A "VmRSS:"-style field of /proc/self/status, in bytes.
int64_t ProcStatusBytes(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t len = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, len, field) == 0) return std::atoll(line.c_str() + len) * 1024;
  }
  std::fprintf(stderr, "idle_tasks_memory: no %s in /proc/self/status\n", field);
  std::exit(1);
}

// Resets VmHWM to the current RSS (Linux >= 4.0).
bool ResetPeakRss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

int64_t HeapBytesInUse() {
  struct mallinfo2 mi = mallinfo2();
  return static_cast<int64_t>(mi.uordblks + mi.hblkhd);
}

weft::Coro<void> Sleeper(int64_t& woke) {
  co_await weft::sleep(1s);
  ++woke;
}

struct Measurement {
  int64_t base_rss = 0, base_heap = 0;
  int64_t sleeping_rss = 0, sleeping_heap = 0;
  int64_t peak_rss = 0;
  int64_t woke = 0;
  bool hwm_reset = false;
};

weft::Coro<void> Workload(int64_t num_tasks, Measurement& m) {
  m.base_heap = HeapBytesInUse();
  m.base_rss = ProcStatusBytes("VmRSS:");
  m.hwm_reset = ResetPeakRss();
  std::vector<weft::Task<void>> tasks;
  tasks.reserve(static_cast<size_t>(num_tasks));
  for (int64_t i = 0; i < num_tasks; ++i) tasks.push_back(weft::create_task(Sleeper(m.woke)));
  // The new tasks are ahead of this one in the ready queue: when it resumes, every one of them
  // has armed its timer.
  co_await weft::sleep(0s);
  m.sleeping_heap = HeapBytesInUse();
  m.sleeping_rss = ProcStatusBytes("VmRSS:");
  for (auto& t : tasks) co_await t;
  m.peak_rss = ProcStatusBytes("VmHWM:");
}

}  // namespace

int main(int argc, char** argv) {
  double scale = argc > 1 ? std::atof(argv[1]) : 1.0;
  if (!(scale > 0)) {
    std::fprintf(stderr, "usage: %s [scale > 0]  (tasks = 100000 x scale)\n", argv[0]);
    return 2;
  }
  const int64_t num_tasks = static_cast<int64_t>(100000 * scale);
  Measurement m;
  auto start = std::chrono::steady_clock::now();
  weft::run(Workload(num_tasks, m));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (m.woke != num_tasks) {
    std::fprintf(stderr, "idle_tasks_memory: %lld of %lld tasks finished\n",
                 static_cast<long long>(m.woke), static_cast<long long>(num_tasks));
    return 1;
  }
  if (!m.hwm_reset) {
    std::fprintf(stderr, "idle_tasks_memory: cannot reset VmHWM; the peak may predate the run\n");
  }
  const double n = static_cast<double>(num_tasks);
  std::printf(
      "RESULT weft idle_tasks_memory bytes_per_task=%.1f heap_bytes_per_task=%.1f "
      "rss_at_peak_bytes_per_task=%.1f tasks=%lld seconds=%.3f\n",
      static_cast<double>(m.peak_rss - m.base_rss) / n,
      static_cast<double>(m.sleeping_heap - m.base_heap) / n,
      static_cast<double>(m.sleeping_rss - m.base_rss) / n, static_cast<long long>(num_tasks),
      seconds);
  return 0;
}
