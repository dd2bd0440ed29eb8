// Reporting an exception that no awaiter can receive (internal), through the loop's
// exception handler, the way "Task exception was never retrieved" is reported.
//
// The combinators use it where asyncio would drop an error on the floor: a child that fails
// while the gather awaiting it is being cancelled (the gather raises CancelledError, so the
// child's error has nowhere else to go), a teardown that fails while the body's own
// exception propagates.
#ifndef WEFT_LOOP_REPORT_H_
#define WEFT_LOOP_REPORT_H_

#include <exception>
#include <string>

#include "loop/future_base.h"

namespace weft::internal {

// Reports `child`'s exception (it must have one) under `message`, and marks it retrieved.
void report_child_exception(FutureBase& child, const std::string& message);
// Reports `e` under `message` on the running loop (stderr if none runs).
void report_exception(std::exception_ptr e, const std::string& message);

}  // namespace weft::internal

#endif  // WEFT_LOOP_REPORT_H_
