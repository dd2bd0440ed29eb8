// first_touch: what it costs to bring fresh anonymous memory in, by page size and by how it
// is faulted. FrameArena's choice (small pages, populated a chunk at a time) rests on these
// numbers (loop/frame_arena.h, bench/README.md).
//
//   bazel build --config=opt //bench:first_touch
//   for i in 1 2 3; do sleep 2; bazel-bin/bench/first_touch 32; done
//
// For each way it maps a fresh 32 MiB (2 MiB aligned), touches one byte per 4 KiB page and
// prints the milliseconds that took. The sleep matters on a VM that reports free memory to
// its host: memory freed seconds ago may be gone from the host and fault in there again.
#include <sys/mman.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kPage = 4096;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
      .count();
}

// populate_bytes 0: fault page by page; else MADV_POPULATE_WRITE that many bytes at a time.
double touch_ms(size_t bytes, bool huge, size_t populate_bytes) {
  void* m = mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  auto* p = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(m) + kHugePage - 1) &
                                    ~(kHugePage - 1));
  madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; populate_bytes != 0 && i < bytes; i += populate_bytes) {
    if (madvise(p + i, populate_bytes, MADV_POPULATE_WRITE) != 0) {
      std::perror("madvise(MADV_POPULATE_WRITE)");
      std::exit(1);
    }
  }
  for (size_t i = 0; i < bytes; i += kPage) p[i] = 1;
  const double ms = ms_since(t0);
  munmap(m, bytes + kHugePage);
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 32;
  const size_t bytes = mib << 20;
  std::printf("%zu MiB fresh: huge pages %.2f ms, small pages %.2f ms, small pages populated "
              "64 KiB at a time %.2f ms\n",
              mib, touch_ms(bytes, true, 0), touch_ms(bytes, false, 0),
              touch_ms(bytes, false, 64 << 10));
}
