#include "loop/exception_group.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "loop/exception_context.h"

namespace weft {
namespace {

std::vector<std::exception_ptr> check_not_empty(std::vector<std::exception_ptr> exceptions) {
  if (exceptions.empty()) {
    throw RuntimeError(
        "ExceptionGroup needs at least one exception: raise the exception itself, or nothing");
  }
  return exceptions;
}

std::string describe(const std::string& message, const std::vector<std::exception_ptr>& es) {
  std::string out = absl::StrFormat("%s (%d sub-exception%s):", message, es.size(),
                                    es.size() == 1 ? "" : "s");
  for (size_t i = 0; i < es.size(); ++i) {
    ExceptionContext ctx;
    ctx.exception = es[i];
    out += absl::StrFormat("%s [%d] %s", i == 0 ? "" : ";", i + 1, ctx.exception_text());
  }
  return out;
}

}  // namespace

ExceptionGroup::ExceptionGroup(const std::string& message,
                               std::vector<std::exception_ptr> exceptions)
    : Error(describe(message, check_not_empty(exceptions))),
      message_(message),
      exceptions_(std::move(exceptions)) {}

}  // namespace weft
