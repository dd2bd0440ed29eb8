// 10. An async iterator: an egg boiler that takes a while per egg, consumed with `async for`
// on its own, then two of them boiling at once under gather. Each egg takes a fixed time
// (pot: 10 ms; soft: 20 ms; hard: 50 ms), so the eggs come out at 20, 40, 50, 60 and 100 ms
// and the interleaving does not depend on timing.
//
// The Python original:
//
//   class EggBoiler:
//       def __init__(self, eggs, seconds_per_egg):
//           self.eggs = eggs
//           self.seconds_per_egg = seconds_per_egg
//           self.boiled = 0
//
//       def __aiter__(self):
//           return self
//
//       async def __anext__(self):
//           if self.boiled == self.eggs:
//               raise StopAsyncIteration
//           await asyncio.sleep(self.seconds_per_egg)
//           self.boiled += 1
//           return f'egg {self.boiled} boiled'
//
//   async def boil(pot, eggs, seconds_per_egg):
//       async for egg in EggBoiler(eggs, seconds_per_egg):
//           print(f'{pot}: {egg}')
//       return eggs
//
//   async def boiling_eggs():
//       await boil('pot', 2, 0.01)
//       print(await asyncio.gather(boil('soft', 3, 0.02), boil('hard', 2, 0.05)))
//
// In weft, an async iterator is an AsyncGenerator: the body keeps its state in local
// variables (the class's fields above), each co_yield is one __anext__, and returning is
// StopAsyncIteration. `async for` is a while loop over co_await next():

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <tuple>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace tour {
namespace {

using namespace std::chrono_literals;

weft::AsyncGenerator<std::string> egg_boiler(int eggs, weft::Duration per_egg) {
  for (int boiled = 1; boiled <= eggs; ++boiled) {
    co_await weft::sleep(per_egg);
    co_yield "egg " + std::to_string(boiled) + " boiled";
  }
}

weft::Coro<int> boil(std::string pot, int eggs, weft::Duration per_egg) {
  weft::AsyncGenerator<std::string> boiler = egg_boiler(eggs, per_egg);
  while (std::optional<std::string> egg = co_await boiler.next()) {
    std::printf("%s: %s\n", pot.c_str(), egg->c_str());
  }
  co_return eggs;
}

}  // namespace

weft::Coro<void> boiling_eggs() {
  co_await boil("pot", 2, 10ms);
  auto [soft, hard] = co_await weft::gather(boil("soft", 3, 20ms), boil("hard", 2, 50ms));
  std::printf("[%d, %d]\n", soft, hard);
}

}  // namespace tour
