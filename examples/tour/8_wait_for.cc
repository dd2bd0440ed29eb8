// 8. Wait for, with a timeout: when the time is up, wait_for cancels the inner task, waits
// until it has finished its cleanup, and raises TimeoutError.
//
// The Python original:
//
//   async def eternity():
//       try:
//           await asyncio.sleep(3600)
//           print('yay!')
//       except asyncio.CancelledError:
//           print('eternity: cancelled')
//           raise
//
//   async def timing_out():
//       try:
//           await asyncio.wait_for(eternity(), timeout=0.02)
//       except TimeoutError:
//           print('timeout!')
//
// In weft:

#include <chrono>
#include <cstdio>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace tour {
namespace {

using namespace std::chrono_literals;

weft::Coro<void> eternity() {
  try {
    co_await weft::sleep(1h);
    std::puts("yay!");
  } catch (const weft::CancelledError&) {
    std::puts("eternity: cancelled");
    throw;
  }
}

}  // namespace

weft::Coro<void> timing_out() {
  try {
    co_await weft::wait_for(eternity(), 20ms);
  } catch (const weft::TimeoutError&) {
    std::puts("timeout!");
  }
}

}  // namespace tour
