#include "tests/examples/http_parser_check.h"

#include <string_view>

#include "examples/http/request_parser.h"

namespace weft::http {
namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

// Properties, for any bytes D:
// 1. kComplete: 0 < size <= |D|; method and target lie inside D; the request is
//    self-delimiting: D[:size] and D + "GET" parse to the same size.
// 2. kIncomplete: no proper prefix of D parses as complete.
// 3. kError carries a reason.
std::string check_http_parser(const uint8_t* data, size_t size) {
  const HttpRequestParser parser;
  std::string_view d(reinterpret_cast<const char*>(data), size);
  HttpRequest req;
  ParseStatus status = parser.parse(d, req);
  switch (status) {
    case ParseStatus::kComplete: {
      if (req.size == 0 || req.size > d.size()) return "complete with size " + std::to_string(req.size);
      if (!inside(req.method, d) || !inside(req.target, d)) return "views outside the input";
      HttpRequest again;
      if (parser.parse(d.substr(0, req.size), again) != ParseStatus::kComplete || again.size != req.size) {
        return "the request alone does not parse to the same size";
      }
      std::string longer(d);
      longer += "GET";
      if (parser.parse(longer, again) != ParseStatus::kComplete || again.size != req.size) {
        return "bytes after the request change its size";
      }
      return "";
    }
    case ParseStatus::kIncomplete: {
      for (size_t n = 0; n < d.size(); n += 1 + n / 8) {
        HttpRequest prefix;
        if (parser.parse(d.substr(0, n), prefix) == ParseStatus::kComplete) {
          return "a prefix of " + std::to_string(n) + " bytes is complete but the whole is not";
        }
      }
      return "";
    }
    case ParseStatus::kError:
      return req.error[0] == '\0' ? "an error without a reason" : "";
  }
  return "unknown status";
}

}  // namespace weft::http
