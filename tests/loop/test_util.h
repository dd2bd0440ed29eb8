// Helpers shared by the loop/ test suites.
//
// HandlerLog records what a loop reports through its exception handler, so that tests can
// assert both that an expected report arrived and that nothing else was reported.
#ifndef WEFT_TESTS_LOOP_TEST_UTIL_H_
#define WEFT_TESTS_LOOP_TEST_UTIL_H_

#include <exception>
#include <string>
#include <vector>

#include "loop/weft.h"

namespace weft::loop_test {

class HandlerLog {
 public:
  // Routes `loop`'s reports to this log. The log must outlive the loop's use of it.
  void install(EventLoop& loop) {
    loop.set_exception_handler(
        [this](EventLoop&, const ExceptionContext& ctx) { contexts.push_back(ctx); });
  }
  // Installs on the loop running on this thread (from inside weft::run's main).
  void install_current() { install(EventLoop::current()); }

  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    for (const ExceptionContext& c : contexts) out.push_back(c.message);
    return out;
  }
  // How many reports have a message containing `needle`.
  int count(const std::string& needle) const {
    int n = 0;
    for (const ExceptionContext& c : contexts) n += c.message.find(needle) != std::string::npos;
    return n;
  }

  std::vector<ExceptionContext> contexts;
};

// The message of a std::exception or weft::BaseException held by `e`.
inline std::string what(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (const BaseException& x) {
    return x.message();
  } catch (...) {
    return "<unknown exception>";
  }
}

}  // namespace weft::loop_test

#endif  // WEFT_TESTS_LOOP_TEST_UTIL_H_
