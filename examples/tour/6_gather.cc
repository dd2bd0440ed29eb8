// 6. Gather: ten tasks run at once and finish in reverse order (the sleeps shrink), but
// gather gives their results in argument order.
//
// The Python original:
//
//   async def square(i):
//       await asyncio.sleep(0.01 * (10 - i))
//       return i * i
//
//   async def gather_ten():
//       print(await asyncio.gather(*(square(i) for i in range(10))))
//
// In weft (gather takes a range of Coros as well as a list of arguments; each Coro becomes
// a Task at once, as asyncio's gather does):

#include <chrono>
#include <cstdio>
#include <vector>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace tour {
namespace {

using namespace std::chrono_literals;

weft::Coro<int> square(int i) {
  co_await weft::sleep(10ms * (10 - i));
  co_return i * i;
}

}  // namespace

weft::Coro<void> gather_ten() {
  std::vector<weft::Coro<int>> squares;
  for (int i = 0; i < 10; ++i) squares.push_back(square(i));
  std::vector<int> results = co_await weft::gather(std::move(squares));
  std::printf("[");
  for (size_t i = 0; i < results.size(); ++i) std::printf(i ? ", %d" : "%d", results[i]);
  std::printf("]\n");
}

}  // namespace tour
