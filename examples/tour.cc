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
}

}  // namespace

int main() {
  weft::run(tour_main());
  return 0;
}
