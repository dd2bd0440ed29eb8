// 12. An async resource: set-up and tear-down that await, around a block (`async with`).
// The tear-down runs when the block ends normally and when it throws.
//
// The Python original:
//
//   class Connection:
//       async def send(self, msg):
//           await asyncio.sleep(0.01)
//           print(f'sent {msg}')
//
//   @contextlib.asynccontextmanager
//   async def connection():
//       print('connecting')
//       await asyncio.sleep(0.01)
//       print('connected')
//       try:
//           yield Connection()
//       finally:
//           print('closing')
//           await asyncio.sleep(0.01)
//           print('closed')
//
//   async def async_resource():
//       async with connection() as conn:
//           await conn.send('hello')
//       try:
//           async with connection() as conn:
//               raise ValueError('the body failed')
//       except ValueError as e:
//           print(f'main: {e}')
//
// In weft, async_with(setup, block) awaits the set-up (here connection(), the part before
// the yield), runs the block with the resource, then awaits the resource's aclose() (the
// finally: part), whatever the block did. ValueError is std::invalid_argument:

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace tour {
namespace {

using namespace std::chrono_literals;

class Connection {
 public:
  weft::Coro<void> send(std::string msg) {
    co_await weft::sleep(10ms);
    std::printf("sent %s\n", msg.c_str());
  }

  weft::Coro<void> aclose() {
    std::puts("closing");
    co_await weft::sleep(10ms);
    std::puts("closed");
  }
};

weft::Coro<Connection> connection() {
  std::puts("connecting");
  co_await weft::sleep(10ms);
  std::puts("connected");
  co_return Connection();
}

}  // namespace

weft::Coro<void> async_resource() {
  co_await weft::async_with(connection(), [](Connection& conn) -> weft::Coro<void> {
    co_await conn.send("hello");
  });
  try {
    co_await weft::async_with(connection(), [](Connection&) -> weft::Coro<void> {
      throw std::invalid_argument("the body failed");
      co_return;
    });
  } catch (const std::invalid_argument& e) {
    std::printf("main: %s\n", e.what());
  }
}

}  // namespace tour
