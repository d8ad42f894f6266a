#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "proxy/http/forward_headers.h"
#include "proxy/conn/local_response.h"
#include "proxy/http/request_id.h"

namespace ne::proxy {
namespace {

bool has_line(const std::string& head, const std::string& line) {
    return head.find("\r\n" + line + "\r\n") != std::string::npos;
}
bool has_name(const std::string& head, const std::string& name) {
    return head.find("\r\n" + name + ":") != std::string::npos;
}

UpstreamRequest request(const std::vector<Header>& h) {
    UpstreamRequest r;
    r.method = "GET";
    r.target = "/a?b=1";
    r.headers = h;
    r.client_ip = "10.0.0.9";
    r.request_id = "rid-1";
    return r;
}

TEST(ForwardRequest, RequestLineAndAddedHeaders) {
    std::vector<Header> h{{"Host", "example.com"}, {"Accept", "*/*"}};
    std::string out;
    write_upstream_request(request(h), out);
    EXPECT_EQ(out.rfind("GET /a?b=1 HTTP/1.1\r\n", 0), 0u);
    EXPECT_TRUE(has_line(out, "Host: example.com"));
    EXPECT_TRUE(has_line(out, "Accept: */*"));
    EXPECT_TRUE(has_line(out, "X-Real-IP: 10.0.0.9"));
    EXPECT_TRUE(has_line(out, "X-Forwarded-For: 10.0.0.9"));
    EXPECT_TRUE(has_line(out, "X-Forwarded-Proto: http"));
    EXPECT_TRUE(has_line(out, "X-Request-ID: rid-1"));
    EXPECT_FALSE(has_name(out, "Content-Length"));
    EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

// proxy_headers (nginx's proxy_set_header): each replaces the client's header and the one the
// proxy would add; an empty value removes it.
TEST(ForwardRequest, SetHeadersReplaceAndRemove) {
    std::vector<Header> h{{"Host", "example.com"}, {"x-custom", "from-client"}, {"Accept", "*/*"}};
    auto r = request(h);
    std::vector<Header> set{{"Host", "backend.internal"}, {"X-Custom", "ours"}, {"X-Real-IP", ""},
                            {"X-Forwarded-For", "1.2.3.4"}};
    r.set_headers = set;
    std::string out;
    write_upstream_request(r, out);
    EXPECT_TRUE(has_line(out, "Host: backend.internal"));
    EXPECT_EQ(out.find("Host:"), out.rfind("Host:"));
    EXPECT_TRUE(has_line(out, "X-Custom: ours"));
    EXPECT_EQ(out.find("from-client"), std::string::npos);
    EXPECT_FALSE(has_name(out, "X-Real-IP"));
    EXPECT_TRUE(has_line(out, "X-Forwarded-For: 1.2.3.4"));
    EXPECT_EQ(out.find("X-Forwarded-For:"), out.rfind("X-Forwarded-For:"));
    EXPECT_TRUE(has_line(out, "X-Forwarded-Proto: http"));  // not configured: the proxy's own
    EXPECT_TRUE(has_line(out, "Accept: */*"));
}

TEST(LocalResponse, NoBodyFor204AndATextBodyForReturn) {
    LocalResponse r;
    r.status = 204;
    r.request_id = "rid";
    r.no_store = false;
    std::string out;
    write_local_response(r, out);
    EXPECT_TRUE(out.ends_with("\r\n\r\n"));
    EXPECT_FALSE(has_name(out, "Content-Length"));
    EXPECT_FALSE(has_name(out, "Content-Type"));
    EXPECT_FALSE(has_name(out, "Cache-Control"));

    r.status = 200;
    r.page = "hello";
    r.content_type = "text/plain; charset=utf-8";
    out.clear();
    write_local_response(r, out);
    EXPECT_TRUE(has_line(out, "Content-Type: text/plain; charset=utf-8"));
    EXPECT_TRUE(has_line(out, "Content-Length: 5"));
    EXPECT_TRUE(out.ends_with("\r\n\r\nhello"));
}

TEST(LocalResponse, GrpcErrorsAreTrailersOnlyWithGrpcsMapping) {
    LocalResponse r;
    r.status = 502;
    r.request_id = "rid";
    std::string out;
    write_grpc_error(r, out);
    EXPECT_TRUE(out.starts_with("HTTP/1.1 200 OK\r\n")) << out;
    EXPECT_TRUE(has_line(out, "Content-Type: application/grpc"));
    EXPECT_TRUE(has_line(out, "grpc-status: 14"));
    EXPECT_TRUE(has_line(out, "grpc-message: 502 Bad Gateway"));
    EXPECT_TRUE(has_line(out, "Content-Length: 0"));
    EXPECT_TRUE(out.ends_with("\r\n\r\n"));
    EXPECT_EQ(grpc_status_for(400), 13);
    EXPECT_EQ(grpc_status_for(401), 16);
    EXPECT_EQ(grpc_status_for(403), 7);
    EXPECT_EQ(grpc_status_for(404), 12);
    for (int s : {429, 502, 503, 504}) EXPECT_EQ(grpc_status_for(s), 14) << s;
    EXPECT_EQ(grpc_status_for(413), 2);
    EXPECT_EQ(grpc_status_for(500), 2);
}

TEST(ForwardRequest, MissingHostIsFilledIn) {
    std::vector<Header> h{{"Accept", "*/*"}};
    auto r = request(h);
    r.default_host = "site.test";
    std::string out;
    write_upstream_request(r, out);
    EXPECT_TRUE(has_line(out, "Host: site.test"));
    EXPECT_EQ(out.find("Host:"), out.rfind("Host:"));
}

TEST(ForwardRequest, AbsoluteFormAuthorityReplacesHost) {
    std::vector<Header> h{{"Host", "client-said.test"}};
    auto r = request(h);
    r.host_override = "other.example";
    std::string out;
    write_upstream_request(r, out);
    EXPECT_TRUE(has_line(out, "Host: other.example"));
    EXPECT_FALSE(has_line(out, "Host: client-said.test"));
}

TEST(ForwardRequest, ForwardedForIsAppendedAndSpoofableOnesReplaced) {
    std::vector<Header> h{{"Host", "h"},
                          {"X-Forwarded-For", "1.1.1.1"},
                          {"x-forwarded-for", " 2.2.2.2, 3.3.3.3 "},
                          {"X-Real-IP", "6.6.6.6"},
                          {"X-Forwarded-Proto", "https"},
                          {"X-Request-ID", "from-client"}};
    std::string out;
    write_upstream_request(request(h), out);
    EXPECT_TRUE(has_line(out, "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.9"));
    EXPECT_TRUE(has_line(out, "X-Real-IP: 10.0.0.9"));
    EXPECT_FALSE(has_line(out, "X-Real-IP: 6.6.6.6"));
    EXPECT_TRUE(has_line(out, "X-Forwarded-Proto: http"));
    EXPECT_FALSE(has_line(out, "X-Request-ID: from-client"));  // the caller decides the id
    EXPECT_TRUE(has_line(out, "X-Request-ID: rid-1"));
}

TEST(ForwardRequest, HopByHopAndConnectionListedHeadersAreDropped) {
    std::vector<Header> h{{"Host", "h"},
                          {"Connection", "keep-alive, X-Secret"},
                          {"Keep-Alive", "timeout=5"},
                          {"X-Secret", "s"},
                          {"TE", "trailers"},
                          {"Trailer", "X-T"},
                          {"Upgrade", "websocket"},
                          {"Proxy-Connection", "keep-alive"},
                          {"Expect", "100-continue"},
                          {"X-Kept", "k"}};
    std::string out;
    write_upstream_request(request(h), out);
    for (const char* n : {"Connection", "Keep-Alive", "X-Secret", "TE", "Trailer", "Upgrade", "Proxy-Connection", "Expect"})
        EXPECT_FALSE(has_name(out, n)) << n;
    EXPECT_TRUE(has_line(out, "X-Kept: k"));
}

// Found by request_fuzz: "Connection: host" made the backend get a request without Host.
TEST(ForwardRequest, AConnectionOptionNamingHostKeepsIt) {
    std::vector<Header> h{{"Host", "www.example.com"}, {"Connection", "keep-alive, ,host,"}};
    auto r = request(h);
    r.default_host = "fallback.test";
    std::string out;
    write_upstream_request(r, out);
    EXPECT_TRUE(has_line(out, "Host: www.example.com")) << out;
    EXPECT_EQ(out.find("Host:"), out.rfind("Host:")) << out;
}

TEST(ForwardRequest, FramingIsRegenerated) {
    std::vector<Header> h{{"Host", "h"}, {"Content-Length", "999"}};
    auto r = request(h);
    r.method = "POST";
    r.framing = Framing::length;
    r.content_length = 12;
    std::string out;
    write_upstream_request(r, out);
    EXPECT_TRUE(has_line(out, "Content-Length: 12"));
    EXPECT_FALSE(has_line(out, "Content-Length: 999"));

    std::vector<Header> c{{"Host", "h"}, {"Transfer-Encoding", "chunked"}};
    r = request(c);
    r.framing = Framing::chunked;
    out.clear();
    write_upstream_request(r, out);
    EXPECT_TRUE(has_line(out, "Transfer-Encoding: chunked"));
    EXPECT_EQ(out.find("Transfer-Encoding"), out.rfind("Transfer-Encoding"));
}

TEST(ForwardRequest, UpgradePassesThroughWhenTunnelling) {
    std::vector<Header> h{{"Host", "h"},
                          {"Connection", "Upgrade"},
                          {"Upgrade", "websocket"},
                          {"Sec-WebSocket-Key", "k=="}};
    auto r = request(h);
    r.upgrade = true;
    std::string out;
    write_upstream_request(r, out);
    EXPECT_TRUE(has_line(out, "Upgrade: websocket"));
    EXPECT_TRUE(has_line(out, "Connection: upgrade"));
    EXPECT_TRUE(has_line(out, "Sec-WebSocket-Key: k=="));
}

ClientResponse response(const std::vector<Header>& h) {
    ClientResponse r;
    r.status = 200;
    r.headers = h;
    r.request_id = "rid-2";
    return r;
}

TEST(ClientResponseHead, StatusLineHeadersAndFraming) {
    std::map<std::string, std::string> extra{{"X-Content-Type-Options", "nosniff"}};
    std::vector<Header> h{{"Content-Type", "text/plain"},
                          {"Content-Length", "5"},
                          {"Connection", "keep-alive"},
                          {"Keep-Alive", "timeout=5"},
                          {"X-Request-ID", "upstream-made"}};
    auto r = response(h);
    r.reason = "Fine";
    r.extra = &extra;
    r.framing = Framing::length;
    r.content_length = 5;
    std::string out;
    write_client_response(r, out);
    EXPECT_EQ(out.rfind("HTTP/1.1 200 Fine\r\n", 0), 0u);
    EXPECT_TRUE(has_line(out, "Content-Type: text/plain"));
    EXPECT_TRUE(has_line(out, "Content-Length: 5"));
    EXPECT_TRUE(has_line(out, "X-Content-Type-Options: nosniff"));
    EXPECT_TRUE(has_line(out, "X-Request-ID: rid-2"));
    EXPECT_FALSE(has_line(out, "X-Request-ID: upstream-made"));
    EXPECT_FALSE(has_name(out, "Connection"));
    EXPECT_FALSE(has_name(out, "Keep-Alive"));
}

TEST(ClientResponseHead, ChunkedCloseAndHttp10KeepAlive) {
    std::vector<Header> h{{"Transfer-Encoding", "chunked"}};
    auto r = response(h);
    r.reason = "";
    r.framing = Framing::chunked;
    r.keep_alive = false;
    std::string out;
    write_client_response(r, out);
    EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
    EXPECT_TRUE(has_line(out, "Transfer-Encoding: chunked"));
    EXPECT_EQ(out.find("Transfer-Encoding"), out.rfind("Transfer-Encoding"));
    EXPECT_TRUE(has_line(out, "Connection: close"));

    r.framing = Framing::length;
    r.content_length = 0;
    r.keep_alive = true;
    r.client_http10 = true;
    out.clear();
    write_client_response(r, out);
    EXPECT_TRUE(has_line(out, "Connection: keep-alive"));
    EXPECT_TRUE(has_line(out, "Content-Length: 0"));
}

TEST(ClientResponseHead, HeadAnswerKeepsUpstreamLengthAndUpgradePasses) {
    std::vector<Header> h{{"Content-Length", "1234"}};
    auto r = response(h);
    r.framing = Framing::none;
    r.has_length = true;
    r.content_length = 1234;
    std::string out;
    write_client_response(r, out);
    EXPECT_TRUE(has_line(out, "Content-Length: 1234"));

    std::vector<Header> u{{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", "x"}};
    r = response(u);
    r.status = 101;
    r.upgrade = true;
    out.clear();
    write_client_response(r, out);
    EXPECT_EQ(out.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u);
    EXPECT_TRUE(has_line(out, "Upgrade: websocket"));
    EXPECT_TRUE(has_line(out, "Connection: upgrade"));
    EXPECT_TRUE(has_line(out, "Sec-WebSocket-Accept: x"));
}

TEST(LocalResponse, HtmlPageWithHeadersAndLength) {
    std::map<std::string, std::string> extra{{"X-Frame-Options", "DENY"}};
    LocalResponse r;
    r.status = 503;
    r.request_id = "rid-3";
    r.extra = &extra;
    r.keep_alive = false;
    std::string out;
    write_local_response(r, out);
    EXPECT_EQ(out.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u);
    EXPECT_TRUE(has_line(out, "Content-Type: text/html; charset=utf-8"));
    EXPECT_TRUE(has_line(out, "X-Frame-Options: DENY"));
    EXPECT_TRUE(has_line(out, "X-Request-ID: rid-3"));
    EXPECT_TRUE(has_line(out, "Connection: close"));
    auto body_at = out.find("\r\n\r\n") + 4;
    std::string body = out.substr(body_at);
    EXPECT_NE(body.find("503 Service Unavailable"), std::string::npos);
    EXPECT_TRUE(has_line(out, "Content-Length: " + std::to_string(body.size())));
}

TEST(LocalResponse, ErrorPageAndHead) {
    LocalResponse r;
    r.status = 502;
    r.request_id = "x";
    r.page = "<p>down</p>";
    std::string out;
    write_local_response(r, out);
    EXPECT_TRUE(out.ends_with("\r\n\r\n<p>down</p>"));
    EXPECT_TRUE(has_line(out, "Content-Length: 11"));
    r.head_request = true;
    out.clear();
    write_local_response(r, out);
    EXPECT_TRUE(out.ends_with("\r\n\r\n"));
    EXPECT_TRUE(has_line(out, "Content-Length: 11"));
}

TEST(RequestIds, HexUniqueAndSeeded) {
    RequestIds a(1, 2), b(3, 4);
    std::set<std::string> seen;
    for (int i = 0; i < 100000; ++i) {
        char buf[RequestIds::kLength];
        a.next(buf);
        std::string id(buf, sizeof buf);
        ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
        ASSERT_TRUE(seen.insert(id).second) << "repeated " << id;
    }
    char x[RequestIds::kLength], y[RequestIds::kLength];
    RequestIds a2(1, 2);
    a2.next(x);
    b.next(y);
    EXPECT_NE(std::string(x, sizeof x), std::string(y, sizeof y));
    EXPECT_EQ(seen.count(std::string(x, sizeof x)), 1u);  // same seed, same sequence
}

TEST(RequestIds, Sanity) {
    EXPECT_TRUE(sane_request_id("abc-123"));
    EXPECT_TRUE(sane_request_id(std::string(200, 'a')));
    EXPECT_FALSE(sane_request_id(std::string(201, 'a')));
    EXPECT_FALSE(sane_request_id(""));
    EXPECT_FALSE(sane_request_id("has space"));
    EXPECT_FALSE(sane_request_id("tab\there"));
    EXPECT_FALSE(sane_request_id("caf\xc3\xa9"));
}

}  // namespace
}  // namespace ne::proxy
