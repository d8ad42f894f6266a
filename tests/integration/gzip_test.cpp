// gzip through the real proxy: proxied JSON and static files are compressed for clients that
// accept gzip (curl --compressed decodes them to the same bytes) and left alone otherwise;
// the rules that keep a response uncompressed; a large chunked stream is compressed as it
// flows, and a client that stops reading holds the backend back (bounded memory).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <thread>

#include "integration/backend_stall.h"
#include "integration/proxied_app_test.h"

namespace ne::itest {
namespace {

constexpr const char* kGzipConfig = R"([proxy]
workers = 1

[[apps]]
name = "edge"
script = "${APPS}/edge.js"
port = ${PORT}

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]
gzip = { level = 6, min_length = 1000, types = ["application/json", "text/css", "text/plain"] }

[[servers.locations]]
path = "/"
app = "edge"

[[servers.locations]]
path = "/static/"
root = "${ROOT}"
)";

class GzipTest : public ProxiedAppTest {
protected:
    void SetUp() override {
        ProxiedAppTest::SetUp();
        const std::string root = dir() + "/site";
        ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
        ASSERT_EQ(::mkdir((root + "/static").c_str(), 0755), 0);
        for (int i = 0; i < 4000; ++i) css_ += ".rule-" + std::to_string(i) + " { color: #" + std::to_string(i % 1000) + "; }\n";
        std::ofstream(root + "/static/site.css") << css_;
        std::ofstream(root + "/static/logo.png") << std::string(5000, 'p');
        start(kGzipConfig, {{"ROOT", root}});
    }

    std::string url(const std::string& target) const {
        return "'http://127.0.0.1:" + std::to_string(listen_) + target + "'";
    }

    // curl with `args` on `target`: the decoded body; the response head goes to head_.
    std::string curl_body(const std::string& args, const std::string& target) {
        const std::string head_file = dir() + "/head.txt";
        std::string body = curl(args + " -D " + head_file + " " + url(target));
        head_ = read_file(head_file);
        return body;
    }

    Result<HttpResponse> get(const std::string& target, const Headers& headers = {}) {
        HttpConnection conn(listen_);
        return conn.get(target, headers);
    }

    std::string css_;
    std::string head_;
};

bool has(const std::string& head, const std::string& line) {
    std::string h = head, l = line;
    for (auto* s : {&h, &l})
        for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return h.find("\r\n" + l + "\r\n") != std::string::npos;
}

TEST_F(GzipTest, ProxiedJsonIsCompressedOnlyForClientsThatTakeGzip) {
    // curl decodes what it asked for: the same document as an uncompressed answer.
    const std::string decoded = curl_body("--compressed", "/json?kb=64&etag=v1");
    EXPECT_TRUE(has(head_, "content-encoding: gzip")) << head_;
    EXPECT_TRUE(has(head_, "vary: accept-encoding")) << head_;
    EXPECT_TRUE(has(head_, "transfer-encoding: chunked")) << head_;
    EXPECT_TRUE(has(head_, "etag: W/\"v1\"")) << "a compressed body's ETag is weak: " << head_;
    EXPECT_EQ(head_.find("ontent-Length"), std::string::npos) << head_;
    json doc = json::parse(decoded, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << decoded.substr(0, 200);
    const size_t items = doc["items"].size();
    EXPECT_GT(items, 1000u);

    // The raw bytes on the wire are much smaller than the document.
    auto raw = get("/json?kb=64", {{"Accept-Encoding", "gzip, deflate, br"}});
    ASSERT_TRUE(raw.ok()) << raw.error().message;
    EXPECT_EQ(raw->header("content-encoding"), "gzip");
    EXPECT_LT(raw->body.size(), decoded.size() / 4);

    // No Accept-Encoding, identity only, or gzip refused with q=0: the identity body, with
    // its length, still marked as varying.
    for (const Headers& h : {Headers{}, Headers{{"Accept-Encoding", "identity"}},
                             Headers{{"Accept-Encoding", "gzip;q=0, identity"}}}) {
        auto plain = get("/json?kb=64", h);
        ASSERT_TRUE(plain.ok()) << plain.error().message;
        EXPECT_EQ(plain->header("content-encoding"), "") << (h.empty() ? "none" : h[0].second);
        EXPECT_EQ(plain->header("vary"), "Accept-Encoding");
        EXPECT_EQ(plain->header("content-length"), std::to_string(plain->body.size()));
        EXPECT_EQ(json::parse(plain->body, nullptr, false)["items"].size(), items);
    }
}

TEST_F(GzipTest, ResponsesThatMustNotBeCompressedAreNot) {
    const Headers gzip{{"Accept-Encoding", "gzip"}};
    struct Case {
        std::string target;
        std::string why;
    } cases[] = {
        {"/json?kb=0", "shorter than min_length"},
        {"/json?kb=8&type=image/png", "a type not listed (and compressed already)"},
        {"/json?kb=8&cc=public,%20no-transform", "Cache-Control: no-transform"},
        {"/json?kb=8&status=500", "a 500"},
        {"/json?kb=8&status=204", "a 204"},
    };
    for (const Case& c : cases) {
        auto r = get(c.target, gzip);
        ASSERT_TRUE(r.ok()) << c.why << ": " << r.error().message;
        EXPECT_EQ(r->header("content-encoding"), "") << c.why;
    }
    HttpConnection conn(listen_);
    auto head = conn.request("HEAD", "/json?kb=8", gzip);
    ASSERT_TRUE(head.ok()) << head.error().message;
    EXPECT_EQ(head->header("content-encoding"), "") << "HEAD";

    // A length the proxy does not know yet does not keep it from compressing.
    auto chunked = get("/json?kb=8&chunked=1", gzip);
    ASSERT_TRUE(chunked.ok());
    EXPECT_EQ(chunked->header("content-encoding"), "gzip") << "unknown length: compressed";
}

TEST_F(GzipTest, Http10ClientGetsTheGzipStreamUntilClose) {
    const std::string decoded = curl_body("--http1.0 --compressed", "/json?kb=32");
    EXPECT_TRUE(has(head_, "content-encoding: gzip")) << head_;
    EXPECT_TRUE(has(head_, "connection: close")) << head_;
    EXPECT_EQ(head_.find("ransfer-Encoding"), std::string::npos) << "no chunked to a 1.0 client: " << head_;
    EXPECT_FALSE(json::parse(decoded, nullptr, false).is_discarded()) << decoded.substr(0, 200);
}

TEST_F(GzipTest, StaticTextFilesAreReadThroughTheEncoder) {
    EXPECT_EQ(curl_body("--compressed", "/static/site.css"), css_);
    EXPECT_TRUE(has(head_, "content-encoding: gzip")) << head_;
    EXPECT_TRUE(has(head_, "vary: accept-encoding")) << head_;
    EXPECT_EQ(head_.find("Accept-Ranges"), std::string::npos) << head_;

    auto raw = get("/static/site.css", {{"Accept-Encoding", "gzip"}});
    ASSERT_TRUE(raw.ok()) << raw.error().message;
    EXPECT_LT(raw->body.size(), css_.size() / 4);
    EXPECT_EQ(raw->header("etag").rfind("W/", 0), 0u) << raw->header("etag");

    // sendfile as before: no gzip asked, a range, or a type gzip cannot shrink.
    auto plain = get("/static/site.css");
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain->body, css_);
    auto range = get("/static/site.css", {{"Accept-Encoding", "gzip"}, {"Range", "bytes=0-9"}});
    ASSERT_TRUE(range.ok());
    EXPECT_EQ(range->status, 206);
    EXPECT_EQ(range->body, css_.substr(0, 10));
    auto png = get("/static/logo.png", {{"Accept-Encoding", "gzip"}});
    ASSERT_TRUE(png.ok());
    EXPECT_EQ(png->header("content-encoding"), "");
    EXPECT_EQ(png->body.size(), 5000u);

    // Keep-alive goes on after a compressed static body.
    HttpConnection conn(listen_);
    for (int i = 0; i < 3; ++i) {
        auto r = conn.get("/static/site.css", {{"Accept-Encoding", "gzip"}});
        ASSERT_TRUE(r.ok()) << r.error().message;
        EXPECT_TRUE(r->keep_alive);
        EXPECT_EQ(r->header("content-encoding"), "gzip");
    }
}

TEST_F(GzipTest, LargeChunkedStreamIsCompressedAsItFlows) {
    // 8 MiB arrives whole and intact through curl's decoder.
    const std::string decoded = curl_body("--compressed --max-time 60", "/stream?mb=8");
    EXPECT_TRUE(has(head_, "content-encoding: gzip")) << head_;
    EXPECT_EQ(decoded.size(), 8u << 20);
    EXPECT_EQ(decoded.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST_F(GzipTest, AReaderThatStopsHoldsBackTheBackendThroughTheEncoder) {
    constexpr size_t kMiB = 1 << 20;
    constexpr size_t kBodyMiB = 256;
    // A raw client that asks for a gzip'd stream and then reads nothing.
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(connect_loopback(fd.get(), listen_)) << std::strerror(errno);
    const std::string req = "GET /stream?mb=" + std::to_string(kBodyMiB) +
                            " HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n";
    ASSERT_EQ(::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));

    const BackendStall stall = wait_for_backend_stall(app_port_, "stream_written", "stream_done", 60s);
    ASSERT_TRUE(stall.settled) << "the backend kept writing: " << stall.written << " bytes";
    std::cout << "backend writes stalled at " << stall.written / kMiB << " MiB of " << kBodyMiB << " MiB\n";
    EXPECT_FALSE(stall.done) << "the proxy took the whole stream while the client read nothing";
    EXPECT_LT(stall.written, kBodyMiB * kMiB / 4);
}

}  // namespace
}  // namespace ne::itest
