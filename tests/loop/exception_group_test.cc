#include "loop/exception_group.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "loop/errors.h"

namespace weft {
namespace {

std::vector<std::exception_ptr> two() {
  return {std::make_exception_ptr(std::runtime_error("a")),
          std::make_exception_ptr(TimeoutError("b"))};
}

TEST(ExceptionGroup, ListsItsExceptions) {
  ExceptionGroup eg("unhandled errors", two());
  EXPECT_EQ(eg.message(), "unhandled errors");
  EXPECT_EQ(eg.exceptions().size(), 2u);
  EXPECT_EQ(std::string(eg.what()),
            "unhandled errors (2 sub-exceptions): [1] std::runtime_error: a; [2] "
            "weft::TimeoutError: b");
  // An ordinary error: generic handlers see it.
  const std::exception& base = eg;
  EXPECT_NE(std::string(base.what()).find("sub-exceptions"), std::string::npos);
}

TEST(ExceptionGroup, MatchingSearchesNestedGroups) {
  std::vector<std::exception_ptr> outer = two();
  outer.push_back(std::make_exception_ptr(ExceptionGroup("inner", two())));
  ExceptionGroup eg("outer", outer);
  EXPECT_EQ(eg.matching<TimeoutError>().size(), 2u);
  EXPECT_EQ(eg.matching<std::runtime_error>().size(), 4u);  // TimeoutError is one too
  EXPECT_EQ(eg.matching<ExceptionGroup>().size(), 1u);
  EXPECT_EQ(eg.matching<std::logic_error>().size(), 0u);
}

TEST(ExceptionGroup, MustNotBeEmpty) {
  EXPECT_THROW(ExceptionGroup("none", {}), RuntimeError);
}

}  // namespace
}  // namespace weft
