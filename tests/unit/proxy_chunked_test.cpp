// The chunked decoder against RFC 9112 7.1, including the forms parsers disagree on.
#include <gtest/gtest.h>

#include <string>

#include "proxy/http/chunked.h"

namespace ne::proxy {
namespace {

struct Collect : ChunkedDecoder::Sink {
    void on_data(std::string_view d) override { data.append(d); }
    std::string data;
};

struct Outcome {
    ChunkedDecoder::Status status;
    std::string data;
    std::string rest;   // bytes after the body
};

// Feeds `body` in pieces of `step` bytes (0: at once).
Outcome decode(const std::string& body, size_t step = 0) {
    ChunkedDecoder d;
    Collect sink;
    size_t at = 0;
    ChunkedDecoder::Status status = ChunkedDecoder::Status::more;
    while (at < body.size() && status == ChunkedDecoder::Status::more) {
        size_t n = step == 0 ? body.size() - at : std::min(step, body.size() - at);
        auto s = d.feed(std::string_view(body).substr(at, n), sink);
        at += s.consumed;
        status = s.status;
        if (s.consumed < n && status == ChunkedDecoder::Status::more) break;
    }
    return {status, sink.data, body.substr(at)};
}

using S = ChunkedDecoder::Status;

TEST(Chunked, DecodesAndStopsAtTheEnd) {
    auto o = decode("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET /next");
    EXPECT_EQ(o.status, S::done);
    EXPECT_EQ(o.data, "hello world");
    EXPECT_EQ(o.rest, "GET /next");
}

TEST(Chunked, ByteByByte) {
    auto o = decode("5;a=b\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: v\r\n\r\nNEXT", 1);
    EXPECT_EQ(o.status, S::done);
    EXPECT_EQ(o.data, "hello0123456789");
    EXPECT_EQ(o.rest, "NEXT");
}

TEST(Chunked, UpperAndLowerHexAndLeadingZeros) {
    auto o = decode("0000a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n");
    EXPECT_EQ(o.status, S::done);
    EXPECT_EQ(o.data, "0123456789abcdefghijk");
}

TEST(Chunked, ExtensionsAreAcceptedAndDropped) {
    for (const char* body : {"5;name=value;flag\r\nhello\r\n0;last\r\n\r\n",
                             "5;q=\"a b;c\"\r\nhello\r\n0\r\n\r\n",
                             "5;q=\"esc \\\" quote\"\r\nhello\r\n0\r\n\r\n",
                             "5\r\nhello\r\n0\r\nX-Trailer: t\r\nX-Other:\r\n\r\n"}) {
        auto o = decode(body);
        EXPECT_EQ(o.status, S::done) << body;
        EXPECT_EQ(o.data, "hello") << body;
    }
}

TEST(Chunked, TrailersAreKeptLineByLine) {
    ChunkedDecoder d;
    Collect sink;
    const std::string body = "5\r\nhello\r\n0\r\ngrpc-status: 0\r\nGrpc-Message: all  good \r\n\r\nNEXT";
    for (char c : body.substr(0, body.size() - 4)) d.feed(std::string_view(&c, 1), sink);
    EXPECT_EQ(d.trailers(), "grpc-status: 0\r\nGrpc-Message: all  good \r\n");
    const auto fields = trailer_fields(d.trailers());
    ASSERT_EQ(fields.size(), 2u);
    EXPECT_EQ(fields[0].name, "grpc-status");
    EXPECT_EQ(fields[0].value, "0");
    EXPECT_EQ(fields[1].name, "Grpc-Message");
    EXPECT_EQ(fields[1].value, "all  good");
    d.reset();
    EXPECT_EQ(d.trailers(), "");
}

TEST(Chunked, TrailerFieldsLeaveOutFramingAndHopByHop) {
    const auto fields = trailer_fields("Content-Length: 5\r\nx-a: 1\r\nTransfer-Encoding: chunked\r\nHost: h\r\n"
                                       "Connection: close\r\nTE: trailers\r\n");
    ASSERT_EQ(fields.size(), 1u);
    EXPECT_EQ(fields[0].name, "x-a");
}

TEST(Chunked, MalformedIsAnError) {
    for (const std::string body : std::initializer_list<std::string>{
             "0x5\r\nhello\r\n0\r\n\r\n",                // 0x prefix
             "-5\r\nhello\r\n0\r\n\r\n",                 // negative
             "10000000000000005\r\nhello\r\n0\r\n\r\n",  // 17 hex digits
             "5g\r\nhello\r\n0\r\n\r\n",                 // trailing letter
             "5 \r\nhello\r\n0\r\n\r\n",                 // trailing space
             "\r\nhello\r\n0\r\n\r\n",                   // empty size
             "3\r\nhello\r\n0\r\n\r\n",                  // data longer than its size
             "6\r\nhello\r\n0\r\n\r\n",                  // shorter
             "5\nhello\n0\n\n",                          // bare LF
             "5\r\nhelloXX0\r\n\r\n",                    // no CRLF after data
             "5;a\rb\r\nhello\r\n0\r\n\r\n",             // bare CR in an extension
             "5;a=\"b\nc\"\r\nhello\r\n0\r\n\r\n",       // LF in a quoted value
             "5;a=\"b\r\nX-Injected: 1\r\n\"\r\nhello\r\n0\r\n\r\n",
             "5 ;a=b\r\nhello\r\n0\r\n\r\n",             // whitespace before ';'
             "5; a=b\r\nhello\r\n0\r\n\r\n",             // and after it
             "5;a =b\r\nhello\r\n0\r\n\r\n",
             "5;=b\r\nhello\r\n0\r\n\r\n",               // no name
             "5;a=\x01\r\nhello\r\n0\r\n\r\n",
             {"5;a=\0b\r\nhello\r\n0\r\n\r\n", 17},
             "0\r\nGET /smuggled HTTP/1.1\r\n\r\n",     // a request where a trailer goes
             "0\r\n X-Folded: t\r\n\r\n",               // trailer obs-fold
             "0\r\nX-T: a\rb\r\n\r\n",
             "0\r\n\n",
         }) {
        EXPECT_EQ(decode(body).status, S::error) << body;
        EXPECT_EQ(decode(body, 1).status, S::error) << "byte by byte: " << body;
    }
}

TEST(Chunked, IncompleteIsMore) {
    EXPECT_EQ(decode("5\r\nhel").status, S::more);
    EXPECT_EQ(decode("5\r\nhello\r\n0\r\n").status, S::more);
}

TEST(Chunked, LongSizeLineIsRefused) {
    EXPECT_EQ(decode("5;" + std::string(5000, 'a') + "\r\nhello\r\n0\r\n\r\n").status, S::error);
    EXPECT_EQ(decode("0\r\nX: " + std::string(20000, 't') + "\r\n\r\n").status, S::error);
}

TEST(Chunked, ErrorsSayWhy) {
    ChunkedDecoder d;
    Collect sink;
    EXPECT_EQ(d.feed("5\r\nhelloXX", sink).status, S::error);
    EXPECT_STREQ(d.error(), "chunk data longer than its size");
}

}  // namespace
}  // namespace ne::proxy
