#include "loop/async_with.h"

#include "loop/report.h"

namespace weft::internal {

bool is_cancellation(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

void report_teardown_error(std::exception_ptr teardown_error) {
  report_exception(std::move(teardown_error),
                   "async_with(): the tear-down failed while the block's own exception was "
                   "propagating (that one is raised; this one is reported here)");
}

}  // namespace weft::internal

