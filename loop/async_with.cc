#include "loop/async_with.h"

#include "loop/report.h"

namespace weft::internal {

void report_teardown_error(std::exception_ptr teardown_error) {
  report_exception(std::move(teardown_error),
                   "async_with(): the tear-down failed while the block's own exception was "
                   "propagating (that one is raised; this one is reported here)");
}

}  // namespace weft::internal

