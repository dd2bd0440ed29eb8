// The loop's clock: a monotonic clock, as asyncio's loop.time().
//
// weft uses std::chrono types rather than float seconds: `loop.call_at(loop.time() + 5s, cb)`
// reads as in asyncio and cannot mix up units.
#ifndef WEFT_LOOP_CLOCK_H_
#define WEFT_LOOP_CLOCK_H_

#include <chrono>

namespace weft {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

}  // namespace weft

#endif  // WEFT_LOOP_CLOCK_H_
