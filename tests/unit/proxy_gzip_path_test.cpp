// gzip on the response path: a body pumped through the encoder and re-framed, a file read
// through it, encoder reuse, and the client head a compressed response gets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "ipc/event_ptr.h"
#include "proxy/static/file_body.h"
#include "proxy/http/forward_headers.h"
#include "proxy/http/gzip.h"
#include "proxy/upstream/relay.h"
#include "unit/evbuffer_text.h"
#include "unit/proxy_gunzip.h"

namespace ne::proxy {
namespace {

// The data of a chunked body; fails the test on bad framing. `ended`: the last chunk was seen.
std::string dechunk(const std::string& in, bool* ended = nullptr) {
    std::string out;
    size_t pos = 0;
    if (ended) *ended = false;
    while (pos < in.size()) {
        const size_t eol = in.find("\r\n", pos);
        EXPECT_NE(eol, std::string::npos);
        if (eol == std::string::npos) break;
        const size_t n = std::strtoul(in.substr(pos, eol - pos).c_str(), nullptr, 16);
        pos = eol + 2;
        if (n == 0) {
            EXPECT_EQ(in.substr(pos), "\r\n");
            if (ended) *ended = true;
            break;
        }
        out += in.substr(pos, n);
        pos += n;
        EXPECT_EQ(in.substr(pos, 2), "\r\n");
        pos += 2;
    }
    return out;
}

std::string json_text(size_t size) {
    std::string s;
    for (size_t i = 0; s.size() < size; ++i) s += "{\"id\":" + std::to_string(i) + ",\"ok\":true},";
    s.resize(size);
    return s;
}

class GzipPumpTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto e = GzipEncoder::create(6);
        ASSERT_TRUE(e.ok());
        enc = std::make_unique<GzipEncoder>(std::move(*e));
    }
    EvbufferPtr in{evbuffer_new()};
    EvbufferPtr out{evbuffer_new()};
    BodyPump pump;
    std::unique_ptr<GzipEncoder> enc;
};

TEST_F(GzipPumpTest, LengthBodyBecomesOneGzipStreamInChunks) {
    const std::string body = json_text(100000);
    pump.start(Framing::length, body.size(), Framing::chunked);
    pump.filter_through(enc.get());
    put(in.get(), body.substr(0, 40000));
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::more);
    // The input ran dry: what was fed so far can already be inflated by the client.
    bool ended = false;
    std::string wire = drain(out.get());
    EXPECT_EQ(gunzip(dechunk(wire, &ended), /*expect_end=*/false), body.substr(0, 40000));
    EXPECT_FALSE(ended);
    put(in.get(), body.substr(40000) + "GET /next");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::done);
    wire += drain(out.get());
    const std::string gz = dechunk(wire, &ended);
    EXPECT_TRUE(ended);
    EXPECT_LT(gz.size(), body.size() / 4);
    EXPECT_EQ(gunzip(gz), body);
    EXPECT_EQ(drain(in.get()), "GET /next");
}

TEST_F(GzipPumpTest, ChunkedBodyIsDecodedCompressedAndReframed) {
    pump.start(Framing::chunked, 0, Framing::chunked);
    pump.filter_through(enc.get());
    put(in.get(), "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::done);
    bool ended = false;
    EXPECT_EQ(gunzip(dechunk(drain(out.get()), &ended)), "hello world");
    EXPECT_TRUE(ended);
}

TEST_F(GzipPumpTest, UntilCloseToAnHttp10ClientIsRawGzipEndedAtEof) {
    pump.start(Framing::until_close, 0, Framing::until_close);
    pump.filter_through(enc.get());
    put(in.get(), "streamed ");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::more);
    put(in.get(), "to the end");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::more);
    EXPECT_EQ(pump.finish_at_eof(out.get()), BodyPump::Step::done);
    EXPECT_EQ(gunzip(drain(out.get())), "streamed to the end");
}

TEST_F(GzipPumpTest, FilterFailureFailsThePump) {
    pump.start(Framing::length, 4, Framing::chunked);
    pump.filter_through(enc.get());
    std::string sink_out;
    StringSink sink(sink_out);
    ASSERT_TRUE(enc->finish(sink).ok());   // a finished stream refuses more input
    put(in.get(), "abcd");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::failed);
    EXPECT_NE(std::string(pump.error()).find("gzip"), std::string::npos);
}

TEST(GzipEncoders, ReuseAnIdleEncoderOfTheSameLevel) {
    GzipEncoders pool;
    auto a = pool.take(6);
    ASSERT_TRUE(a.ok());
    GzipEncoder* first = a->get();
    std::string s;
    StringSink sink(s);
    ASSERT_TRUE((*a)->feed("one", sink).ok());
    ASSERT_TRUE((*a)->finish(sink).ok());
    pool.put(std::move(*a));
    auto other = pool.take(1);
    ASSERT_TRUE(other.ok());
    EXPECT_NE(other->get(), first);
    auto b = pool.take(6);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->get(), first);
    // Reset: a whole new stream, not the end of the old one.
    std::string t;
    StringSink sink2(t);
    ASSERT_TRUE((*b)->feed("two", sink2).ok());
    ASSERT_TRUE((*b)->finish(sink2).ok());
    EXPECT_EQ(gunzip(t), "two");
    EXPECT_FALSE(pool.take(0).ok());
}

TEST(GzipStep, DecidesWithTheRequestSideNotedEarlier) {
    config::Gzip g;
    g.enabled = true;
    g.min_length = 10;
    g.types = {"application/json"};
    GzipEncoders pool;
    const std::vector<Header> json{{"Content-Type", "application/json"}};
    GzipStep step;
    step.request("br;q=1, gzip;q=0.5", false);
    GzipDecision d = step.response(response_query(200, json, 100), g, pool);
    EXPECT_TRUE(d.vary);
    EXPECT_TRUE(d.compress);
    EXPECT_NE(step.filter(), nullptr);
    step.end(pool);
    EXPECT_EQ(step.filter(), nullptr);

    step.request("gzip;q=0", false);
    d = step.response(response_query(200, json, 100), g, pool);
    EXPECT_TRUE(d.vary);
    EXPECT_FALSE(d.compress);
    EXPECT_EQ(step.filter(), nullptr);

    step.request("gzip", true);   // HEAD
    EXPECT_FALSE(step.response(response_query(200, json, 100), g, pool).vary);

    step.request("gzip", false);
    EXPECT_FALSE(step.response(response_query(200, json, 5), g, pool).compress) << "under min_length";
    EXPECT_TRUE(step.response(response_query(200, json, std::nullopt), g, pool).compress) << "unknown length";
    step.end(pool);
    const std::vector<Header> encoded{{"Content-Type", "application/json"}, {"Content-Encoding", "br"}};
    EXPECT_FALSE(step.response(response_query(200, encoded, 100), g, pool).vary);
    const std::vector<Header> no_transform{{"Content-Type", "application/json"},
                                           {"Cache-Control", "public, no-transform"}};
    EXPECT_FALSE(step.response(response_query(200, no_transform, 100), g, pool).vary);
    const std::vector<Header> png{{"Content-Type", "image/png"}};
    g.types = {"*"};
    EXPECT_FALSE(step.response(response_query(200, png, 100), g, pool).vary) << "already compressed";
}

TEST(FileBodyTest, ReadsARangeThroughTheFilterUnderTheWatermark) {
    char path[] = "/tmp/ne-file-body-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    // Random hex: gzip only halves it, so the output passes the watermark several times.
    std::string text(6 * kHighWatermark, '0');
    std::mt19937 rng(7);
    for (char& c : text) c = "0123456789abcdef"[rng() % 16];
    ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    unlink(path);
    auto e = GzipEncoder::create(1);
    ASSERT_TRUE(e.ok());
    EvbufferPtr out{evbuffer_new()};
    FileBody body;
    body.start(UniqueFd(fd), path, 10, text.size() - 20, *e, Framing::chunked);
    std::string wire;
    int rounds = 0;
    FileBody::Step step;
    while ((step = body.pump(out.get(), kHighWatermark)) == FileBody::Step::more) {
        // Never much beyond the watermark: one read's output at most.
        EXPECT_LT(evbuffer_get_length(out.get()), kHighWatermark + 64 * 1024);
        wire += drain(out.get());
        ++rounds;
    }
    ASSERT_EQ(step, FileBody::Step::done) << body.error();
    wire += drain(out.get());
    bool ended = false;
    EXPECT_EQ(gunzip(dechunk(wire, &ended)), text.substr(10, text.size() - 20));
    EXPECT_TRUE(ended);
    EXPECT_GE(rounds, 2) << "the body came in several rounds";
}

TEST(FileBodyTest, AFileShorterThanAnnouncedFails) {
    char path[] = "/tmp/ne-file-body-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "short", 5), 5);
    unlink(path);
    auto e = GzipEncoder::create(6);
    ASSERT_TRUE(e.ok());
    EvbufferPtr out{evbuffer_new()};
    FileBody body;
    body.start(UniqueFd(fd), "/srv/short.txt", 0, 100, *e, Framing::chunked);
    EXPECT_EQ(body.pump(out.get(), kHighWatermark), FileBody::Step::failed);
    EXPECT_NE(body.error().find("/srv/short.txt"), std::string::npos);
}

TEST(ClientResponseHead, GzipWeakensETagDropsRangesAndAddsVaryOnce) {
    std::vector<Header> h{{"Content-Type", "text/html"},
                          {"ETag", "\"abc\""},
                          {"Accept-Ranges", "bytes"},
                          {"Content-Length", "5000"}};
    ClientResponse r;
    r.headers = h;
    r.request_id = "rid";
    r.framing = Framing::chunked;
    r.gzip = true;
    r.vary_accept_encoding = true;
    std::string out;
    write_client_response(r, out);
    EXPECT_NE(out.find("\r\nETag: W/\"abc\"\r\n"), std::string::npos) << out;
    EXPECT_NE(out.find("\r\nContent-Encoding: gzip\r\n"), std::string::npos);
    EXPECT_NE(out.find("\r\nVary: Accept-Encoding\r\n"), std::string::npos);
    EXPECT_NE(out.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos);
    EXPECT_EQ(out.find("Accept-Ranges"), std::string::npos);
    EXPECT_EQ(out.find("Content-Length"), std::string::npos);

    // Already weak, and a Vary that names the header already: left as they are.
    std::vector<Header> h2{{"ETag", "W/\"x\""}, {"Vary", "Origin, accept-encoding"}};
    r.headers = h2;
    out.clear();
    write_client_response(r, out);
    EXPECT_NE(out.find("\r\nETag: W/\"x\"\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("Vary: Accept-Encoding"), std::string::npos);

    // Not compressed for this client, yet the response varies.
    r.gzip = false;
    r.headers = h;
    out.clear();
    write_client_response(r, out);
    EXPECT_NE(out.find("\r\nETag: \"abc\"\r\n"), std::string::npos);
    EXPECT_NE(out.find("\r\nVary: Accept-Encoding\r\n"), std::string::npos);
    EXPECT_EQ(out.find("Content-Encoding"), std::string::npos);
}

}  // namespace
}  // namespace ne::proxy
