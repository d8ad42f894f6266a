// HTTP/2 abuse: one hostile client must not exhaust the proxy. A raw client (h2_client.h)
// sends what an attacker would: rapid resets (CVE-2023-44487), more streams than announced,
// a window that never opens, CONTINUATION floods (CVE-2024-27316), SETTINGS and PING floods
// it never reads the answers to, oversized and malformed header blocks, trailers and
// 100-continue. Each test checks that the attacker is cut off the way nghttp2/nginx do it
// (GOAWAY, RST_STREAM, or a closed connection), what reached the backend (apps/record.js logs
// every request), that the proxy worker is the same process with bounded memory, and that a
// normal client (curl --http2) is still served.
#include <algorithm>

#include "integration/backend_stall.h"
#include "integration/h2_client.h"
#include "integration/harness.h"
#include "integration/tls_support.h"

namespace ne::itest {
namespace {

using h2::Client;
using h2::Fields;

// The proxy worker may grow by this much while a test runs (its buffers are bounded per
// stream and per connection; an unbounded one grows by the attack's size, far beyond it).
constexpr uint64_t kRssGrowthBound = 64ull << 20;
// What one attack may take before it must have been cut off; only a proxy that does not cut
// it off reaches it.
constexpr auto kCutOff = 10s;

constexpr const char* kHost = "h2.test";

constexpr const char* kHttp2AbuseConfig = R"([proxy]
access_log = "off"
workers = 1

[[apps]]
name = "record"
script = "${APPS}/record.js"
port = ${PORT}
env = { RECORD_PORT = "${RECORD}" }

[[apps]]
name = "bulk"
script = "${APPS}/bulk.js"
port = ${BULK}

[[servers]]
listen = ["127.0.0.1:${TLS}"]
server_name = ["h2.test"]
tls = { cert = "h2.pem", key = "h2.key" }
http2 = true
keepalive_timeout = "2s"
client_body_timeout = "2s"
# Above every flood here: a GOAWAY for keepalive_requests (which nginx also counts reset
# streams against) would otherwise end the floods before nghttp2's own limits do.
keepalive_requests = 100000

[[servers.locations]]
path = "/"
app = "record"

[[servers.locations]]
path = "/bulk"
app = "bulk"

# Connection limits of their own, for the keepalive and stream-limit tests.
[[servers]]
listen = ["127.0.0.1:${TLS_LIMITED}"]
server_name = ["h2.test"]
tls = { cert = "h2.pem", key = "h2.key" }
http2 = true
keepalive_requests = 3
keepalive_timeout = "1s"
http2_max_concurrent_streams = 2

[[servers.locations]]
path = "/"
app = "record"
)";

std::string unhex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

class Http2AbuseTest : public IntegrationTest {
protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        make_cert(dir(), "h2", kHost);
        port_ = free_port();
        record_port_ = free_port();
        bulk_port_ = free_port();
        limited_port_ = free_port();
        RunResult r = run("start", write_file("ecosystem.toml", kHttp2AbuseConfig,
                                              {{"PORT", std::to_string(free_port())},
                                               {"RECORD", std::to_string(record_port_)},
                                               {"BULK", std::to_string(bulk_port_)},
                                               {"TLS", std::to_string(port_)},
                                               {"TLS_LIMITED", std::to_string(limited_port_)}}));
        ASSERT_EQ(r.code, 0) << r.out << r.err;
        const auto proxies = proxy_worker_processes();
        ASSERT_EQ(proxies.size(), 1u);
        proxy_ = proxies[0];
        // Warm: TLS contexts, pools and the first allocations are not the attack's.
        ASSERT_EQ(normal_get("/warm"), "200 2");
        rss_before_ = rss_bytes(proxy_.pid);
        log_since_ = get_json(record_port_, "/log").value("next", 1);
    }

    // Status and HTTP version of a well-behaved client's GET over HTTP/2.
    std::string normal_get(const std::string& path) {
        return curl("-sk --http2 --max-time 10 -o /dev/null -w '%{http_code} %{http_version}'" +
                    curl_resolve(kHost, port_) + "https://" + std::string(kHost) + ":" + std::to_string(port_) + path);
    }

    // A connected raw client that has sent its preface.
    std::unique_ptr<Client> attacker(const h2::Settings& settings = {}, bool ack_settings = true, int rcvbuf = 0) {
        auto c = std::make_unique<Client>(port_, kHost, rcvbuf);
        EXPECT_TRUE(c->ok()) << c->error();
        EXPECT_TRUE(c->start(settings, ack_settings));
        return c;
    }

    // The requests the backend read since the test began (apps/record.js's log entries).
    std::vector<json> backend_requests() {
        std::vector<json> out;
        for (const auto& e : get_json(record_port_, "/log?since=" + std::to_string(log_since_)).value("events", json::array()))
            if (e.value("type", "") == "request") out.push_back(e);
        return out;
    }
    // Their targets, decoded.
    std::vector<std::string> backend_targets() {
        std::vector<std::string> out;
        for (const json& e : backend_requests()) out.push_back(unhex(e.value("target", "")));
        return out;
    }

    // The attack left the proxy as it was: the same worker process, memory within bounds,
    // and a normal client is served.
    void expect_proxy_unharmed() {
        EXPECT_TRUE(alive(proxy_)) << "the proxy worker died (pid " << proxy_.pid << ")";
        const uint64_t rss = rss_bytes(proxy_.pid);
        EXPECT_LT(rss, rss_before_ + kRssGrowthBound)
            << "proxy worker RSS grew from " << (rss_before_ >> 10) << " KiB to " << (rss >> 10) << " KiB";
        EXPECT_EQ(normal_get("/after"), "200 2");
        std::printf("proxy worker RSS: %llu KiB before, %llu KiB after\n",
                    static_cast<unsigned long long>(rss_before_ >> 10), static_cast<unsigned long long>(rss >> 10));
    }

    std::string authority() const { return std::string(kHost) + ":" + std::to_string(port_); }

    int port_ = 0;
    int record_port_ = 0;
    int bulk_port_ = 0;
    int limited_port_ = 0;   // keepalive_requests 3, keepalive_timeout 1s, 2 streams at once
    ProcessRef proxy_;
    uint64_t rss_before_ = 0;
    int log_since_ = 1;
};

// ---- 1. rapid reset -------------------------------------------------------------------------

TEST_F(Http2AbuseTest, RapidResetIsCutOffWithGoawayAndFewRequestsReachTheBackend) {
    constexpr int kStreams = 5000;
    auto c = attacker();
    std::string flood;
    for (int i = 0; i < kStreams; ++i) {
        const int32_t id = 2 * i + 1;
        flood += c->headers(id, h2::get("/reset/" + std::to_string(id), authority()), true);
        flood += h2::rst_stream(id, NGHTTP2_CANCEL);
    }
    c->send(flood);  // the proxy may close before it has all of it
    ASSERT_TRUE(c->wait_closed(kCutOff)) << "the connection was not closed";
    const h2::Frame* goaway = c->goaway();
    ASSERT_NE(goaway, nullptr) << "closed without GOAWAY";
    EXPECT_NE(goaway->error_code(), NGHTTP2_NO_ERROR);
    EXPECT_LT(goaway->last_stream(), 2 * kStreams - 1) << "every stream was accepted";

    // The backend saw at most the streams the proxy accepted (nghttp2's reset burst, 1000).
    const auto seen = backend_targets();
    EXPECT_LE(seen.size(), static_cast<size_t>(goaway->last_stream() + 1) / 2);
    EXPECT_LE(seen.size(), 1100u);
    std::printf("rapid reset: %d streams sent, GOAWAY(%u) last stream %d, backend saw %zu requests\n", kStreams,
                goaway->error_code(), goaway->last_stream(), seen.size());
    expect_proxy_unharmed();
}

// ---- 2. concurrent streams ------------------------------------------------------------------

TEST_F(Http2AbuseTest, StreamsOverTheLimitAreRefusedAndAClientThatIgnoresItIsCutOff) {
    constexpr int kStreams = 200;
    constexpr size_t kLimit = 128;
    // All in one burst before the proxy's SETTINGS are acknowledged: nghttp2 refuses streams
    // over the limit it announced (RST_STREAM REFUSED_STREAM, RFC 9113 5.1.2), the others run.
    auto c = attacker({}, /*ack_settings=*/false);
    std::string burst;
    for (int i = 0; i < kStreams; ++i) burst += c->headers(2 * i + 1, h2::get("/s/" + std::to_string(i), authority()), true);
    ASSERT_TRUE(c->send(burst));
    size_t ok = 0, refused = 0;
    for (int i = 0; i < kStreams; ++i) {
        const h2::Exchange e = c->read_exchange(2 * i + 1);
        if (e.ended && e.status == 200) ++ok;
        else if (e.reset == NGHTTP2_REFUSED_STREAM) ++refused;
        else ADD_FAILURE() << "stream " << 2 * i + 1 << ": status " << e.status << " reset " << e.reset.value_or(0);
    }
    EXPECT_EQ(ok, kLimit);
    EXPECT_EQ(refused, kStreams - kLimit);
    // A refused stream was never processed: the client may retry it, on this same connection.
    const int32_t retry = 2 * kStreams + 1;
    ASSERT_TRUE(c->send(c->headers(retry, h2::get("/retry", authority()), true)));
    EXPECT_EQ(c->read_exchange(retry).status, 200);
    const size_t served = backend_targets().size();
    EXPECT_EQ(served, kLimit + 1);

    // 128 requests whose bodies never end keep their streams open; once the client has
    // acknowledged the limit, a 129th stream is a connection error for nghttp2 (GOAWAY).
    auto d = attacker();
    ASSERT_TRUE(d->read_until([](const h2::Frame& f) { return f.type == NGHTTP2_SETTINGS && (f.flags & NGHTTP2_FLAG_ACK); },
                              kCutOff));
    burst.clear();
    for (size_t i = 0; i <= kLimit; ++i) {
        Fields post = {{":method", "POST"}, {":scheme", "https"}, {":authority", authority()}, {":path", "/open/" + std::to_string(i)}};
        burst += d->headers(static_cast<int32_t>(2 * i + 1), post, false);
    }
    d->send(burst);
    ASSERT_TRUE(d->wait_closed(kCutOff));
    const h2::Frame* goaway = d->goaway();
    ASSERT_NE(goaway, nullptr);
    EXPECT_EQ(goaway->error_code(), NGHTTP2_PROTOCOL_ERROR);
    EXPECT_LE(backend_targets().size() - served, kLimit);
    expect_proxy_unharmed();
}

// ---- 3. flow control ------------------------------------------------------------------------

TEST_F(Http2AbuseTest, AWindowThatNeverOpensHoldsTheBackendBackNotTheProxyMemory) {
    // 64 downloads of 64 MiB each to a client that allows 16 bytes per stream and never sends
    // WINDOW_UPDATE (it keeps reading what little comes): without back-pressure the proxy
    // would take 4 GiB from the backend.
    constexpr int kStreams = 64;
    constexpr uint64_t kMiB = 64;
    auto c = attacker({{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16}});
    std::string burst;
    for (int i = 0; i < kStreams; ++i) burst += c->headers(2 * i + 1, h2::get("/bulk?mb=" + std::to_string(kMiB), authority()), true);
    ASSERT_TRUE(c->send(burst));
    ASSERT_TRUE(c->read_until([](const h2::Frame& f) { return f.type == NGHTTP2_DATA; }, kCutOff));

    const BackendStall stall = wait_for_backend_stall(bulk_port_, "bulk_written", "bulk_done", 15s);
    EXPECT_TRUE(stall.settled) << "the backend kept writing: " << stall.written;
    EXPECT_FALSE(stall.done);
    EXPECT_LT(stall.written, kStreams * (kMiB << 20) / 4) << "the proxy read on regardless of the window";
    // Another client is served while the attacker holds its streams open.
    EXPECT_EQ(normal_get("/during"), "200 2");
    EXPECT_EQ(curl("-sk --http2 --max-time 20 -o /dev/null -w '%{size_download}'" + curl_resolve(kHost, port_) +
                   "https://" + authority() + "/bulk?mb=4"),
              std::to_string(4 << 20));
    std::printf("window never opened: backend wrote %zu KiB for %d streams\n", stall.written >> 10, kStreams);
    expect_proxy_unharmed();
}

// ---- 4. CONTINUATION flood ------------------------------------------------------------------

TEST_F(Http2AbuseTest, ContinuationFloodIsCutOffWithGoaway) {
    auto c = attacker();
    // A header block that never ends: HEADERS without END_HEADERS, then 10,000 CONTINUATIONs
    // without it either, each a small header field (so no size limit is what stops it).
    const std::string block = c->header_block(h2::get("/cont", authority()));
    const std::string piece = h2::frame(NGHTTP2_CONTINUATION, NGHTTP2_FLAG_NONE, 1, c->header_block({{"x-f", "a"}}));
    std::string flood = h2::frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, block);
    for (int i = 0; i < 10000; ++i) flood += piece;
    c->send(flood);
    ASSERT_TRUE(c->wait_closed(kCutOff));
    const h2::Frame* goaway = c->goaway();
    ASSERT_NE(goaway, nullptr) << "closed without GOAWAY";
    EXPECT_EQ(goaway->error_code(), NGHTTP2_ENHANCE_YOUR_CALM);
    EXPECT_TRUE(backend_targets().empty());
    expect_proxy_unharmed();
}

// ---- 5. SETTINGS and PING floods ------------------------------------------------------------

// Sends `piece` until the proxy stops taking it, never reading its answers (ACKs): the
// proxy's queue of answers must not grow without bound. Returns how many were sent.
int flood_without_reading(Client& c, const std::string& piece, int max) {
    std::string batch;
    for (int i = 0; i < 256; ++i) batch += piece;
    int sent = 0;
    while (sent < max && c.send(batch)) sent += 256;
    return sent;
}

TEST_F(Http2AbuseTest, SettingsAndPingFloodsAreCutOff) {
    // Clients that read nothing (a 4 KiB receive buffer) and flood frames that each need an ACK.
    const std::vector<std::pair<std::string, std::string>> floods = {
        {"PING", h2::frame(NGHTTP2_PING, NGHTTP2_FLAG_NONE, 0, "12345678")},
        {"SETTINGS", h2::settings_frame({{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 65535}})},
    };
    for (const auto& [what, piece] : floods) {
        auto c = attacker({}, true, /*rcvbuf=*/4096);
        const int sent = flood_without_reading(*c, piece, 2'000'000);
        // The cut-off is the connection ending. How many frames the client got out says little:
        // after its GOAWAY the proxy lingers, reading and discarding until the client stops or
        // the linger time ends, and on a quiet machine the whole flood fits in that time (a run
        // sent all 2,000,128 PINGs). The memory bound below is what must hold.
        EXPECT_TRUE(c->wait_closed(kCutOff)) << what;
        std::printf("%s flood: %d frames sent before the client's sends failed\n", what.c_str(), sent);
    }
    // One SETTINGS frame with 1000 entries (nghttp2 takes at most 32).
    auto c = attacker();
    h2::Settings many;
    for (int i = 0; i < 1000; ++i) many.emplace_back(NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 4096);
    c->send(h2::settings_frame(many));
    ASSERT_TRUE(c->wait_closed(kCutOff));
    const h2::Frame* goaway = c->goaway();
    ASSERT_NE(goaway, nullptr);
    EXPECT_EQ(goaway->error_code(), NGHTTP2_ENHANCE_YOUR_CALM);
    expect_proxy_unharmed();
}

// ---- 6. header blocks -----------------------------------------------------------------------

TEST_F(Http2AbuseTest, OversizedHeaderBlocksAreRefusedAndTheConnectionLivesOn) {
    auto c = attacker();
    // Over the request head limit (16 KiB of fields): 431, as for HTTP/1.1.
    Fields big = h2::get("/big", authority());
    for (int i = 0; i < 5; ++i) big.emplace_back("x-big-" + std::to_string(i), std::string(4000, 'b'));
    ASSERT_TRUE(c->send(c->headers(1, big, true)));
    EXPECT_EQ(c->read_exchange(1).status, 431);
    // Over the 64 KiB announced as SETTINGS_MAX_HEADER_LIST_SIZE: the stream is refused
    // without reading it whole.
    Fields huge = h2::get("/huge", authority());
    for (int i = 0; i < 20; ++i) huge.emplace_back("x-huge-" + std::to_string(i), std::string(8000, 'h'));
    const std::string block = c->header_block(huge);
    // Split into frames of at most 16 KiB (the default SETTINGS_MAX_FRAME_SIZE).
    std::string frames;
    for (size_t at = 0; at < block.size(); at += 16384) {
        const bool first = at == 0, last = at + 16384 >= block.size();
        const uint8_t flags = (first ? NGHTTP2_FLAG_END_STREAM : 0) | (last ? NGHTTP2_FLAG_END_HEADERS : 0);
        frames += h2::frame(first ? NGHTTP2_HEADERS : NGHTTP2_CONTINUATION, flags, 3, block.substr(at, 16384));
    }
    ASSERT_TRUE(c->send(frames));
    const h2::Exchange e = c->read_exchange(3);
    EXPECT_EQ(e.status, 431);
    EXPECT_FALSE(e.reset) << "RST_STREAM " << *e.reset;
    EXPECT_NE(e.body.find("431 Request Header Fields Too Large"), std::string::npos) << e.body;
    // The connection still serves.
    ASSERT_TRUE(c->send(c->headers(5, h2::get("/next", authority()), true)));
    EXPECT_EQ(c->read_exchange(5).status, 200);
    EXPECT_FALSE(c->closed());
    EXPECT_EQ(backend_targets(), std::vector<std::string>{"/next"});
    expect_proxy_unharmed();
}

TEST_F(Http2AbuseTest, MalformedRequestsAreStreamErrorsAndNeverForwarded) {
    // RFC 9113 8.2 and 8.3: each is a malformed request, a stream error (PROTOCOL_ERROR); none
    // may reach the backend, and the connection serves the next request.
    const std::string a = authority();
    auto base = [&](const std::string& path) {
        return Fields{{":method", "GET"}, {":scheme", "https"}, {":authority", a}, {":path", path}};
    };
    auto with = [&](const std::string& path, Fields extra) {
        Fields f = base(path);
        f.insert(f.end(), extra.begin(), extra.end());
        return f;
    };
    const std::vector<std::pair<std::string, Fields>> rows = {
        {"connection", with("/bad/connection", {{"connection", "keep-alive"}})},
        {"keep-alive", with("/bad/keep-alive", {{"keep-alive", "timeout=5"}})},
        {"proxy-connection", with("/bad/proxy-connection", {{"proxy-connection", "keep-alive"}})},
        {"transfer-encoding", with("/bad/te", {{"transfer-encoding", "chunked"}})},
        {"upgrade", with("/bad/upgrade", {{"upgrade", "websocket"}})},
        {"te: gzip", with("/bad/te-gzip", {{"te", "gzip"}})},
        {"upper-case name", with("/bad/upper", {{"X-Upper", "1"}})},
        {"CR LF in a value", with("/bad/crlf", {{"x-a", "1\r\nx-injected: 1"}})},
        {"NUL in a value", with("/bad/nul", {{"x-a", std::string("1\0x", 3)}})},
        {"space in a name", with("/bad/space", {{"x a", "1"}})},
        {"colon in a name", with("/bad/colon", {{"x:a", "1"}})},
        {"missing :path", {{":method", "GET"}, {":scheme", "https"}, {":authority", a}}},
        {"missing :method", {{":scheme", "https"}, {":authority", a}, {":path", "/bad/no-method"}}},
        {"missing :scheme", {{":method", "GET"}, {":authority", a}, {":path", "/bad/no-scheme"}}},
        {"empty :path", base("")},
        {"two :path", with("/bad/two-paths", {{":path", "/bad/second"}})},
        {"unknown pseudo-header", with("/bad/pseudo", {{":foo", "1"}})},
        {"pseudo-header after a field", {{":method", "GET"}, {":scheme", "https"}, {"x-a", "1"}, {":authority", a}, {":path", "/bad/late"}}},
        {"response pseudo-header", with("/bad/status", {{":status", "200"}})},
        {"space in :path", base("/bad/sp HTTP/1.1\r\nx: y")},
        {"CR LF in :method", {{":method", "GET /bad/m HTTP/1.1\r\nx:"}, {":scheme", "https"}, {":authority", a}, {":path", "/bad/method"}}},
        {"CR LF in :authority", {{":method", "GET"}, {":scheme", "https"}, {":authority", "h\r\nx: y"}, {":path", "/bad/auth"}}},
    };
    auto c = attacker();
    int32_t id = 1;
    for (const auto& [what, fields] : rows) {
        ASSERT_TRUE(c->send(c->headers(id, fields, true))) << what;
        const h2::Exchange e = c->read_exchange(id);
        EXPECT_EQ(e.reset, std::optional<uint32_t>(NGHTTP2_PROTOCOL_ERROR)) << what << ": status " << e.status;
        id += 2;
    }
    // A body longer than its content-length, which would be a second request to an HTTP/1.1
    // backend if it were passed on. Its head went to the backend before the body came; the
    // body never completes there.
    Fields post = {{":method", "POST"}, {":scheme", "https"}, {":authority", a}, {":path", "/bad/length"}, {"content-length", "5"}};
    ASSERT_TRUE(c->send(c->headers(id, post, false) +
                        h2::data(id, "hello" "GET /smuggled HTTP/1.1\r\nHost: h2.test\r\n\r\n", true)));
    EXPECT_EQ(c->read_exchange(id).reset, std::optional<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
    id += 2;
    // te: trailers is the one TE allowed.
    ASSERT_TRUE(c->send(c->headers(id, with("/good/te", {{"te", "trailers"}}), true)));
    EXPECT_EQ(c->read_exchange(id).status, 200);
    EXPECT_FALSE(c->closed());
    std::vector<std::string> targets;
    for (const json& e : backend_requests()) {
        targets.push_back(unhex(e.value("target", "")));
        if (targets.back() == "/bad/length") EXPECT_FALSE(e.value("complete", true)) << "its body completed";
    }
    EXPECT_EQ(targets, (std::vector<std::string>{"/bad/length", "/good/te"}));
    expect_proxy_unharmed();
}

// ---- 7. trailers and 100-continue -----------------------------------------------------------

TEST_F(Http2AbuseTest, RequestTrailersEndTheRequestAndExpectContinueIsAnswered) {
    auto c = attacker();
    // Trailers (HEADERS after DATA) end the request; the body reaches the app whole, and the
    // trailer fields never become header fields (they follow the chunked body: grpc_test).
    Fields post = {{":method", "POST"}, {":scheme", "https"}, {":authority", authority()}, {":path", "/trailers"}};
    std::string request = c->headers(1, post, false);  // encoded before the trailers: HPACK order
    request += h2::data(1, "hello ", false) + h2::data(1, "world", false);
    request += c->headers(1, {{"x-checksum", "abc"}}, true);
    ASSERT_TRUE(c->send(request));
    const h2::Exchange e = c->read_exchange(1);
    EXPECT_EQ(e.status, 200);
    EXPECT_TRUE(e.ended);
    const auto seen = backend_requests();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(unhex(seen[0].value("body", "")), "hello world");
    EXPECT_TRUE(seen[0].value("complete", false));
    for (const auto& h : seen[0]["headers"]) EXPECT_NE(h[0].get<std::string>(), "x-checksum");

    // expect: 100-continue: the client waits for the 100 before it sends its body.
    Fields expect = {{":method", "POST"}, {":scheme", "https"}, {":authority", authority()}, {":path", "/continue"},
                     {"content-length", "5"}, {"expect", "100-continue"}};
    ASSERT_TRUE(c->send(c->headers(3, expect, false)));
    ASSERT_TRUE(c->read_until([](const h2::Frame& f) { return f.stream == 3; }, kCutOff)) << "no 100";
    EXPECT_EQ(c->exchange(3).informational, std::vector<int>{100});
    ASSERT_TRUE(c->send(h2::data(3, "hello", true)));
    const h2::Exchange continued = c->read_exchange(3);
    EXPECT_EQ(continued.status, 200);
    EXPECT_EQ(continued.body.rfind("seen ", 0), 0u) << continued.body;
    expect_proxy_unharmed();
}

// ---- 7. connection limits (nginx's keepalive_requests, keepalive_timeout,
// http2_max_concurrent_streams applied to HTTP/2) ---------------------------------------------

TEST_F(Http2AbuseTest, KeepaliveRequestsEndsTheConnectionWithGoawayAfterItsLastStream) {
    auto c = std::make_unique<Client>(limited_port_, kHost);
    ASSERT_TRUE(c->ok()) << c->error();
    ASSERT_TRUE(c->start());
    const std::string host = std::string(kHost) + ":" + std::to_string(limited_port_);
    for (int32_t id : {1, 3}) {
        ASSERT_TRUE(c->send(c->headers(id, h2::get("/k/" + std::to_string(id), host), true)));
        EXPECT_EQ(c->read_exchange(id).status, 200);
        EXPECT_EQ(c->goaway(), nullptr) << "GOAWAY before keepalive_requests";
    }
    // The third stream is served, and the GOAWAY names it as the last.
    ASSERT_TRUE(c->send(c->headers(5, h2::get("/k/5", host), true)));
    EXPECT_EQ(c->read_exchange(5).status, 200);
    c->read_until([](const h2::Frame& f) { return f.type == NGHTTP2_GOAWAY; }, 5s);
    const h2::Frame* goaway = c->goaway();
    ASSERT_NE(goaway, nullptr);
    EXPECT_EQ(goaway->error_code(), NGHTTP2_NO_ERROR);
    EXPECT_EQ(goaway->last_stream(), 5);
    // A stream opened after it is not served, and the proxy closes the connection.
    c->send(c->headers(7, h2::get("/k/7", host), true));
    EXPECT_TRUE(c->wait_closed(10s));
    EXPECT_EQ(c->exchange(7).status, 0);
    EXPECT_EQ(backend_targets(), (std::vector<std::string>{"/k/1", "/k/3", "/k/5"}));
}

TEST_F(Http2AbuseTest, KeepaliveTimeoutEndsAnIdleConnectionWithGoaway) {
    auto c = std::make_unique<Client>(limited_port_, kHost);
    ASSERT_TRUE(c->ok()) << c->error();
    ASSERT_TRUE(c->start());
    ASSERT_TRUE(c->send(c->headers(1, h2::get("/idle", std::string(kHost) + ":" + std::to_string(limited_port_)), true)));
    EXPECT_EQ(c->read_exchange(1).status, 200);
    // keepalive_timeout is 1 s here; the read waits up to 10.
    EXPECT_TRUE(c->wait_closed(10s));
    const h2::Frame* goaway = c->goaway();
    ASSERT_NE(goaway, nullptr) << "closed without GOAWAY";
    EXPECT_EQ(goaway->error_code(), NGHTTP2_NO_ERROR);
    EXPECT_EQ(goaway->last_stream(), 1);
}

TEST_F(Http2AbuseTest, MaxConcurrentStreamsIsAnnouncedAndEnforced) {
    auto c = std::make_unique<Client>(limited_port_, kHost);
    ASSERT_TRUE(c->ok()) << c->error();
    ASSERT_TRUE(c->start());
    ASSERT_TRUE(c->read_until([](const h2::Frame& f) { return f.type == NGHTTP2_SETTINGS && !(f.flags & NGHTTP2_FLAG_ACK); }, 5s));
    uint32_t announced = 0;
    for (const h2::Frame& f : c->frames) {
        if (f.type != NGHTTP2_SETTINGS || (f.flags & NGHTTP2_FLAG_ACK)) continue;
        for (size_t at = 0; at + 6 <= f.payload.size(); at += 6) {
            const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(f.payload[at + i])); };
            if ((byte(0) << 8 | byte(1)) == NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
                announced = byte(2) << 24 | byte(3) << 16 | byte(4) << 8 | byte(5);
        }
    }
    EXPECT_EQ(announced, 2u);
}

}  // namespace
}  // namespace ne::itest
