// The bounded, deterministic run of the StreamReader fuzz target (stream_reader_fuzzer.cc):
// 20,000 pseudo-random inputs from a fixed seed through the same model check, so that CI
// (fastbuild, asan, tsan) covers it on every run.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/io/stream_reader_model.h"

namespace weft::io_test {
namespace {

TEST(StreamReaderFuzzTest, TwentyThousandSeededInputsMatchTheModel) {
  std::mt19937 rng(20251121);
  std::vector<uint8_t> input;
  for (int i = 0; i < 20000; ++i) {
    input.resize(std::uniform_int_distribution<size_t>(0, 400)(rng));
    for (uint8_t& b : input) b = static_cast<uint8_t>(rng());
    const std::string error = check_stream_reader(input.data(), input.size());
    ASSERT_EQ(error, "") << "input #" << i << " (" << input.size() << " bytes)";
  }
}

TEST(StreamReaderFuzzTest, EmptyAndTinyInputs) {
  EXPECT_EQ(check_stream_reader(nullptr, 0), "");
  for (int b = 0; b < 256; ++b) {
    const uint8_t one[] = {static_cast<uint8_t>(b), 1, 1, '\n', 3, 4, 10, 3, 'a', '\n', 'b'};
    EXPECT_EQ(check_stream_reader(one, sizeof(one)), "") << b;
  }
}

}  // namespace
}  // namespace weft::io_test
