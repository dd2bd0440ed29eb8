// 1. Concurrent tasks: three searches share one thread, handing the loop back between
// candidates, so the shortest search finishes first.
//
// The Python original:
//
//   def is_prime(n):
//       return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))
//
//   async def highest_prime_below(n):
//       print(f'Highest prime below {n}')
//       for y in range(n - 1, 0, -1):
//           if is_prime(y):
//               print(f'→ Highest prime below {n} is {y}')
//               return y
//           await asyncio.sleep(0.01)
//       return None
//
//   async def concurrent_tasks():
//       primes = await asyncio.gather(highest_prime_below(100000),
//                                     highest_prime_below(10000),
//                                     highest_prime_below(1000))
//       print(primes)
//
// In weft (gather is not written yet: it wraps each coroutine in a task and waits for all
// of them, which is what the three create_task calls and awaits below do):

#include <chrono>
#include <cstdio>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace tour {
namespace {

using namespace std::chrono_literals;

bool is_prime(int n) {
  if (n < 2) return false;
  for (int d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

weft::Coro<int> highest_prime_below(int n) {
  std::printf("Highest prime below %d\n", n);
  for (int y = n - 1; y > 0; --y) {
    if (is_prime(y)) {
      std::printf("→ Highest prime below %d is %d\n", n, y);
      co_return y;
    }
    co_await weft::sleep(10ms);
  }
  co_return 0;  // Python's None: there is no prime below 2
}

}  // namespace

weft::Coro<void> concurrent_tasks() {
  weft::Task<int> a = weft::create_task(highest_prime_below(100000));
  weft::Task<int> b = weft::create_task(highest_prime_below(10000));
  weft::Task<int> c = weft::create_task(highest_prime_below(1000));
  int pa = co_await a;
  int pb = co_await b;
  int pc = co_await c;
  std::printf("[%d, %d, %d]\n", pa, pb, pc);
}

}  // namespace tour
