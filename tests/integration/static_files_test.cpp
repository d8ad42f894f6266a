// Static files through the real proxy: a `root` and an `alias` location serve files with
// validators, conditional GETs, ranges and HEAD; escapes out of the root are refused; the body
// of a large file arrives byte-exact (sendfile); a proxied location on the same server works.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "integration/proxied_app_test.h"

namespace ne::itest {
namespace {

constexpr const char* kStaticFilesConfig = R"([[apps]]
name = "echo"
script = "${APPS}/echo.js"
port = ${PORT}

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]
headers = { "X-Frame-Options" = "DENY" }

[[servers.locations]]
path = "/"
app = "echo"

[[servers.locations]]
path = "/static/"
root = "${ROOT}"
expires = "1h"
cache_control = "public"

[[servers.locations]]
path = "/assets/"
alias = "${ALIAS}"
)";

constexpr const char* kIndex = "<html><body>home</body></html>\n";
constexpr const char* kCss = "body { color: red; }\n";
constexpr size_t kBigSize = 2 * 1024 * 1024;

class StaticFilesTest : public ProxiedAppTest {
protected:
    // <dir>/site/static/{index.html, app.css, big.bin, sub/, leak.txt -> <dir>/secret.txt}
    void SetUp() override {
        ProxiedAppTest::SetUp();
        const std::string site = dir() + "/site";
        const std::string files = site + "/static";
        ASSERT_EQ(::mkdir(site.c_str(), 0755), 0);
        ASSERT_EQ(::mkdir(files.c_str(), 0755), 0);
        ASSERT_EQ(::mkdir((files + "/sub").c_str(), 0755), 0);
        write_bytes(files + "/index.html", kIndex);
        write_bytes(files + "/app.css", kCss);
        write_bytes(files + "/sub/index.html", "sub\n");
        std::mt19937 rng(42);
        big.resize(kBigSize);
        for (auto& c : big) c = static_cast<char>(rng());
        write_bytes(files + "/big.bin", big);
        write_bytes(dir() + "/secret.txt", "secret\n");
        ASSERT_EQ(::symlink((dir() + "/secret.txt").c_str(), (files + "/leak.txt").c_str()), 0);

        start(kStaticFilesConfig, {{"ROOT", site}, {"ALIAS", files}});
        ASSERT_EQ(workers_of("echo").size(), 1u) << status_json().dump(2);
    }

    HttpResponse get(const std::string& target, const Headers& headers = {}) {
        auto r = http_get(listen_, target, headers);
        EXPECT_TRUE(r) << target << ": " << r.error().message;
        return r ? *r : HttpResponse{};
    }

    std::string big;
};

TEST_F(StaticFilesTest, ServesFilesWithValidatorsAndAnswersConditionalGetAndHead) {
    HttpResponse css = get("/static/app.css", {{"X-Request-ID", "static-req-1"}});
    EXPECT_EQ(css.status, 200);
    EXPECT_EQ(css.body, kCss);
    EXPECT_EQ(css.header("content-type").rfind("text/css", 0), 0u) << css.header("content-type");
    EXPECT_EQ(css.header("content-length"), std::to_string(std::string(kCss).size()));
    EXPECT_EQ(css.header("accept-ranges"), "bytes");
    EXPECT_FALSE(css.header("last-modified").empty());
    EXPECT_FALSE(css.header("expires").empty());
    EXPECT_EQ(css.header("cache-control"), "max-age=3600, public");
    EXPECT_EQ(css.header("x-request-id"), "static-req-1");
    EXPECT_EQ(css.header("x-frame-options"), "DENY");
    const std::string etag = css.header("etag");
    ASSERT_FALSE(etag.empty());

    HttpResponse again = get("/static/app.css", {{"If-None-Match", etag}});
    EXPECT_EQ(again.status, 304);
    EXPECT_EQ(again.body, "");
    EXPECT_EQ(again.header("etag"), etag);

    HttpResponse since = get("/static/app.css", {{"If-Modified-Since", css.header("last-modified")}});
    EXPECT_EQ(since.status, 304);

    HttpResponse stale = get("/static/app.css", {{"If-None-Match", "\"not-it\""}});
    EXPECT_EQ(stale.status, 200);
    EXPECT_EQ(stale.body, kCss);

    HttpConnection conn(listen_);
    auto head = conn.request("HEAD", "/static/app.css");
    ASSERT_TRUE(head) << head.error().message;
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->body, "");
    EXPECT_EQ(head->header("content-length"), std::to_string(std::string(kCss).size()));
    EXPECT_EQ(head->header("etag"), etag);
    // The same keep-alive connection goes on after a HEAD.
    auto index = conn.get("/static/");
    ASSERT_TRUE(index) << index.error().message;
    EXPECT_EQ(index->status, 200);
    EXPECT_EQ(index->body, kIndex);
    EXPECT_EQ(index->header("content-type").rfind("text/html", 0), 0u) << index->header("content-type");

    HttpResponse dir = get("/static/sub?x=1");
    EXPECT_EQ(dir.status, 301);
    EXPECT_EQ(dir.header("location"), "/static/sub/?x=1");
    EXPECT_EQ(get("/static/sub/").body, "sub\n");

    HttpResponse post = [&] {
        HttpConnection c(listen_);
        auto r = c.request("POST", "/static/app.css", {}, "x");
        EXPECT_TRUE(r) << r.error().message;
        return r ? *r : HttpResponse{};
    }();
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.header("allow"), "GET, HEAD");
}

TEST_F(StaticFilesTest, RangesAnswer206AndUnsatisfiableOnes416) {
    HttpResponse part = get("/static/big.bin", {{"Range", "bytes=100-1123"}});
    EXPECT_EQ(part.status, 206);
    EXPECT_EQ(part.body, big.substr(100, 1024));
    EXPECT_EQ(part.header("content-range"), "bytes 100-1123/" + std::to_string(kBigSize));
    EXPECT_EQ(part.header("content-length"), "1024");

    HttpResponse tail = get("/static/big.bin", {{"Range", "bytes=-10"}});
    EXPECT_EQ(tail.status, 206);
    EXPECT_EQ(tail.body, big.substr(kBigSize - 10));

    HttpResponse beyond = get("/static/big.bin", {{"Range", "bytes=" + std::to_string(kBigSize) + "-"}});
    EXPECT_EQ(beyond.status, 416);
    EXPECT_EQ(beyond.header("content-range"), "bytes */" + std::to_string(kBigSize));
}

TEST_F(StaticFilesTest, LargeFileArrivesByteExactOnAKeptAliveConnection) {
    HttpConnection conn(listen_);
    for (int i = 0; i < 2; ++i) {
        auto r = conn.get("/static/big.bin");
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->header("content-length"), std::to_string(kBigSize));
        EXPECT_TRUE(r->body == big) << "request " << i + 1 << ": " << r->body.size() << " bytes differ";
        EXPECT_TRUE(r->keep_alive);
    }
}

TEST_F(StaticFilesTest, PathsOutOfTheRootAreNeverServed) {
    for (const char* target : {"/static/../../secret.txt", "/static/%2e%2e/%2e%2e/secret.txt",
                               "/static/..%2f..%2fsecret.txt", "/static/sub%2findex.html"}) {
        HttpResponse r = get(target);
        EXPECT_EQ(r.status, 404) << target;
        EXPECT_EQ(r.body.find("secret"), std::string::npos) << target;
    }
    // Locations are matched on the normalised path, as nginx matches them: these leave
    // /static/ for "/", the app's, which gets them as sent. No file answers them.
    for (const char* target : {"/static/../secret.txt", "/static/%2E%2E/site/static/app.css"}) {
        HttpResponse r = get(target);
        EXPECT_EQ(r.status, 200) << target;
        auto described = json::parse(r.body, nullptr, false);
        ASSERT_FALSE(described.is_discarded()) << target << ": " << r.body;
        EXPECT_EQ(described.value("url", ""), target);
    }
    HttpResponse bad = get("/static/%zz");
    EXPECT_EQ(bad.status, 400);
    HttpResponse leak = get("/static/leak.txt");
    EXPECT_EQ(leak.status, 403);
    EXPECT_EQ(leak.body.find("secret"), std::string::npos);
    EXPECT_EQ(leak.header("x-frame-options"), "DENY");
    EXPECT_EQ(get("/static/missing.css").status, 404);
}

TEST_F(StaticFilesTest, AliasMapsThePrefixAwayAndProxiedLocationsStillWork) {
    HttpResponse css = get("/assets/app.css");
    EXPECT_EQ(css.status, 200);
    EXPECT_EQ(css.body, kCss);
    EXPECT_EQ(css.header("cache-control"), "");   // neither expires nor cache_control here
    EXPECT_EQ(css.header("expires"), "");
    EXPECT_EQ(get("/assets/").body, kIndex);
    EXPECT_EQ(get("/assets/static/app.css").status, 404);   // alias, not root: no "static/" below it

    HttpResponse proxied = get("/api/hello?x=1");
    EXPECT_EQ(proxied.status, 200);
    auto described = json::parse(proxied.body, nullptr, false);
    ASSERT_FALSE(described.is_discarded()) << proxied.body;
    EXPECT_EQ(described.value("url", ""), "/api/hello?x=1");
    EXPECT_EQ(proxied.header("x-frame-options"), "DENY");
}

}  // namespace
}  // namespace ne::itest
