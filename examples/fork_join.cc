// fork_join: parallel fork-join on a Runtime of two loops. fib(n) spawns both of its
// children as migratable tasks and awaits them; idle loops steal what the busy one spawned.
//
// The Python shape (asyncio has one loop, so there it runs on one thread):
//
//   async def fib(n):
//       if n < 2:
//           return n
//       a = asyncio.create_task(fib(n - 1))
//       b = asyncio.create_task(fib(n - 2))
//       return await a + await b
//
//   print(asyncio.run(fib(20)))
//
// Usage: fork_join [n] [--stats]   (n defaults to 20; --stats prints the per-loop counters)
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "loop/weft.h"
#include "scheduler/runtime.h"

weft::Coro<long> fib(int n) {
  if (n < 2) co_return n;
  weft::Task<long> a = weft::spawn(fib(n - 1));
  weft::Task<long> b = weft::spawn(fib(n - 2));
  co_return co_await a + co_await b;
}

int main(int argc, char** argv) {
  int n = 20;
  bool stats = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--stats") == 0) {
      stats = true;
    } else {
      n = std::atoi(argv[i]);
    }
  }
  weft::Runtime rt({.threads = 2});
  long v = rt.block_on(fib(n));
  std::printf("fib(%d) = %ld\n", n, v);
  if (stats) std::fputs(rt.stats_text().c_str(), stdout);
  return 0;
}
