// 9. Shield: cancelling a task that awaits shield(inner) cancels only the waiting; the
// inner task runs on and finishes after the outer one is gone.
//
// The Python original:
//
//   async def save(doc):
//       print(f'saving {doc}')
//       await asyncio.sleep(0.03)
//       print(f'{doc} saved')
//       return doc
//
//   async def request(saving):
//       try:
//           return await asyncio.shield(saving)
//       except asyncio.CancelledError:
//           print('request: cancelled')
//           raise
//
//   async def shielding():
//       saving = asyncio.create_task(save('report.txt'))
//       req = asyncio.create_task(request(saving))
//       await asyncio.sleep(0.01)
//       req.cancel()
//       try:
//           await req
//       except asyncio.CancelledError:
//           print('main: the request was cancelled')
//       print(f'main: still saving? {not saving.done()}')
//       print(f'main: {await saving}')
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

weft::Coro<std::string> save(std::string doc) {
  std::printf("saving %s\n", doc.c_str());
  co_await weft::sleep(30ms);
  std::printf("%s saved\n", doc.c_str());
  co_return doc;
}

weft::Coro<std::string> request(weft::Task<std::string> saving) {
  try {
    co_return co_await weft::shield(saving);
  } catch (const weft::CancelledError&) {
    std::puts("request: cancelled");
    throw;
  }
}

}  // namespace

weft::Coro<void> shielding() {
  weft::Task<std::string> saving = weft::create_task(save("report.txt"));
  weft::Task<std::string> req = weft::create_task(request(saving));
  co_await weft::sleep(10ms);
  req.cancel();
  try {
    co_await req;
  } catch (const weft::CancelledError&) {
    std::puts("main: the request was cancelled");
  }
  std::printf("main: still saving? %s\n", saving.done() ? "False" : "True");
  std::string saved = co_await saving;
  std::printf("main: %s\n", saved.c_str());
}

}  // namespace tour
