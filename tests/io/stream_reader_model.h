// A model check of StreamReader for the fuzz target and its bounded CI run.
//
// check_stream_reader(input) decodes `input` into a reader configuration (limit, separator),
// a sequence of read operations (read(n), read(), readexactly(n), readline, readuntil(sep))
// and a chunking of arbitrary bytes, then runs the operations on a fed StreamReader while
// feeding the chunks one at a time whenever the operation waits, and end of file when they
// run out. Every outcome is checked against a model of the stream (the bytes fed so far and
// how many were consumed): no byte lost, duplicated or reordered; the separator and limit
// rules of asyncio (readuntil's first occurrence, LimitOverrunError's consumed count and the
// buffer left intact, readline's discard); IncompleteReadError only at end of file and with
// exactly the bytes that were left; flow control paused above 2 * limit and resumed at limit.
//
// Returns "" when every check holds, else a description of the first violation.
#ifndef WEFT_TESTS_IO_STREAM_READER_MODEL_H_
#define WEFT_TESTS_IO_STREAM_READER_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace weft::io_test {

std::string check_stream_reader(const uint8_t* data, size_t size);

}  // namespace weft::io_test

#endif  // WEFT_TESTS_IO_STREAM_READER_MODEL_H_
