// HttpRequestParser: finds complete HTTP/1.x requests at the front of a byte buffer, for
// examples/http_server. Enough HTTP for a keep-alive, pipelining "Hello, World!" server:
// the request line, headers (Connection, Content-Length, Transfer-Encoding), a body of
// Content-Length bytes skipped; not chunked bodies (refused), not HTTP/2.
//
//   HttpRequestParser parser;
//   HttpRequest req;
//   size_t used = 0;
//   while (true) {
//     ParseStatus s = parser.parse(std::string_view(buf).substr(used), req);
//     if (s != ParseStatus::kComplete) break;   // kIncomplete: read more; kError: answer 400
//     used += req.size;
//     ...answer req...
//   }
//
// Stateless between calls: each parse() looks at the request from the start of `data`, so
// a request split over several reads is simply parsed again when more bytes came (requests
// are small; a header block larger than kMaxHeaderBytes is an error). Views in HttpRequest
// point into `data`.
#ifndef WEFT_EXAMPLES_HTTP_REQUEST_PARSER_H_
#define WEFT_EXAMPLES_HTTP_REQUEST_PARSER_H_

#include <cstddef>
#include <string_view>

namespace weft::http {

enum class ParseStatus { kComplete, kIncomplete, kError };

struct HttpRequest {
  std::string_view method;
  std::string_view target;
  int version_minor = 1;  // HTTP/1.<minor>
  bool keep_alive = true;
  size_t content_length = 0;
  size_t size = 0;  // bytes of the whole request (head and body)
  const char* error = "";  // why parsing failed (kError)
};

class HttpRequestParser {
 public:
  static constexpr size_t kMaxHeaderBytes = 8192;
  static constexpr size_t kMaxBodyBytes = 1 << 20;

  ParseStatus parse(std::string_view data, HttpRequest& out) const;
};

}  // namespace weft::http

#endif  // WEFT_EXAMPLES_HTTP_REQUEST_PARSER_H_
