// The sections of the tour (examples/tour.cc runs them in this order). Each one lives in its
// own file, with the Python original in a comment above the C++.
#ifndef WEFT_EXAMPLES_TOUR_SECTIONS_H_
#define WEFT_EXAMPLES_TOUR_SECTIONS_H_

#include "loop/weft.h"

namespace tour {

weft::Coro<void> concurrent_tasks();    // 1_concurrent_tasks.cc
weft::Coro<void> cancellation();        // 2_cancellation.cc
weft::Coro<void> exceptions();          // 3_exceptions.cc
weft::Coro<void> custom_awaitable();    // 4_custom_awaitable.cc
weft::Coro<void> inline_vs_task();      // 5_inline_vs_task.cc
weft::Coro<void> gather_ten();          // 6_gather.cc
weft::Coro<void> waiting();             // 7_wait.cc
weft::Coro<void> timing_out();          // 8_wait_for.cc
weft::Coro<void> shielding();           // 9_shield.cc
weft::Coro<void> boiling_eggs();        // 10_egg_boiler.cc
weft::Coro<void> async_comprehension(); // 11_async_comprehension.cc
weft::Coro<void> async_resource();      // 12_async_resource.cc
weft::Coro<void> stopwatch_demo();      // 13_stopwatch.cc
weft::Coro<void> main_done_right();     // 14_main_done_right.cc

}  // namespace tour

#endif  // WEFT_EXAMPLES_TOUR_SECTIONS_H_
