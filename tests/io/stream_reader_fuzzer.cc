// libFuzzer entry point for StreamReader's readline / readuntil / readexactly / read over
// arbitrary chunkings of arbitrary bytes (the model check is in stream_reader_model.h).
//
// Build and run (clang; coverage instrumentation for every library, in its own output tree):
//   bazel build --config=fuzz //tests/io:stream_reader_fuzzer
//   mkdir -p /tmp/sr_corpus
//   bazel-out/k8-fastbuild-fuzz/bin/tests/io/stream_reader_fuzzer /tmp/sr_corpus
//       -max_total_time=300 -max_len=1024
// (bazel-bin points there too until another config is built.) A crash or a model violation
// aborts with the offending input saved as crash-<hash>; replay it by passing that file
// instead of the corpus directory.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/io/stream_reader_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string error = weft::io_test::check_stream_reader(data, size);
  if (!error.empty()) {
    std::fprintf(stderr, "StreamReader model violation: %s\n", error.c_str());
    std::abort();
  }
  return 0;
}
