#include <gtest/gtest.h>

#include <string>

#include "proxy/http/parser.h"

namespace ne::proxy {
namespace {

using P = MessageParser;

// Feeds `text` in pieces of `step` bytes, each call seeing everything so far (as the client
// connection does with its input buffer). Returns the final progress.
P::Progress feed(P& p, const std::string& text, size_t step = 0) {
    if (step == 0) return p.parse_head(text);
    P::Progress last = P::Progress::need_more;
    for (size_t n = step; last == P::Progress::need_more; n += step) {
        last = p.parse_head(std::string_view(text).substr(0, std::min(n, text.size())));
        if (n >= text.size()) break;
    }
    return last;
}

class RequestParserTest : public ::testing::Test {
protected:
    P::Progress parse(const std::string& text, size_t step = 0) {
        p.begin();
        buffer = text;
        return feed(p, buffer, step);
    }
    int status_of(const std::string& text) {
        EXPECT_EQ(parse(text), P::Progress::error) << text;
        return p.failure().status;
    }
    P p{P::Type::request, {}};
    std::string buffer;
};

TEST_F(RequestParserTest, SimpleGet) {
    ASSERT_EQ(parse("GET /a?b HTTP/1.1\r\nHost: x.test\r\nAccept: */*\r\nX-Empty:\r\n\r\nNEXT"),
              P::Progress::head_complete);
    EXPECT_EQ(p.method(), HTTP_GET);
    EXPECT_EQ(p.method_name(), "GET");
    EXPECT_EQ(p.target(), "/a?b");
    EXPECT_EQ(p.http_minor(), 1);
    ASSERT_EQ(p.headers().size(), 3u);
    EXPECT_EQ(p.header("host"), "x.test");
    EXPECT_EQ(p.header("X-EMPTY"), "");
    EXPECT_EQ(p.header_count("accept"), 1u);
    EXPECT_TRUE(p.keep_alive());
    EXPECT_EQ(p.framing(), Framing::none);
    EXPECT_EQ(buffer.substr(p.head_size()), "NEXT");
}

TEST_F(RequestParserTest, ByteByByteGivesTheSameHead) {
    const std::string text = "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nX-Long: " +
                             std::string(300, 'v') + "\r\n\r\nhello";
    ASSERT_EQ(parse(text, 1), P::Progress::head_complete);
    EXPECT_EQ(p.target(), "/upload");
    EXPECT_EQ(p.header("x-long"), std::string(300, 'v'));
    EXPECT_EQ(p.framing(), Framing::length);
    EXPECT_EQ(p.content_length(), 5u);
    EXPECT_EQ(buffer.substr(p.head_size()), "hello");
}

TEST_F(RequestParserTest, KeepAliveRules) {
    ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"), P::Progress::head_complete);
    EXPECT_FALSE(p.keep_alive());
    ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n"), P::Progress::head_complete);
    EXPECT_FALSE(p.keep_alive());
    ASSERT_EQ(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), P::Progress::head_complete);
    EXPECT_TRUE(p.keep_alive());
}

TEST_F(RequestParserTest, Limits) {
    EXPECT_EQ(status_of("GET /" + std::string(8200, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n"), 414);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(17000, 'a') + "\r\n\r\n"), 431);
    std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 100; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    EXPECT_EQ(status_of(many + "\r\n"), 431);
    // Whitespace llhttp skips silently still counts against the head.
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX-Pad:" + std::string(40000, ' ') + "v\r\n\r\n"), 431);
}

TEST_F(RequestParserTest, LimitsHitWhileStreaming) {
    EXPECT_EQ(parse("GET /" + std::string(9000, 'a'), 512), P::Progress::error);
    EXPECT_EQ(p.failure().status, 414);
}

TEST_F(RequestParserTest, AmbiguousFramingIs400) {
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"), 400);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"), 400);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc"), 400);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\na"), 400);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 400);
    EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), 400);
}

TEST_F(RequestParserTest, HostRules) {
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    EXPECT_EQ(parse("GET / HTTP/1.0\r\n\r\n"), P::Progress::head_complete);
}

TEST_F(RequestParserTest, MalformedLinesAre400) {
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX-F: a\r\n b\r\n\r\n"), 400);   // obs-fold
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX-F: a\r\n\tb\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1\nHost: h\n\n"), 400);                          // bare LF
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400);                   // space before colon
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET /\r\n\r\n"), 400);                                        // HTTP/0.9
    EXPECT_EQ(status_of("BREW / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

TEST_F(RequestParserTest, NewerVersionIs505) {
    EXPECT_EQ(status_of("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
}

TEST_F(RequestParserTest, UpgradeAndConnect) {
    ASSERT_EQ(parse("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
              P::Progress::head_complete);
    EXPECT_TRUE(p.upgrade());
    ASSERT_EQ(parse("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n"), P::Progress::head_complete);
    EXPECT_FALSE(p.upgrade());
    ASSERT_EQ(parse("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"), P::Progress::head_complete);
    EXPECT_EQ(p.method(), HTTP_CONNECT);
}

TEST_F(RequestParserTest, FramingOfRequests) {
    ASSERT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tChunked \r\n\r\n5\r\n"),
              P::Progress::head_complete);
    EXPECT_EQ(p.framing(), Framing::chunked);
    EXPECT_EQ(buffer.substr(p.head_size()), "5\r\n");
    ASSERT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  005 \r\n\r\n"), P::Progress::head_complete);
    EXPECT_EQ(p.framing(), Framing::length);
    EXPECT_EQ(p.content_length(), 5u);
    EXPECT_EQ(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

TEST_F(RequestParserTest, HostAndTargetForms) {
    for (const char* host : {"h.test", "h.test:8080", "[::1]:80", "10.0.0.1", "xn--bcher-kva.test", ""}) {
        EXPECT_EQ(parse(std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n"), P::Progress::head_complete)
            << host;
    }
    for (const char* host : {"h.test other", "user@h.test", "h.test/x", "h.test:8o", "[::1"})
        EXPECT_EQ(status_of(std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n"), 400) << host;
    ASSERT_EQ(parse("GET http://other.example/abs?q=1 HTTP/1.1\r\nHost: h\r\n\r\n"), P::Progress::head_complete);
    EXPECT_EQ(p.target(), "http://other.example/abs?q=1");
    EXPECT_EQ(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), P::Progress::head_complete);
    EXPECT_EQ(status_of("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET http://user@other.example/x HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET other.example:80 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

TEST_F(RequestParserTest, NextMessageAfterBegin) {
    ASSERT_EQ(parse("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"), P::Progress::head_complete);
    p.begin();
    std::string second = "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
    ASSERT_EQ(p.parse_head(second), P::Progress::head_complete);
    EXPECT_EQ(p.target(), "/2");
}

class ResponseParserTest : public ::testing::Test {
protected:
    P::Progress parse(const std::string& text, bool head_request = false) {
        p.begin(head_request);
        buffer = text;
        return p.parse_head(buffer);
    }
    P p{P::Type::response, {8192, 65536, 200}};
    std::string buffer;
};

TEST_F(ResponseParserTest, Framings) {
    ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), P::Progress::head_complete);
    EXPECT_EQ(p.status(), 200);
    EXPECT_EQ(p.reason(), "OK");
    EXPECT_EQ(p.framing(), Framing::length);
    EXPECT_EQ(p.content_length(), 5u);
    EXPECT_TRUE(p.keep_alive());

    ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), P::Progress::head_complete);
    EXPECT_EQ(p.framing(), Framing::chunked);

    ASSERT_EQ(parse("HTTP/1.1 200 OK\r\n\r\nuntil close"), P::Progress::head_complete);
    EXPECT_EQ(p.framing(), Framing::until_close);
    EXPECT_FALSE(p.keep_alive());

    ASSERT_EQ(parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx"), P::Progress::head_complete);
    EXPECT_FALSE(p.keep_alive());
}

TEST_F(ResponseParserTest, NoBodyAnswers) {
    ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true), P::Progress::head_complete);
    EXPECT_EQ(p.framing(), Framing::none);
    EXPECT_TRUE(p.has_content_length());
    EXPECT_EQ(p.content_length(), 5u);
    EXPECT_TRUE(p.keep_alive());
    for (const char* s : {"204 No Content", "304 Not Modified", "100 Continue"}) {
        ASSERT_EQ(parse(std::string("HTTP/1.1 ") + s + "\r\nContent-Length: 3\r\n\r\n"), P::Progress::head_complete);
        EXPECT_EQ(p.framing(), Framing::none) << s;
    }
}

TEST_F(ResponseParserTest, SwitchingProtocols) {
    ASSERT_EQ(parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw"),
              P::Progress::head_complete);
    EXPECT_EQ(p.status(), 101);
    EXPECT_TRUE(p.upgrade());
    EXPECT_EQ(buffer.substr(p.head_size()), "raw");
}

TEST_F(ResponseParserTest, GarbageIsAnError) {
    EXPECT_EQ(parse("SSH-2.0-OpenSSH\r\n\r\n"), P::Progress::error);
    EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n"), P::Progress::error);
}

}  // namespace
}  // namespace ne::proxy
