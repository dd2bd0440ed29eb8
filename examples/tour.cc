// A tour of weft for asyncio users.
//
// Each section under examples/tour/ is a classic asyncio example: its Python original is in
// the comment above it, and the C++ prints exactly what the Python prints. This file is the
// `main` of the Python program below:
//
//   import asyncio
//
//   async def main():
//       print('== 1. Concurrent tasks ==')
//       await concurrent_tasks()
//       print('== 2. Cancellation ==')
//       await cancellation()
//       print('== 3. Exceptions ==')
//       await exceptions()
//       print('== 4. A custom awaitable ==')
//       await custom_awaitable()
//       print('== 5. Awaiting a coroutine vs a task ==')
//       await inline_vs_task()
//       print('== 6. Gather ==')
//       await gather_ten()
//       print('== 7. Wait ==')
//       await waiting()
//       print('== 8. Wait for, with a timeout ==')
//       await timing_out()
//       print('== 9. Shield ==')
//       await shielding()
//       print('== 10. An async iterator ==')
//       await boiling_eggs()
//       print('== 11. An async generator and a comprehension ==')
//       await async_comprehension()
//       print('== 12. An async resource ==')
//       await async_resource()
//       print('== 13. Cancelling from another task ==')
//       await stopwatch_demo()
//       print('== 14. Waiting for every task before leaving ==')
//       await main_done_right()
//
//   asyncio.run(main())
//
// In weft:

#include <cstdio>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace {

weft::Coro<void> tour_main() {
  std::puts("== 1. Concurrent tasks ==");
  co_await tour::concurrent_tasks();
  std::puts("== 2. Cancellation ==");
  co_await tour::cancellation();
  std::puts("== 3. Exceptions ==");
  co_await tour::exceptions();
  std::puts("== 4. A custom awaitable ==");
  co_await tour::custom_awaitable();
  std::puts("== 5. Awaiting a coroutine vs a task ==");
  co_await tour::inline_vs_task();
  std::puts("== 6. Gather ==");
  co_await tour::gather_ten();
  std::puts("== 7. Wait ==");
  co_await tour::waiting();
  std::puts("== 8. Wait for, with a timeout ==");
  co_await tour::timing_out();
  std::puts("== 9. Shield ==");
  co_await tour::shielding();
  std::puts("== 10. An async iterator ==");
  co_await tour::boiling_eggs();
  std::puts("== 11. An async generator and a comprehension ==");
  co_await tour::async_comprehension();
  std::puts("== 12. An async resource ==");
  co_await tour::async_resource();
  std::puts("== 13. Cancelling from another task ==");
  co_await tour::stopwatch_demo();
  std::puts("== 14. Waiting for every task before leaving ==");
  co_await tour::main_done_right();
}

}  // namespace

int main() {
  weft::run(tour_main());
  return 0;
}
