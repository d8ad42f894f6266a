// Proxy features through the real daemon: `return` redirects and fixed answers, the
// [proxy] error_page, per-location proxy_headers, files served beside an app (nginx's
// `try_files $uri @app`), which methods are retried on another worker, and a 100 MiB response
// to a slow reader with the proxy worker's memory bounded.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "integration/proxied_app_test.h"

namespace ne::itest {
namespace {

constexpr const char* kRoutes = R"([proxy]
workers = 1
error_page = "${DIR}/oops.html"

[[apps]]
name = "echo"
script = "${APPS}/echo.js"
port = ${PORT}

[[upstreams]]
name = "nowhere"
servers = [ { address = "127.0.0.1:${DEAD}" } ]

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]
headers = { "X-Frame-Options" = "DENY" }

[[servers.locations]]
path = "/"
root = "${DIR}/site"
app = "echo"
proxy_headers = { X-Original-URI = "$request_uri", X-Via-Port = "$server_port", X-Real-IP = "" }

[[servers.locations]]
path = "= /old"
return = "301 https://$host$request_uri"

[[servers.locations]]
path = "/bare/"
return = "https://example.com$uri"

[[servers.locations]]
path = "/hello"
return = "200 hello $remote_addr"

[[servers.locations]]
path = "/gone"
return = 410

[[servers.locations]]
path = "/nothing"
return = "204"

[[servers.locations]]
path = "/down/"
upstream = "nowhere"
)";

class ProxyFeaturesTest : public ProxiedAppTest {
protected:
    void SetUp() override {
        ProxiedAppTest::SetUp();
        ASSERT_EQ(::mkdir((dir() + "/site").c_str(), 0755), 0);
        ASSERT_EQ(::mkdir((dir() + "/site/docs").c_str(), 0755), 0);
        write_bytes(dir() + "/site/robots.txt", "User-agent: *\n");
        write_bytes(dir() + "/oops.html", "<h1>we are fixing it</h1>\n");
        start(kRoutes, {{"DEAD", std::to_string(free_port())}, {"DIR", dir()}});
    }

    HttpResponse send(const std::string& method, const std::string& target, const Headers& headers = {}) {
        HttpConnection c(listen_);
        auto r = c.request(method, target, headers);
        EXPECT_TRUE(r) << method << " " << target << ": " << r.error().message;
        return r ? *r : HttpResponse{};
    }
};

TEST_F(ProxyFeaturesTest, ReturnRedirectsAndFixedAnswers) {
    HttpResponse moved = send("GET", "/old?x=1", {{"Host", "Example.COM:8080"}});
    EXPECT_EQ(moved.status, 301);
    EXPECT_EQ(moved.header("location"), "https://example.com/old?x=1");
    EXPECT_EQ(moved.header("x-frame-options"), "DENY");  // the server's headers, as on every answer
    EXPECT_FALSE(moved.header("x-request-id").empty());
    EXPECT_TRUE(moved.keep_alive);

    HttpResponse bare = send("GET", "/bare/a/b?q");
    EXPECT_EQ(bare.status, 302);
    EXPECT_EQ(bare.header("location"), "https://example.com/bare/a/b");

    HttpResponse hello = send("GET", "/hello");
    EXPECT_EQ(hello.status, 200);
    EXPECT_EQ(hello.body, "hello 127.0.0.1");
    EXPECT_EQ(hello.header("content-type"), "text/plain; charset=utf-8");

    HttpResponse gone = send("GET", "/gone");
    EXPECT_EQ(gone.status, 410);
    EXPECT_NE(gone.body.find("410 Gone"), std::string::npos) << gone.body;

    HttpResponse nothing = send("GET", "/nothing");
    EXPECT_EQ(nothing.status, 204);
    EXPECT_EQ(nothing.body, "");
    EXPECT_EQ(nothing.header("content-length"), "");

    // `nodeedge check` reports a bad return at its line, like nginx -t.
    const std::string bad = write_file("bad.toml", "[[servers]]\nlisten = [\"127.0.0.1:1\"]\n[[servers.locations]]\n"
                                                   "path = \"/\"\nreturn = \"302 https://$hots/\"\n");
    RunResult check = run("check", bad);
    EXPECT_EQ(check.code, 1);
    EXPECT_NE(check.err.find("bad.toml:5:10: servers.locations.return: unknown variable $hots"), std::string::npos)
        << check.err;
}

TEST_F(ProxyFeaturesTest, ErrorPageIsServedAsHtmlFor502) {
    HttpResponse down = send("GET", "/down/x");
    EXPECT_EQ(down.status, 502);
    EXPECT_EQ(down.body, "<h1>we are fixing it</h1>\n");
    EXPECT_EQ(down.header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(down.header("x-frame-options"), "DENY");
    // Other errors keep their own small page.
    HttpResponse head_too_big = send("GET", "/" + std::string(9000, 'a'));
    EXPECT_EQ(head_too_big.status, 414);
    EXPECT_EQ(head_too_big.body.find("fixing"), std::string::npos);
}

TEST_F(ProxyFeaturesTest, FilesThatExistAreServedAndTheRestGoToTheApp) {
    HttpResponse file = send("GET", "/robots.txt");
    EXPECT_EQ(file.status, 200);
    EXPECT_EQ(file.body, "User-agent: *\n");
    EXPECT_FALSE(file.header("etag").empty());

    // Missing file, directory, and a method files do not answer: the app's.
    for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
             {"GET", "/api/users?id=3"}, {"GET", "/docs"}, {"GET", "/docs/"}, {"POST", "/robots.txt"}}) {
        HttpResponse app = send(method, target);
        ASSERT_EQ(app.status, 200) << method << " " << target;
        json seen = json::parse(app.body);
        EXPECT_EQ(seen["method"], method);
        EXPECT_EQ(seen["url"], target);
        // proxy_headers: set from variables, and "" removes the one the proxy would add.
        EXPECT_EQ(seen["headers"]["x-original-uri"], target);
        EXPECT_EQ(seen["headers"]["x-via-port"], std::to_string(listen_));
        EXPECT_FALSE(seen["headers"].contains("x-real-ip")) << seen.dump();
        EXPECT_EQ(seen["headers"]["x-forwarded-for"], "127.0.0.1");
    }
}

// nginx's proxy_next_upstream: a request that failed before any answer is tried on another
// worker only when it is idempotent; POST (and PATCH) are never sent twice, PUT and DELETE are
// (when their body, if any, has not streamed upstream yet: it is not kept to be sent again).
// One proxy worker: each keeps its own round robin, which starts at whichever worker became
// ready first, so with two, two requests could both go to instance 1.
constexpr const char* kFlaky = R"([proxy]
workers = 1

[[apps]]
name = "posts"
script = "${APPS}/flaky.js"
instances = 2
port = ${POSTS}

[[apps]]
name = "puts"
script = "${APPS}/flaky.js"
instances = 2
port = ${PUTS}

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/posts/"
app = "posts"

[[servers.locations]]
path = "/puts/"
app = "puts"
)";

int dropped(int worker_port) { return get_json(worker_port, "/dropped").value("dropped", -1); }

TEST_F(IntegrationTest, PostIsNeverRetriedPutIs) {
    const int listen = free_port();
    const int posts = free_port_range(2);
    const int puts = free_port_range(2);
    RunResult r = run("start", write_file("flaky.toml", kFlaky,
                                          {{"LISTEN", std::to_string(listen)},
                                           {"POSTS", std::to_string(posts)},
                                           {"PUTS", std::to_string(puts)}}));
    ASSERT_EQ(r.code, 0) << r.out << r.err;

    // Round robin over two instances: within two requests one reaches instance 0, which drops it.
    int failed = 0;
    for (int i = 0; i < 2 && failed == 0; ++i) {
        HttpConnection c(listen);
        auto resp = c.request("POST", "/posts/flaky", {}, "body");
        ASSERT_TRUE(resp) << resp.error().message;
        if (resp->status == 502) ++failed;
        else EXPECT_EQ(resp->status, 200);
    }
    EXPECT_EQ(failed, 1);
    EXPECT_EQ(dropped(posts), 1);  // sent once, not again after the failure

    for (int i = 0; i < 2; ++i) {
        HttpConnection c(listen);
        auto resp = c.request(i == 0 ? "PUT" : "DELETE", "/puts/flaky");
        ASSERT_TRUE(resp) << resp.error().message;
        EXPECT_EQ(resp->status, 200) << resp->body;  // instance 1 answered the retry
        EXPECT_EQ(json::parse(resp->body).value("instance", ""), "1");
    }
    EXPECT_GE(dropped(puts), 1);
}

// ---- a 100 MiB response to a slow reader --------------------------------------------------

constexpr const char* kBulk = R"([proxy]
workers = 1

[[apps]]
name = "bulk"
script = "${APPS}/bulk.js"
port = ${PORT}

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "bulk"
)";

TEST_F(ProxiedAppTest, A100MiBResponseToASlowReaderKeepsProxyMemoryBounded) {
    start(kBulk);
    const auto proxies = proxy_worker_processes();
    ASSERT_EQ(proxies.size(), 1u);
    const pid_t proxy = proxies[0].pid;
    ASSERT_EQ(http_get(listen_, "/")->status, 200);  // warm: pools, buffers, first allocations
    const uint64_t before = rss_bytes(proxy);

    // A small receive buffer, so the kernel cannot absorb what the proxy should hold back.
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
    int small = 64 * 1024;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ASSERT_TRUE(connect_loopback(fd.get(), listen_)) << std::strerror(errno);
    const std::string req = "GET /bulk?mb=100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ASSERT_EQ(::write(fd.get(), req.data(), req.size()), static_cast<ssize_t>(req.size()));

    // Read in small bites with pauses: far slower than Node can produce, so without flow
    // control the proxy would take the whole 100 MiB into memory.
    std::vector<char> buf(16 * 1024);
    uint64_t got = 0, peak = before;
    int reads = 0;
    for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n <= 0) break;
        got += static_cast<uint64_t>(n);
        if (++reads % 64 == 0) {
            peak = std::max(peak, rss_bytes(proxy));
            std::this_thread::sleep_for(1ms);  // pacing the reader, not a wait for a condition
        }
    }
    EXPECT_GE(got, 100ull << 20);
    EXPECT_LT(got, (100ull << 20) + 4096);  // the body whole, plus one head
    EXPECT_LT(peak - before, 32ull << 20) << "proxy RSS grew from " << before << " to " << peak;
    std::printf("proxy worker RSS: %llu KiB before, peak %llu KiB while streaming 100 MiB\n",
                static_cast<unsigned long long>(before >> 10), static_cast<unsigned long long>(peak >> 10));
}

}  // namespace
}  // namespace ne::itest
