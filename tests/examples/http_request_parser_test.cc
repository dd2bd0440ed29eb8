// Tests for examples/http/request_parser: complete, split and pipelined requests,
// keep-alive rules, bodies, and malformed input.
#include "examples/http/request_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace weft::http {
namespace {

ParseStatus parse(std::string_view data, HttpRequest& req) { return HttpRequestParser().parse(data, req); }

TEST(HttpRequestParserTest, SimpleGet) {
  HttpRequest req;
  std::string data = "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(parse(data, req), ParseStatus::kComplete);
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "/plaintext");
  EXPECT_EQ(req.version_minor, 1);
  EXPECT_TRUE(req.keep_alive);
  EXPECT_EQ(req.size, data.size());
}

TEST(HttpRequestParserTest, EveryPrefixIsIncomplete) {
  std::string data = "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
  for (size_t n = 0; n < data.size(); ++n) {
    HttpRequest req;
    EXPECT_EQ(parse(data.substr(0, n), req), ParseStatus::kIncomplete) << n;
  }
  HttpRequest req;
  EXPECT_EQ(parse(data, req), ParseStatus::kComplete);
  EXPECT_EQ(req.content_length, 3u);
  EXPECT_EQ(req.size, data.size());
}

TEST(HttpRequestParserTest, PipelinedRequestsParseOneAfterAnother) {
  std::string one = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string two = "POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
  std::string three = "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n";
  std::string data = one + two + three;
  std::string_view rest = data;
  std::vector<std::string> targets;
  HttpRequest req;
  while (parse(rest, req) == ParseStatus::kComplete) {
    targets.emplace_back(req.target);
    rest.remove_prefix(req.size);
    if (!req.keep_alive) break;
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"/a", "/b", "/c"}));
  EXPECT_TRUE(rest.empty());
}

TEST(HttpRequestParserTest, KeepAliveRules) {
  HttpRequest req;
  ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", req), ParseStatus::kComplete);
  EXPECT_FALSE(req.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", req), ParseStatus::kComplete);
  EXPECT_TRUE(req.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nconnection: upgrade, close\r\n\r\n", req), ParseStatus::kComplete);
  EXPECT_FALSE(req.keep_alive);
}

TEST(HttpRequestParserTest, LeadingEmptyLinesAreSkipped) {
  HttpRequest req;
  std::string data = "\r\nGET / HTTP/1.1\r\n\r\n";
  ASSERT_EQ(parse(data, req), ParseStatus::kComplete);
  EXPECT_EQ(req.size, data.size());
}

TEST(HttpRequestParserTest, MalformedInputIsAnError) {
  const char* bad[] = {
      "GARBAGE\r\n\r\n",
      "GET /\r\n\r\n",
      "GET / HTTP/2.0\r\n\r\n",
      "G(T / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
  };
  for (const char* b : bad) {
    HttpRequest req;
    EXPECT_EQ(parse(b, req), ParseStatus::kError) << b;
    EXPECT_STRNE(req.error, "") << b;
  }
}

// Lines of many lengths (so that every CRLF lands at every offset of a word or vector, for
// whatever search finds the head's end), a lone '\r' before the last CRLF: each request
// parses whole, each of its prefixes is incomplete, and a following request is not counted.
TEST(HttpRequestParserTest, LinesOfEveryLength) {
  for (size_t target = 1; target < 40; ++target) {
    for (size_t value = 0; value < 20; ++value) {
      std::string data = "GET /" + std::string(target, 't') + " HTTP/1.1\r\nX: " +
                         std::string(value, 'v') + "\r\nY: \r\r\n\r\n";
      HttpRequest req;
      ASSERT_EQ(parse(data, req), ParseStatus::kComplete) << data;
      EXPECT_EQ(req.size, data.size());
      EXPECT_EQ(req.target.size(), target + 1);
      for (size_t n = 0; n < data.size(); ++n) {
        ASSERT_EQ(parse(std::string_view(data).substr(0, n), req), ParseStatus::kIncomplete)
            << n << " of " << data;
      }
      // The same head followed by the next request: only the first one's size.
      std::string two = data + data;
      ASSERT_EQ(parse(two, req), ParseStatus::kComplete);
      EXPECT_EQ(req.size, data.size());
    }
  }
}

TEST(HttpRequestParserTest, OversizedHeaderBlockIsAnErrorEvenIncomplete) {
  std::string data = "GET / HTTP/1.1\r\nX: " + std::string(HttpRequestParser::kMaxHeaderBytes, 'a');
  HttpRequest req;
  EXPECT_EQ(parse(data, req), ParseStatus::kError);
}

}  // namespace
}  // namespace weft::http
