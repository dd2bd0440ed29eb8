#include "loop/exception_context.h"

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <typeinfo>

#include "loop/errors.h"
#include "loop/type_name.h"

namespace weft {
using internal::demangle;

std::string ExceptionContext::exception_text() const {
  if (!exception) return "";
  try {
    std::rethrow_exception(exception);
  } catch (const BaseException& e) {
    return demangle(typeid(e).name()) + ": " + e.what();
  } catch (const std::exception& e) {
    return demangle(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    std::type_info* t = abi::__cxa_current_exception_type();
    return t ? demangle(t->name()) : std::string("unknown exception");
  }
}

std::string ExceptionContext::to_string() const {
  std::string out = message;
  auto field = [&out](const char* key, const std::string& value) {
    if (value.empty()) return;
    out += "\n  ";
    out += key;
    out += ": ";
    out += value;
  };
  field("task", task);
  field("future", future);
  field("handle", handle);
  field("coroutine", coroutine);
  field("created at", source);
  field("exception", exception_text());
  auto lines = [&out](const char* title, const std::string& text) {
    if (text.empty()) return;
    out += "\n  ";
    out += title;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      out += "\n    " + text.substr(start, end - start);
      start = end + 1;
    }
  };
  lines(coroutine.empty() ? "Object created at (most recent call last):"
                          : "Coroutine created at (most recent call last):",
        source_traceback);
  lines("stack (innermost first):", stack);
  return out;
}

void print_exception_context(const ExceptionContext& context) {
  std::string text = "weft: " + context.to_string() + "\n";
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace weft
