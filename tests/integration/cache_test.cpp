// The response cache through the real proxy, with two proxy workers sharing it: a stored
// answer is a HIT on any fresh connection whichever worker takes it, without reaching the
// app; requests with credentials bypass it; Set-Cookie answers are never stored; concurrent
// misses make one upstream request (lock); a stale copy answers while the app is down; the
// oldest entries go beyond max_size; answers that vary are stored per variant (never for
// Vary: *); stored answers survive a daemon restart.
#include <dirent.h>

#include <atomic>
#include <thread>

#include "integration/proxied_app_test.h"

namespace ne::itest {
namespace {

constexpr const char* kCacheConfig = R"([proxy]
workers = 2

[[apps]]
name = "edge"
script = "${APPS}/edge.js"
port = ${PORT}

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "edge"
queue_timeout = "300ms"
cache = { valid = { "200" = "1m" }, use_stale = ["error", "timeout", "updating"], lock = true, bypass_cookie = ["session"] }

[[servers.locations]]
path = "/small/"
app = "edge"
cache = { valid = { "200" = "1m" }, max_size = "64K" }
)";

class CacheTest : public ProxiedAppTest {
protected:
    void SetUp() override {
        ProxiedAppTest::SetUp();
        start(kCacheConfig);
    }

    // A GET on a fresh connection.
    HttpResponse get(const std::string& target, const Headers& headers = {}) {
        auto r = http_get(listen_, target, headers);
        if (!r) {
            ADD_FAILURE() << "GET " << target << ": " << r.error().message;
            return {};
        }
        return *r;
    }
    // Requests the app got for `path`.
    int hits(const std::string& path) { return get_json(app_port_, "/hits?path=" + path).value("hits", -1); }

    size_t cache_files() const {
        size_t n = 0;
        if (DIR* d = ::opendir((home() + "/cache").c_str())) {
            while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
            ::closedir(d);
        }
        return n;
    }
};

TEST_F(CacheTest, StoredAnswerIsAHitOnEveryWorkerAndCredentialsBypassIt) {
    const HttpResponse first = get("/json/a?kb=4");
    EXPECT_EQ(first.status, 200);
    EXPECT_EQ(first.header("x-cache-status"), "MISS");
    // Fresh connections land on either proxy worker: every one is a HIT with the same body.
    for (int i = 0; i < 10; ++i) {
        const HttpResponse r = get("/json/a?kb=4");
        EXPECT_EQ(r.header("x-cache-status"), "HIT") << i;
        EXPECT_EQ(r.body, first.body) << i;
        EXPECT_EQ(r.header("content-type"), "application/json");
        EXPECT_NE(r.header("x-request-id"), first.header("x-request-id"));
    }
    EXPECT_EQ(hits("/json/a"), 1);
    HttpConnection conn(listen_);
    auto head = conn.request("HEAD", "/json/a?kb=4");
    ASSERT_TRUE(head.ok());
    EXPECT_EQ(head->header("x-cache-status"), "HIT");
    EXPECT_EQ(head->header("content-length"), std::to_string(first.body.size()));
    EXPECT_EQ(get("/json/a?kb=4&other=1").header("x-cache-status"), "MISS") << "the query is part of the key";

    // Authorization and the named cookie go to the app; another cookie does not.
    EXPECT_EQ(get("/json/a?kb=4", {{"Authorization", "Bearer t"}}).header("x-cache-status"), "BYPASS");
    EXPECT_EQ(get("/json/a?kb=4", {{"Cookie", "theme=1; session=s"}}).header("x-cache-status"), "BYPASS");
    EXPECT_EQ(get("/json/a?kb=4", {{"Cookie", "theme=1"}}).header("x-cache-status"), "HIT");
    EXPECT_EQ(hits("/json/a"), 4);

    // Never stored: Set-Cookie, Cache-Control private, a POST.
    for (const std::string target : {"/json/c?cookie=1", "/json/p?cc=private"}) {
        EXPECT_EQ(get(target).header("x-cache-status"), "MISS") << target;
        EXPECT_EQ(get(target).header("x-cache-status"), "MISS") << target;
    }
    EXPECT_EQ(hits("/json/c"), 2);
    EXPECT_EQ(hits("/json/p"), 2);

    // The upstream's max-age wins over `valid`: HITs until it expires, then one request
    // refreshes it from the app.
    EXPECT_EQ(get("/json/e?cc=max-age=1").header("x-cache-status"), "MISS");
    EXPECT_TRUE(wait_until([&] { return get("/json/e?cc=max-age=1").header("x-cache-status") == "EXPIRED"; }, 10s));
    EXPECT_EQ(hits("/json/e"), 2);

    // While one request refreshes an expired entry (the app takes 0.8 s), others get the
    // stale copy at once (use_stale updating).
    const std::string slow = "/json/u?cc=max-age=1&ms=800";
    EXPECT_EQ(get(slow).header("x-cache-status"), "MISS");
    std::atomic<bool> stop{false};
    std::thread refresher([&] {
        while (!stop) get(slow);
    });
    EXPECT_TRUE(wait_until([&] { return get(slow).header("x-cache-status") == "UPDATING"; }, 15s));
    stop = true;
    refresher.join();

    // gzip still applies to a HIT read from the cache file.
    auto gz = conn.get("/json/a?kb=4", {{"Accept-Encoding", "gzip"}});
    ASSERT_TRUE(gz.ok());
    EXPECT_EQ(gz->header("x-cache-status"), "HIT");
}

TEST_F(CacheTest, ConcurrentMissesMakeOneUpstreamRequest) {
    constexpr int kClients = 6;
    std::vector<std::thread> clients;
    std::vector<HttpResponse> answers(kClients);
    for (int i = 0; i < kClients; ++i)
        clients.emplace_back([&, i] {
            auto r = http_get(listen_, "/json/lock?kb=2&ms=1000");
            if (r) answers[static_cast<size_t>(i)] = *r;
        });
    for (auto& t : clients) t.join();
    EXPECT_EQ(hits("/json/lock"), 1);
    int misses = 0, served = 0;
    for (const auto& a : answers) {
        EXPECT_EQ(a.status, 200);
        EXPECT_EQ(a.body, answers[0].body);
        misses += a.header("x-cache-status") == "MISS";
        served += a.status == 200;
    }
    EXPECT_EQ(served, kClients);
    EXPECT_EQ(misses, 1) << "the others waited for the fill and got a HIT";
}

TEST_F(CacheTest, OldestEntriesGoBeyondMaxSizeAndLargerAnswersAreNotStored) {
    // Each answer is some 25 KiB; the location keeps 64 KiB.
    EXPECT_EQ(get("/small/json/1?kb=25").header("x-cache-status"), "MISS");
    EXPECT_EQ(get("/small/json/2?kb=25").header("x-cache-status"), "MISS");
    EXPECT_EQ(get("/small/json/1?kb=25").header("x-cache-status"), "HIT");   // 2 is now the oldest
    EXPECT_EQ(get("/small/json/3?kb=25").header("x-cache-status"), "MISS");
    EXPECT_EQ(get("/small/json/1?kb=25").header("x-cache-status"), "HIT");
    EXPECT_EQ(get("/small/json/3?kb=25").header("x-cache-status"), "HIT");
    EXPECT_EQ(get("/small/json/2?kb=25").header("x-cache-status"), "MISS") << "evicted";
    EXPECT_EQ(hits("/small/json/2"), 2);
    EXPECT_LE(cache_files(), 2u) << "evicted files are removed";

    EXPECT_EQ(get("/small/json/big?kb=100").header("x-cache-status"), "MISS");
    EXPECT_EQ(get("/small/json/big?kb=100").header("x-cache-status"), "MISS");
    EXPECT_EQ(hits("/small/json/big"), 2);
}

TEST_F(CacheTest, StaleCopyAnswersWhileTheAppIsDown) {
    const HttpResponse first = get("/json/s?cc=max-age=1");
    EXPECT_EQ(first.header("x-cache-status"), "MISS");
    RunResult r = run("stop", "edge");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    // Once it expires, the app cannot be reached: the stale copy answers.
    HttpResponse stale;
    EXPECT_TRUE(wait_until(
        [&] {
            stale = get("/json/s?cc=max-age=1");
            return stale.header("x-cache-status") == "STALE";
        },
        10s))
        << stale.status << " " << stale.header("x-cache-status");
    EXPECT_EQ(stale.status, 200);
    EXPECT_EQ(stale.body, first.body);
    // Nothing stored for this one: the error shows.
    EXPECT_EQ(get("/json/never").status, 503);
}

}  // namespace
}  // namespace ne::itest

namespace ne::itest {
namespace {

TEST_F(CacheTest, TwoAcceptEncodingVariantsAreCachedSeparately) {
    const Headers gzip{{"Accept-Encoding", "gzip"}};
    const Headers identity{{"Accept-Encoding", "identity"}};
    const HttpResponse g = get("/vary", gzip);
    EXPECT_EQ(g.header("x-cache-status"), "MISS");
    const HttpResponse i = get("/vary", identity);
    EXPECT_EQ(i.header("x-cache-status"), "MISS") << "another variant is not a HIT";
    for (int round = 0; round < 3; ++round) {
        const HttpResponse g2 = get("/vary", gzip);
        EXPECT_EQ(g2.header("x-cache-status"), "HIT");
        EXPECT_EQ(json::parse(g2.body, nullptr, false).value("ae", ""), "gzip") << g2.body;
        const HttpResponse i2 = get("/vary", identity);
        EXPECT_EQ(i2.header("x-cache-status"), "HIT");
        EXPECT_EQ(json::parse(i2.body, nullptr, false).value("ae", ""), "identity") << i2.body;
    }
    EXPECT_EQ(hits("/vary"), 2);
    // Vary: * is never stored, as nginx.
    get("/vary-star", gzip);
    EXPECT_EQ(get("/vary-star", gzip).header("x-cache-status"), "MISS");
    EXPECT_EQ(hits("/vary-star"), 2);
}

TEST_F(CacheTest, AStoredAnswerIsStillAHitAfterKillAndStartAndPurgeRemovesIt) {
    const HttpResponse first = get("/json/kept?kb=2", {{"Accept-Encoding", "gzip"}});
    EXPECT_EQ(first.header("x-cache-status"), "MISS");
    get("/vary", {{"Accept-Encoding", "gzip"}});
    RunResult r = run("kill");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    r = run("start", dir() + "/ecosystem.toml");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    // The loader runs beside the workers: the first answers may still be MISSes.
    HttpResponse again;
    EXPECT_TRUE(wait_until([&] {
        again = get("/json/kept?kb=2", {{"Accept-Encoding", "gzip"}});
        return again.header("x-cache-status") == "HIT";
    }, 5s)) << again.header("x-cache-status");
    EXPECT_EQ(again.body, first.body);
    const HttpResponse variant = get("/vary", {{"Accept-Encoding", "gzip"}});
    EXPECT_EQ(variant.header("x-cache-status"), "HIT");
    EXPECT_EQ(json::parse(variant.body, nullptr, false).value("ae", ""), "gzip") << variant.body;
    EXPECT_EQ(hits("/json/kept"), 0) << "the new app never saw the request";

    // Purged by location and key prefix: that key only, its variants with it.
    r = run("cache", "purge", "/", "http://127.0.0.1:" + std::to_string(listen_) + "/json/kept");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("purged 1 stored answers"), std::string::npos) << r.out;
    EXPECT_EQ(get("/json/kept?kb=2", {{"Accept-Encoding", "gzip"}}).header("x-cache-status"), "MISS");
    EXPECT_EQ(get("/vary", {{"Accept-Encoding", "gzip"}}).header("x-cache-status"), "HIT");
    r = run("cache", "purge", "/", "http://127.0.0.1:" + std::to_string(listen_) + "/vary");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_EQ(get("/vary", {{"Accept-Encoding", "gzip"}}).header("x-cache-status"), "MISS");
    EXPECT_EQ(run("cache", "purge", "/nowhere/").out, "purged 0 stored answers\n");
    EXPECT_EQ(run("cache", "drop").code, 2);
}

}  // namespace
}  // namespace ne::itest
