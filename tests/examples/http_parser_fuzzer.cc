// libFuzzer entry point for examples/http/request_parser (properties in http_parser_check.cc).
//
//   bazel build --config=fuzz //tests/examples:http_parser_fuzzer
//   bazel-bin/tests/examples/http_parser_fuzzer -max_total_time=300 -max_len=4096
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/examples/http_parser_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string error = weft::http::check_http_parser(data, size);
  if (!error.empty()) {
    std::fprintf(stderr, "HTTP parser property violated: %s\n", error.c_str());
    std::abort();
  }
  return 0;
}
