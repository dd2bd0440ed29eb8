// 14. Exiting main too early, done right: asyncio.run cancels whatever is still running
// when main returns, so main waits for the tasks it started.
//
// The Python original:
//
//   async def worker(n):
//       await asyncio.sleep(0.01 * n)
//       print(f'worker {n} done')
//
//   async def main_done_right():
//       for n in (3, 1, 2):
//           asyncio.create_task(worker(n))
//       await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}))
//       print('main: all workers done')
//
// weft has no public all_tasks() or current_task(): the loop does track its pending tasks
// (weft::run's shutdown cancels them), but only internally, not as Task handles one could
// await. So main keeps the handles of the tasks it creates and gathers those. That is the
// better Python too: all_tasks() would also gather tasks that other code started and owns.

#include <chrono>
#include <cstdio>
#include <vector>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace tour {
namespace {

using namespace std::chrono_literals;

weft::Coro<void> worker(int n) {
  co_await weft::sleep(10ms * n);
  std::printf("worker %d done\n", n);
}

}  // namespace

weft::Coro<void> main_done_right() {
  std::vector<weft::Task<void>> workers;
  for (int n : {3, 1, 2}) workers.push_back(weft::create_task(worker(n)));
  co_await weft::gather(workers);
  std::puts("main: all workers done");
}

}  // namespace tour
