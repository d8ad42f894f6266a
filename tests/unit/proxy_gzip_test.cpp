#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <string>
#include <vector>

#include "proxy/http/gzip.h"
#include "unit/proxy_gunzip.h"

namespace ne::proxy {
namespace {

// Records each write, to check the pieces stay bounded.
class PieceSink final : public ByteSink {
public:
    void write(std::string_view bytes) override {
        pieces.push_back(bytes.size());
        all.append(bytes);
    }
    std::vector<size_t> pieces;
    std::string all;
};

std::string sample_text(size_t size) {
    std::string s;
    for (size_t i = 0; s.size() < size; ++i)
        s += "{\"id\":" + std::to_string(i) + ",\"name\":\"item " + std::to_string(i * 7919 % 1000) + "\"},\n";
    s.resize(size);
    return s;
}

// Bytes deflate cannot shrink, so the output is larger than one chunk per write.
std::string noise(size_t size) {
    std::string s(size, '\0');
    uint32_t x = 2463534242u;
    for (char& c : s) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<char>(x);
    }
    return s;
}

TEST(GzipEncoder, RoundTripsABodyFedInPieces) {
    const std::string body = sample_text(1 << 20);
    auto enc = GzipEncoder::create(6);
    ASSERT_TRUE(enc.ok()) << enc.error().message;
    std::string out;
    StringSink sink(out);
    for (size_t off = 0, step = 1; off < body.size(); off += step, step = step * 3 % 9973 + 1)
        ASSERT_TRUE(enc->feed(std::string_view(body).substr(off, step), sink).ok());
    ASSERT_TRUE(enc->finish(sink).ok());
    EXPECT_LT(out.size(), body.size() / 4);   // it did compress
    EXPECT_EQ(gunzip(out), body);
    EXPECT_EQ(enc->bytes_in(), body.size());
    EXPECT_EQ(enc->bytes_out(), out.size());
}

TEST(GzipEncoder, OutputComesInBoundedPieces) {
    const std::string body = noise(200 * 1024);
    auto enc = GzipEncoder::create(1);
    ASSERT_TRUE(enc.ok());
    PieceSink sink;
    ASSERT_TRUE(enc->feed(body, sink).ok());
    ASSERT_TRUE(enc->finish(sink).ok());
    ASSERT_GT(sink.pieces.size(), 1u);
    EXPECT_LE(*std::max_element(sink.pieces.begin(), sink.pieces.end()), GzipEncoder::kChunk);
    EXPECT_EQ(gunzip(sink.all), body);
}

TEST(GzipEncoder, FlushEmitsEverythingFedSoFar) {
    auto enc = GzipEncoder::create(9);
    ASSERT_TRUE(enc.ok());
    std::string out;
    StringSink sink(out);
    ASSERT_TRUE(enc->feed("data: first event\n\n", sink).ok());
    ASSERT_TRUE(enc->flush(sink).ok());
    EXPECT_EQ(gunzip(out, /*expect_end=*/false), "data: first event\n\n");
    ASSERT_TRUE(enc->feed("data: second\n\n", sink).ok());
    ASSERT_TRUE(enc->finish(sink).ok());
    EXPECT_EQ(gunzip(out), "data: first event\n\ndata: second\n\n");
}

TEST(GzipEncoder, EmptyBodyIsAValidStream) {
    auto enc = GzipEncoder::create(6);
    ASSERT_TRUE(enc.ok());
    std::string out;
    StringSink sink(out);
    ASSERT_TRUE(enc->finish(sink).ok());
    EXPECT_FALSE(out.empty());
    EXPECT_EQ(gunzip(out), "");
}

TEST(GzipEncoder, NothingAfterFinishAndLevelIsChecked) {
    auto enc = GzipEncoder::create(6);
    ASSERT_TRUE(enc.ok());
    std::string out;
    StringSink sink(out);
    ASSERT_TRUE(enc->finish(sink).ok());
    EXPECT_FALSE(enc->feed("late", sink).ok());
    EXPECT_FALSE(enc->finish(sink).ok());
    for (int level : {0, 10, -1}) {
        auto bad = GzipEncoder::create(level);
        ASSERT_FALSE(bad.ok());
        EXPECT_NE(bad.error().message.find(std::to_string(level)), std::string::npos);
    }
}

TEST(GzipEncoder, MovedEncoderKeepsWorking) {
    auto made = GzipEncoder::create(6);
    ASSERT_TRUE(made.ok());
    GzipEncoder enc = std::move(made).value();
    std::string out;
    StringSink sink(out);
    ASSERT_TRUE(enc.feed("moved", sink).ok());
    GzipEncoder again = std::move(enc);
    ASSERT_TRUE(again.finish(sink).ok());
    EXPECT_EQ(gunzip(out), "moved");
}

TEST(AcceptEncoding, GzipAcceptance) {
    struct Case {
        const char* header;
        bool accepts;
    };
    for (const Case& c : std::vector<Case>{
             {"gzip", true},
             {"GZip", true},
             {"x-gzip", true},
             {"deflate, gzip;q=1.0, br", true},
             {"gzip;q=0.001", true},
             {"gzip; q=0.5", true},
             {"gzip;level=1", true},
             {"*", true},
             {"br, *;q=0.1", true},
             {"gzip;q=0", false},
             {"gzip; Q=0.000", false},
             {"gzip;q=0, *", false},            // naming gzip with q=0 beats the wildcard
             {"*;q=0", false},
             {"gzip;q=abc", false},             // not a qvalue: counts as 0
             {"gzip;q=.5", false},
             {"identity", false},
             {"br, deflate", false},
             {"", false},
             {"gzipx", false},
         })
        EXPECT_EQ(accepts_gzip(c.header), c.accepts) << '"' << c.header << '"';
}

config::Gzip on(std::vector<std::string> types = {"text/html", "application/json"}, uint64_t min_length = 256) {
    config::Gzip g;
    g.enabled = true;
    g.min_length = min_length;
    g.types = std::move(types);
    return g;
}

GzipQuery json_ok() {
    GzipQuery q;
    q.accepts_gzip = accepts_gzip("gzip, br");
    q.status = 200;
    q.content_type = "application/json; charset=utf-8";
    q.content_length = 10000;
    return q;
}

void expect(const GzipQuery& q, const config::Gzip& g, bool vary, bool compress, const char* what) {
    const GzipDecision d = should_compress(q, g);
    EXPECT_EQ(d.vary, vary) << what;
    EXPECT_EQ(d.compress, compress) << what;
}

TEST(ShouldCompress, DecisionTable) {
    expect(json_ok(), on(), true, true, "listed type, long, accepted");

    config::Gzip off = on();
    off.enabled = false;
    expect(json_ok(), off, false, false, "gzip off");

    GzipQuery q = json_ok();
    q.accepts_gzip = accepts_gzip("identity");
    expect(q, on(), true, false, "client does not take gzip: still Vary");

    q = json_ok();
    q.accepts_gzip = accepts_gzip("gzip;q=0");
    expect(q, on(), true, false, "q=0");

    for (int status : {204, 206, 301, 304, 500, 502}) {
        q = json_ok();
        q.status = status;
        expect(q, on(), false, false, ("status " + std::to_string(status)).c_str());
    }
    for (int status : {403, 404}) {
        q = json_ok();
        q.status = status;
        expect(q, on(), true, true, ("status " + std::to_string(status)).c_str());
    }

    q = json_ok();
    q.head = true;
    expect(q, on(), false, false, "HEAD");

    q = json_ok();
    q.content_encoding = "br";
    expect(q, on(), false, false, "already encoded");
    q.content_encoding = " identity ";
    expect(q, on(), true, true, "identity is no encoding");

    q = json_ok();
    q.cache_control = "public, No-Transform";
    expect(q, on(), false, false, "no-transform");
    q.cache_control = "max-age=60";
    expect(q, on(), true, true, "other cache-control");

    q = json_ok();
    q.content_length = 255;
    expect(q, on(), false, false, "shorter than min_length");
    q.content_length = 256;
    expect(q, on(), true, true, "exactly min_length");
    q.content_length = std::nullopt;
    expect(q, on(), true, true, "unknown length (chunked)");

    q = json_ok();
    q.content_type = "text/css";
    expect(q, on(), false, false, "type not listed");
    expect(q, on({"text/*"}), true, true, "type/* wildcard");
    expect(q, on({"*"}), true, true, "* lists everything");
    q.content_type = "text/html";
    expect(q, on({"application/json"}), true, true, "text/html is always listed");
    q.content_type = "";
    expect(q, on({"*"}), false, false, "no Content-Type");

    q = json_ok();
    q.content_type = "image/png";
    expect(q, on({"*"}), false, false, "* never takes incompressible types");
    expect(q, on({"image/png"}), false, false, "listed but incompressible");
    q.content_type = "application/zip";
    expect(q, on({"*"}), false, false, "zip");
}

}  // namespace
}  // namespace ne::proxy
