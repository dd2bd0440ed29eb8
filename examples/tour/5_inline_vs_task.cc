// 5. Awaiting a coroutine runs it to completion inside the awaiting task, like a call;
// wrapping it in a task schedules it to run concurrently.
//
// The Python original:
//
//   async def step(name):
//       print(f'{name}: start')
//       await asyncio.sleep(0)
//       print(f'{name}: end')
//
//   async def inline_vs_task():
//       await step('inline a')
//       await step('inline b')
//       a = asyncio.create_task(step('task a'))
//       b = asyncio.create_task(step('task b'))
//       await a
//       await b
//
// In weft:

#include <chrono>
#include <cstdio>
#include <string>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace tour {
namespace {

using namespace std::chrono_literals;

weft::Coro<void> step(std::string name) {
  std::printf("%s: start\n", name.c_str());
  co_await weft::sleep(0s);
  std::printf("%s: end\n", name.c_str());
}

}  // namespace

weft::Coro<void> inline_vs_task() {
  co_await step("inline a");
  co_await step("inline b");
  weft::Task<void> a = weft::create_task(step("task a"));
  weft::Task<void> b = weft::create_task(step("task b"));
  co_await a;
  co_await b;
}

}  // namespace tour
