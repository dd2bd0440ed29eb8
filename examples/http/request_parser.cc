#include "examples/http/request_parser.h"

#include <cctype>

namespace weft::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A token character (RFC 9110 tchar), for methods and header names.
bool is_tchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

// Whether a comma-separated header value lists `option` (Connection: keep-alive, Upgrade).
bool lists(std::string_view value, std::string_view option) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), option)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

ParseStatus fail(HttpRequest& out, const char* why) {
  out.error = why;
  return ParseStatus::kError;
}

}  // namespace

ParseStatus HttpRequestParser::parse(std::string_view data, HttpRequest& out) const {
  out = HttpRequest{};
  // Tolerate empty lines before a request (RFC 9112 2.2).
  size_t start = 0;
  while (start + 1 < data.size() && data[start] == '\r' && data[start + 1] == '\n') start += 2;
  size_t head_end = data.find("\r\n\r\n", start);
  if (head_end == std::string_view::npos) {
    if (data.size() - start > kMaxHeaderBytes) return fail(out, "header block too large");
    return ParseStatus::kIncomplete;
  }
  if (head_end - start > kMaxHeaderBytes) return fail(out, "header block too large");
  std::string_view head = data.substr(start, head_end - start);

  // Request line: METHOD SP target SP HTTP/1.x
  size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return fail(out, "malformed request line");
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(out, "malformed request line");
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(out.method)) return fail(out, "malformed method");
  if (out.target.empty() || out.target.find(' ') != std::string_view::npos) {
    return fail(out, "malformed target");
  }
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' || version[7] > '9') {
    return fail(out, "unsupported HTTP version");
  }
  out.version_minor = version[7] - '0';
  out.keep_alive = out.version_minor >= 1;

  bool have_length = false;
  std::string_view rest = line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
  while (!rest.empty()) {
    size_t eol = rest.find("\r\n");
    std::string_view field = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    size_t colon = field.find(':');
    if (colon == std::string_view::npos || !is_token(field.substr(0, colon))) {
      return fail(out, "malformed header field");
    }
    std::string_view name = field.substr(0, colon);
    std::string_view value = trim(field.substr(colon + 1));
    if (iequals(name, "connection")) {
      if (lists(value, "close")) out.keep_alive = false;
      if (lists(value, "keep-alive")) out.keep_alive = true;
    } else if (iequals(name, "content-length")) {
      if (value.empty()) return fail(out, "malformed Content-Length");
      size_t n = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return fail(out, "malformed Content-Length");
        n = n * 10 + static_cast<size_t>(c - '0');
        if (n > kMaxBodyBytes) return fail(out, "body too large");
      }
      if (have_length && n != out.content_length) return fail(out, "conflicting Content-Length");
      have_length = true;
      out.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      return fail(out, "Transfer-Encoding is not supported");
    }
  }
  size_t total = head_end + 4 + out.content_length;
  if (data.size() < total) return ParseStatus::kIncomplete;
  out.size = total;
  return ParseStatus::kComplete;
}

}  // namespace weft::http
