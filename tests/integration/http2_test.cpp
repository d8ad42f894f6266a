// HTTP/2 through the real daemon: ALPN picks h2 only on a server with `http2 = true`; curl
// --http2, nghttp and h2load talk to it; requests reach the Node app as HTTP/1.1 with the
// forwarded headers; bodies stream both ways byte-exact (with and without a content-length);
// the server announces its stream limit, and more concurrent streams than that still all
// succeed; a large download arrives whole.
#include <fstream>
#include <random>

#include "integration/harness.h"
#include "integration/tls_support.h"

namespace ne::itest {
namespace {

constexpr const char* kHttp2Config = R"([proxy]
workers = 1

[[apps]]
name = "echo"
script = "${APPS}/echo.js"
port = ${PORT}

[[apps]]
name = "bulk"
script = "${APPS}/bulk.js"
port = ${BULK}

[[servers]]
listen = ["127.0.0.1:${TLS}"]
server_name = ["h2.test"]
tls = { cert = "h2.pem", key = "h2.key" }
http2 = true
client_max_body_size = "4m"

[[servers.locations]]
path = "/"
app = "echo"

[[servers.locations]]
path = "/bulk"
app = "bulk"

[[servers]]
listen = ["127.0.0.1:${TLS}"]
server_name = ["h1.test"]
tls = { cert = "h2.pem", key = "h2.key" }

[[servers.locations]]
path = "/"
app = "echo"
)";

class Http2Test : public IntegrationTest {
protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        make_cert(dir(), "h2", "h2.test");
        port = free_port();
        RunResult r = run("start", write_file("ecosystem.toml", kHttp2Config,
                                              {{"PORT", std::to_string(free_port())},
                                               {"BULK", std::to_string(free_port())},
                                               {"TLS", std::to_string(port)}}));
        ASSERT_EQ(r.code, 0) << r.out << r.err;
    }

    std::string base(const std::string& host = "h2.test") const {
        return curl_resolve(host, port) + "https://" + host + ":" + std::to_string(port);
    }

    int port = 0;
};

TEST_F(Http2Test, CurlSpeaksH2AndTheAppSeesHttp11WithForwardedHeaders) {
    const std::string out = curl("-k --http2 -w '\\n%{http_version}' -H 'Cookie: a=1' -H 'Cookie: b=2'" +
                                 base() + "/hello?x=1");
    const size_t nl = out.rfind('\n');
    ASSERT_NE(nl, std::string::npos) << out;
    EXPECT_EQ(out.substr(nl + 1), "2");
    auto j = json::parse(out.substr(0, nl), nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << out;
    EXPECT_EQ(j["url"], "/hello?x=1");
    EXPECT_EQ(j["headers"]["host"], "h2.test:" + std::to_string(port));
    EXPECT_EQ(j["headers"]["x-forwarded-proto"], "https");
    EXPECT_EQ(j["headers"]["cookie"], "a=1; b=2");  // one line for HTTP/1.1
    EXPECT_FALSE(j["headers"]["x-request-id"].get<std::string>().empty());
}

TEST_F(Http2Test, AServerWithoutHttp2NegotiatesHttp11) {
    EXPECT_EQ(curl("-k --http2 -o /dev/null -w '%{http_version}'" + base("h1.test") + "/"), "1.1");
}

TEST_F(Http2Test, BodiesStreamBothWaysByteExact) {
    std::string body(3 * 1024 * 1024 + 123, '\0');
    std::mt19937 rng(7);
    for (auto& c : body) c = static_cast<char>(rng());
    const std::string in = dir() + "/in.bin";
    std::ofstream(in, std::ios::binary) << body;
    // With a content-length, then without one (curl -T - streams it: chunked to the app).
    EXPECT_EQ(curl("-k --http2 -o " + dir() + "/out1.bin -w '%{http_code} %{http_version}' --data-binary @" + in +
                   base() + "/echo"),
              "200 2");
    EXPECT_EQ(read_file(dir() + "/out1.bin"), body);
    EXPECT_EQ(curl("-k --http2 -o " + dir() + "/out2.bin -w '%{http_code} %{http_version}' -X POST -T - " +
                   base() + "/echo < " + in),
              "200 2");
    EXPECT_EQ(read_file(dir() + "/out2.bin"), body);
    // Over the server's client_max_body_size: 413 on the stream, the connection lives on.
    const std::string big = dir() + "/big.bin";
    std::ofstream(big, std::ios::binary) << std::string(5 * 1024 * 1024, 'x');
    EXPECT_EQ(curl("-k --http2 -o /dev/null -w '%{http_code}' --data-binary @" + big + base() + "/echo"), "413");
}

TEST_F(Http2Test, ALargeDownloadArrivesWhole) {
    EXPECT_EQ(curl("-k --http2 -o /dev/null -w '%{size_download} %{http_version}'" + base() + "/bulk?mb=16"),
              std::to_string(16 << 20) + " 2");
}

TEST_F(Http2Test, NghttpSeesTheStreamLimitAndH2loadRunsManyStreams) {
    const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/";
    const std::string v = shell_output("timeout 10 nghttp -nv " + url + " 2>&1");
    EXPECT_NE(v.find("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):128"), std::string::npos) << v;
    EXPECT_NE(v.find(":status: 200"), std::string::npos) << v;
    // 200 streams per connection asked for, 128 allowed at once: every request still succeeds.
    const std::string load = shell_output("timeout 60 h2load -n 2000 -c 4 -m 200 " + url + " 2>&1");
    EXPECT_NE(load.find("2000 succeeded, 0 failed, 0 errored"), std::string::npos) << load;
    EXPECT_NE(load.find("status codes: 2000 2xx"), std::string::npos) << load;
}

}  // namespace
}  // namespace ne::itest
