// 13. Cancelling from another task: a stopwatch ticks every 10 ms until a second task
// cancels it at 35 ms. Both count from the same start time (absolute deadlines rather than
// repeated sleeps, whose small delays would add up), so the cancellation always falls
// between tick 3 and tick 4; even a loop that falls behind runs due timers in deadline order.
//
// The Python original:
//
//   async def stopwatch(start):
//       ticks = 0
//       try:
//           while True:
//               await asyncio.sleep(start + 0.01 * (ticks + 1) - asyncio.get_running_loop().time())
//               ticks += 1
//               print(f'tick {ticks}')
//       except asyncio.CancelledError:
//           print(f'stopwatch: stopped after {ticks} ticks')
//           raise
//
//   async def stop_at(task, when):
//       await asyncio.sleep(when - asyncio.get_running_loop().time())
//       task.cancel()
//
//   async def stopwatch_demo():
//       start = asyncio.get_running_loop().time()
//       watch = asyncio.create_task(stopwatch(start))
//       asyncio.create_task(stop_at(watch, start + 0.035))
//       try:
//           await watch
//       except asyncio.CancelledError:
//           print('main: the stopwatch was cancelled')
//
// In weft:

#include <chrono>
#include <cstdio>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace tour {
namespace {

using namespace std::chrono_literals;

weft::Duration until(weft::TimePoint when) { return when - weft::EventLoop::current().time(); }

weft::Coro<void> stopwatch(weft::TimePoint start) {
  int ticks = 0;
  try {
    for (;;) {
      co_await weft::sleep(until(start + 10ms * (ticks + 1)));
      ++ticks;
      std::printf("tick %d\n", ticks);
    }
  } catch (const weft::CancelledError&) {
    std::printf("stopwatch: stopped after %d ticks\n", ticks);
    throw;
  }
}

weft::Coro<void> stop_at(weft::Task<void> task, weft::TimePoint when) {
  co_await weft::sleep(until(when));
  task.cancel();
}

}  // namespace

weft::Coro<void> stopwatch_demo() {
  weft::TimePoint start = weft::EventLoop::current().time();
  weft::Task<void> watch = weft::create_task(stopwatch(start));
  weft::create_task(stop_at(watch, start + 35ms));
  try {
    co_await watch;
  } catch (const weft::CancelledError&) {
    std::puts("main: the stopwatch was cancelled");
  }
}

}  // namespace tour
