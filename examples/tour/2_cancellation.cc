// 2. Cancellation: a task cancelled in the middle of a sleep gets CancelledError there,
// cleans up (it may still await) and re-raises; whoever awaits it sees CancelledError too.
//
// The Python original:
//
//   async def worker():
//       print('worker: sleeping for an hour')
//       try:
//           await asyncio.sleep(3600)
//       except asyncio.CancelledError as e:
//           print(f'worker: cancelled ({e}), cleaning up')
//           await asyncio.sleep(0.01)
//           print('worker: clean')
//           raise
//
//   async def cancellation():
//       task = asyncio.create_task(worker())
//       await asyncio.sleep(0.01)
//       task.cancel('shutting down')
//       try:
//           await task
//       except asyncio.CancelledError:
//           if task.cancelled():
//               print('main: the worker was cancelled')
//
// In weft:

#include <chrono>
#include <cstdio>
#include <exception>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace tour {
namespace {

using namespace std::chrono_literals;

weft::Coro<void> worker() {
  std::puts("worker: sleeping for an hour");
  std::exception_ptr cancelled;
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError& e) {
    std::printf("worker: cancelled (%s), cleaning up\n", e.what());
    cancelled = std::current_exception();
  }
  // C++ allows no co_await inside a catch block: a cleanup that awaits comes after it.
  if (cancelled) {
    co_await weft::sleep(10ms);
    std::puts("worker: clean");
    std::rethrow_exception(cancelled);
  }
}

}  // namespace

weft::Coro<void> cancellation() {
  weft::Task<void> task = weft::create_task(worker());
  co_await weft::sleep(10ms);
  task.cancel("shutting down");
  try {
    co_await task;
  } catch (const weft::CancelledError&) {
    if (task.cancelled()) std::puts("main: the worker was cancelled");
  }
}

}  // namespace tour
