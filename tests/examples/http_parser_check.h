// The property check behind the HTTP request parser's fuzz target and its seeded run:
// parse() never reads outside its input and its answer is self-consistent (see the .cc).
#ifndef WEFT_TESTS_EXAMPLES_HTTP_PARSER_CHECK_H_
#define WEFT_TESTS_EXAMPLES_HTTP_PARSER_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace weft::http {

// "" if the properties hold for `data`, else what broke.
std::string check_http_parser(const uint8_t* data, size_t size);

}  // namespace weft::http

#endif  // WEFT_TESTS_EXAMPLES_HTTP_PARSER_CHECK_H_
