// The bounded, deterministic run of the HTTP parser's fuzz target: 20,000 inputs from a fixed
// seed, built from HTTP-shaped fragments and random bytes so that every branch is reached.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "examples/http/request_parser.h"
#include "tests/examples/http_parser_check.h"

namespace weft::http {
namespace {

TEST(HttpParserFuzzTest, TwentyThousandSeededInputsKeepTheProperties) {
  const std::vector<std::string> fragments = {
      "GET", "POST", " ", "/", "/index", " HTTP/1.1", " HTTP/1.0", " HTTP/2.0", "\r\n", "\r\n\r\n",
      "Host: x", "Connection: close", "Connection: keep-alive", "Content-Length: ", "0", "5", "12",
      "Transfer-Encoding: chunked", ":", "abcde", "\n", "\t", "x"};
  std::mt19937 rng(20261121);
  int seen[3] = {0, 0, 0};  // complete, incomplete, error
  for (int i = 0; i < 20000; ++i) {
    std::string input;
    int parts = std::uniform_int_distribution<int>(0, 14)(rng);
    for (int p = 0; p < parts; ++p) {
      if (rng() % 8 == 0) {
        input += static_cast<char>(rng());
      } else {
        input += fragments[rng() % fragments.size()];
      }
    }
    if (i % 3 == 0) input = "GET / HTTP/1.1\r\n" + input + "\r\n\r\n";
    const std::string error =
        check_http_parser(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    ASSERT_EQ(error, "") << "input #" << i << ": " << input;
    HttpRequest req;
    ++seen[static_cast<int>(HttpRequestParser().parse(input, req))];
  }
  // The inputs reach every outcome, not just errors.
  EXPECT_GT(seen[static_cast<int>(ParseStatus::kComplete)], 1000);
  EXPECT_GT(seen[static_cast<int>(ParseStatus::kIncomplete)], 1000);
  EXPECT_GT(seen[static_cast<int>(ParseStatus::kError)], 1000);
}

}  // namespace
}  // namespace weft::http
