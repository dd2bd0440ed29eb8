#include "examples/http/request_parser.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace weft::http {
namespace {

// Per-request work is what W8 measures (bench/w8_http.sh): the parser looks at each byte of
// a typical request about once, through lookup tables and memchr, and compares header names
// only when their length matches one it cares about.

// RFC 9110 tchar: the characters of methods and header names.
constexpr std::array<bool, 256> kTokenChar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

constexpr std::array<char, 256> kLower = [] {
  std::array<char, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  return t;
}();

// ASCII case-insensitive equality; `lower` is in lower case already.
bool iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (kLower[static_cast<unsigned char>(a[i])] != lower[i]) return false;
  }
  return true;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
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

// The offset of the first "\r\n" in [p, end), or npos.
size_t find_crlf(const char* p, const char* end) {
  const char* begin = p;
  while (p < end) {
    const char* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p)));
    if (!cr || cr + 1 >= end) return std::string_view::npos;
    if (cr[1] == '\n') return static_cast<size_t>(cr - begin);
    p = cr + 1;
  }
  return std::string_view::npos;
}

// Where the lines of a head end (offsets of their CRLF from the head's start), as found by
// the search for the head's end, so that the lines need not be searched again. Only the
// first kMax are kept; the lines after those are searched for.
struct LineEnds {
  static constexpr size_t kMax = 32;
  uint32_t at[kMax];
  size_t n = 0;
};

// The offset of the first "\r\n\r\n" in [p, end), or npos; records the CRLFs before it.
size_t find_head_end(const char* p, const char* end, LineEnds& lines) {
  const char* begin = p;
  while (end - p >= 4) {
    const char* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p - 3)));
    if (!cr) return std::string_view::npos;
    if (cr[1] == '\n') {
      size_t offset = static_cast<size_t>(cr - begin);
      if (lines.n < LineEnds::kMax) lines.at[lines.n++] = static_cast<uint32_t>(offset);
      if (cr[2] == '\r' && cr[3] == '\n') return offset;
      p = cr + 2;  // the next '\r' to consider is at cr + 2 at the earliest
    } else {
      p = cr + 1;
    }
  }
  return std::string_view::npos;
}

ParseStatus fail(HttpRequest& out, const char* why) {
  out.error = why;
  return ParseStatus::kError;
}

// One header field line (no CRLF) of the head; updates `out`. The field is followed by the
// '\r' of its CRLF (inside the head), which is not a token character: the name's scan
// stops there at the latest without a bounds check.
ParseStatus parse_field(std::string_view field, bool& have_length, HttpRequest& out) {
  // The name runs up to the first non-token character, which must be the colon.
  const char* const chars = field.data();  // chars[field.size()] is the '\r'
  size_t colon = 0;
  while (kTokenChar[static_cast<unsigned char>(chars[colon])]) ++colon;
  if (colon == 0 || colon == field.size() || chars[colon] != ':') {
    return fail(out, "malformed header field");
  }
  std::string_view name = field.substr(0, colon);
  // Only three names matter; most fields (Host, Accept, User-Agent...) differ in length.
  switch (name.size()) {
    case 10:  // Connection
      if (iequals(name, "connection")) {
        std::string_view value = trim(field.substr(colon + 1));
        if (lists(value, "close")) out.keep_alive = false;
        if (lists(value, "keep-alive")) out.keep_alive = true;
      }
      break;
    case 14:  // Content-Length
      if (iequals(name, "content-length")) {
        std::string_view value = trim(field.substr(colon + 1));
        if (value.empty()) return fail(out, "malformed Content-Length");
        size_t n = 0;
        for (char c : value) {
          if (c < '0' || c > '9') return fail(out, "malformed Content-Length");
          n = n * 10 + static_cast<size_t>(c - '0');
          if (n > HttpRequestParser::kMaxBodyBytes) return fail(out, "body too large");
        }
        if (have_length && n != out.content_length) return fail(out, "conflicting Content-Length");
        have_length = true;
        out.content_length = n;
      }
      break;
    case 17:  // Transfer-Encoding
      if (iequals(name, "transfer-encoding")) return fail(out, "Transfer-Encoding is not supported");
      break;
    default:
      break;
  }
  return ParseStatus::kComplete;
}

}  // namespace

ParseStatus HttpRequestParser::parse(std::string_view data, HttpRequest& out) const {
  out = HttpRequest{};
  // Tolerate empty lines before a request (RFC 9112 2.2).
  size_t start = 0;
  while (start + 1 < data.size() && data[start] == '\r' && data[start + 1] == '\n') start += 2;
  const char* const head_begin = data.data() + start;
  LineEnds lines;
  size_t head_size = find_head_end(head_begin, data.data() + data.size(), lines);
  if (head_size == std::string_view::npos) {
    if (data.size() - start > kMaxHeaderBytes) return fail(out, "header block too large");
    return ParseStatus::kIncomplete;
  }
  if (head_size > kMaxHeaderBytes) return fail(out, "header block too large");
  const char* const head_end = head_begin + head_size;
  // The CRLF ending line i (i >= 1 when lines.n is exhausted), searched for past the
  // recorded ones. npos: the line runs to the head's end.
  auto line_end = [&](size_t i, const char* from) -> size_t {
    if (i < lines.n) return lines.at[i] < head_size ? lines.at[i] : std::string_view::npos;
    if (lines.n < LineEnds::kMax) return std::string_view::npos;  // no CRLF left in the head
    size_t rel = find_crlf(from, head_end);
    return rel == std::string_view::npos ? rel : static_cast<size_t>(from - head_begin) + rel;
  };

  // Request line: METHOD SP target SP HTTP/1.x
  size_t line_size = line_end(0, head_begin);
  if (line_size == std::string_view::npos) line_size = head_size;
  const char* const line_stop = head_begin + line_size;
  // The method: token characters up to the first space. The line ends with '\r' (not a
  // token character) inside the head, so the scan needs no bounds check.
  const char* sp1 = head_begin;
  while (kTokenChar[static_cast<unsigned char>(*sp1)]) ++sp1;
  if (*sp1 != ' ') {
    return fail(out, std::memchr(sp1, ' ', static_cast<size_t>(line_stop - sp1)) ? "malformed method"
                                                                                : "malformed request line");
  }
  const char* sp2 = sp1 + 1;
  while (sp2 < line_stop && *sp2 != ' ') ++sp2;
  if (sp2 == line_stop) return fail(out, "malformed request line");
  out.method = std::string_view(head_begin, static_cast<size_t>(sp1 - head_begin));
  out.target = std::string_view(sp1 + 1, static_cast<size_t>(sp2 - sp1 - 1));
  std::string_view version(sp2 + 1, static_cast<size_t>(line_stop - sp2 - 1));
  if (out.method.empty()) return fail(out, "malformed method");
  // The target holds no space: sp2 is the first one after sp1.
  if (out.target.empty()) return fail(out, "malformed target");
  if (version.size() != 8 || std::memcmp(version.data(), "HTTP/1.", 7) != 0 || version[7] < '0' ||
      version[7] > '9') {
    return fail(out, "unsupported HTTP version");
  }
  out.version_minor = version[7] - '0';
  out.keep_alive = out.version_minor >= 1;

  // Header fields, one per CRLF-terminated line up to the head's end.
  bool have_length = false;
  const char* p = line_size < head_size ? line_stop + 2 : head_end;
  for (size_t i = 1; p < head_end; ++i) {
    size_t eol = line_end(i, p);
    const char* field_end = eol == std::string_view::npos ? head_end : head_begin + eol;
    ParseStatus status =
        parse_field(std::string_view(p, static_cast<size_t>(field_end - p)), have_length, out);
    if (status != ParseStatus::kComplete) return status;
    p = eol == std::string_view::npos ? head_end : field_end + 2;
  }
  size_t total = start + head_size + 4 + out.content_length;
  if (data.size() < total) return ParseStatus::kIncomplete;
  out.size = total;
  return ParseStatus::kComplete;
}

}  // namespace weft::http
