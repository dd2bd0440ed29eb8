#include "scheduler/executor_call.h"

namespace weft::internal {

void throw_call_already_awaited() {
  throw RuntimeError(
      "this ExecutorCall was already awaited (or moved from): a call's result is delivered "
      "once. Keep the value from the first co_await, or submit the call again");
}

}  // namespace weft::internal
