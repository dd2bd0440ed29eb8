#include "loop/outcome.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "loop/errors.h"
#include "tests/loop/test_util.h"

namespace weft {
namespace {

TEST(Outcome, Value) {
  Outcome<std::string> o(std::in_place, "v");
  EXPECT_TRUE(o);
  EXPECT_TRUE(o.has_value());
  EXPECT_FALSE(o.has_exception());
  EXPECT_FALSE(o.cancelled());
  EXPECT_EQ(o.exception(), nullptr);
  EXPECT_EQ(o.value(), "v");
  std::string moved = std::move(o).value();
  EXPECT_EQ(moved, "v");
}

TEST(Outcome, Exception) {
  auto o = Outcome<int>::failure(std::make_exception_ptr(std::runtime_error("e")), false);
  EXPECT_FALSE(o);
  EXPECT_TRUE(o.has_exception());
  EXPECT_FALSE(o.cancelled());
  EXPECT_THROW(o.value(), std::runtime_error);
  EXPECT_TRUE(testing::holds<std::runtime_error>(o.exception()));
}

TEST(Outcome, Cancelled) {
  auto o = Outcome<int>::failure(std::make_exception_ptr(CancelledError("c")), true);
  EXPECT_TRUE(o.cancelled());
  EXPECT_THROW(o.value(), CancelledError);
}

TEST(Outcome, VoidAndReference) {
  Outcome<void> ok(std::in_place);
  EXPECT_TRUE(ok);
  ok.value();
  auto bad = Outcome<void>::failure(std::make_exception_ptr(std::logic_error("l")), false);
  EXPECT_THROW(bad.value(), std::logic_error);

  int x = 1;
  Outcome<int&> ref(std::in_place, x);
  ref.value() = 2;
  EXPECT_EQ(x, 2);

  Outcome<std::unique_ptr<int>> move_only(std::in_place, std::make_unique<int>(3));
  std::unique_ptr<int> p = std::move(move_only).value();
  EXPECT_EQ(*p, 3);
}

}  // namespace
}  // namespace weft
