// ExceptionGroup: several exceptions raised together (Python's ExceptionGroup). A TaskGroup
// whose children failed raises one, carrying every child's error in the order they
// happened, followed by the error of the group's own body if it had one.
//
//   try {
//     co_await weft::task_group([](weft::TaskGroup& tg) -> weft::Coro<void> { ... });
//   } catch (const weft::ExceptionGroup& eg) {
//     for (const std::exception_ptr& e : eg.exceptions()) log(e);
//     if (!eg.matching<std::system_error>().empty()) retry();
//   }
//
// what() lists the sub-exceptions ("unhandled errors in a TaskGroup (2 sub-exceptions):
// [1] std::runtime_error: a; [2] ..."). A plain value; thread-compatible.
#ifndef WEFT_LOOP_EXCEPTION_GROUP_H_
#define WEFT_LOOP_EXCEPTION_GROUP_H_

#include <exception>
#include <string>
#include <type_traits>
#include <vector>

#include "loop/errors.h"

namespace weft {

class ExceptionGroup : public Error {
 public:
  // `exceptions` must not be empty (RuntimeError otherwise, as Python's ValueError).
  ExceptionGroup(const std::string& message, std::vector<std::exception_ptr> exceptions);

  // The message given at construction, without the list that what() appends.
  const std::string& message() const { return message_; }
  const std::vector<std::exception_ptr>& exceptions() const { return exceptions_; }

  // The sub-exceptions of type E (or derived from it), in order. A nested ExceptionGroup
  // is searched too (Python's subgroup()).
  template <class E>
  std::vector<std::exception_ptr> matching() const {
    std::vector<std::exception_ptr> out;
    collect<E>(out);
    return out;
  }

 private:
  template <class E>
  void collect(std::vector<std::exception_ptr>& out) const {
    for (const std::exception_ptr& e : exceptions_) {
      if constexpr (std::is_same_v<E, ExceptionGroup>) {
        try {
          std::rethrow_exception(e);
        } catch (const ExceptionGroup&) {
          out.push_back(e);
        } catch (...) {
        }
      } else {
        try {
          std::rethrow_exception(e);
        } catch (const ExceptionGroup& nested) {  // searched, not matched as a whole
          nested.collect<E>(out);
        } catch (const E&) {
          out.push_back(e);
        } catch (...) {
        }
      }
    }
  }

  std::string message_;
  std::vector<std::exception_ptr> exceptions_;
};

}  // namespace weft

#endif  // WEFT_LOOP_EXCEPTION_GROUP_H_
