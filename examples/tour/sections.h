// The sections of the tour (examples/tour.cc runs them in this order). Each one lives in its
// own file, with the Python original in a comment above the C++.
#ifndef WEFT_EXAMPLES_TOUR_SECTIONS_H_
#define WEFT_EXAMPLES_TOUR_SECTIONS_H_

#include "loop/weft.h"

namespace tour {

weft::Coro<void> concurrent_tasks();   // 1_concurrent_tasks.cc
weft::Coro<void> cancellation();       // 2_cancellation.cc
weft::Coro<void> exceptions();         // 3_exceptions.cc
weft::Coro<void> custom_awaitable();   // 4_custom_awaitable.cc
weft::Coro<void> inline_vs_task();     // 5_inline_vs_task.cc

}  // namespace tour

#endif  // WEFT_EXAMPLES_TOUR_SECTIONS_H_
