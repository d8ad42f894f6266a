// The response cache's pure rules (who may use it, the key, freshness) and its shared index
// (claims for `lock` and `updating`, LRU eviction under max_size, a commit that replaces).
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "proxy/cache/index.h"
#include "proxy/cache/policy.h"

namespace ne::proxy {
namespace {

config::Cache cache_with(std::map<int, config::Duration> valid) {
    config::Cache c;
    c.enabled = true;
    c.valid = std::move(valid);
    return c;
}

TEST(CachePolicy, OnlyGetAndHeadWithoutCredentialsUseTheCache) {
    config::Cache c = cache_with({{200, std::chrono::minutes(5)}});
    c.bypass_cookie = {"session", "admin"};
    const std::vector<Header> none;
    EXPECT_EQ(request_caching("GET", none, c), RequestCaching::use);
    EXPECT_EQ(request_caching("HEAD", none, c), RequestCaching::use);
    EXPECT_EQ(request_caching("POST", none, c), RequestCaching::skip);
    EXPECT_EQ(request_caching("PUT", none, c), RequestCaching::skip);
    const std::vector<Header> auth{{"Authorization", "Bearer x"}};
    EXPECT_EQ(request_caching("GET", auth, c), RequestCaching::bypass);
    const std::vector<Header> session{{"Cookie", "theme=dark; session=abc"}};
    EXPECT_EQ(request_caching("GET", session, c), RequestCaching::bypass);
    const std::vector<Header> other{{"Cookie", "theme=dark; sessionid=abc"}, {"Cookie", "x=admin"}};
    EXPECT_EQ(request_caching("GET", other, c), RequestCaching::use) << "names must match whole";
}

TEST(CachePolicy, KeyIsSchemeHostAndTarget) {
    EXPECT_EQ(cache_key("http", "Example.COM:8080", "/a?b=1"), "http://example.com:8080/a?b=1");
    EXPECT_NE(cache_key("http", "a", "/x"), cache_key("https", "a", "/x"));
    EXPECT_NE(cache_key("http", "a", "/x?1"), cache_key("http", "a", "/x?2"));
    EXPECT_TRUE(has_cookie("a=1; b=2", "b"));
    EXPECT_FALSE(has_cookie("a=1; bb=2", "b"));
}

TEST(CachePolicy, FreshnessTable) {
    using std::chrono::seconds;
    const config::Cache c = cache_with({{200, std::chrono::minutes(5)}, {404, std::chrono::minutes(1)}});
    const std::time_t now = 1700000000;
    const std::string long_vary(129, 'x');
    struct Row {
        int status;
        std::vector<Header> headers;
        std::optional<seconds> want;
        const char* why;
    } rows[] = {
        {200, {}, seconds(300), "valid for 200"},
        {404, {}, seconds(60), "valid for 404"},
        {500, {}, std::nullopt, "status not in valid"},
        {200, {{"Set-Cookie", "a=1"}}, std::nullopt, "Set-Cookie"},
        {200, {{"Cache-Control", "private"}}, std::nullopt, "private"},
        {200, {{"Cache-Control", "public, no-store"}}, std::nullopt, "no-store"},
        {200, {{"Cache-Control", "no-cache"}}, std::nullopt, "no-cache"},
        {200, {{"Cache-Control", "max-age=10"}}, seconds(10), "max-age over valid"},
        {200, {{"Cache-Control", "max-age=10, s-maxage=20"}}, seconds(20), "s-maxage over max-age"},
        {200, {{"Cache-Control", "max-age=0"}}, std::nullopt, "max-age=0"},
        {301, {{"Cache-Control", "max-age=60"}}, seconds(60), "cacheable status with a lifetime"},
        {500, {{"Cache-Control", "max-age=60"}}, std::nullopt, "500 even with a lifetime"},
        {200, {{"Expires", "Tue, 14 Nov 2023 22:14:20 GMT"}}, seconds(60), "Expires"},
        {200, {{"Expires", "0"}}, std::nullopt, "Expires in the past (invalid)"},
        {200, {{"Vary", "Accept-Encoding"}}, seconds(300), "Vary on encoding, identity body"},
        {200, {{"Vary", "Accept-Encoding"}, {"Content-Encoding", "gzip"}}, seconds(300), "encoded variant"},
        {200, {{"Vary", "Cookie"}}, seconds(300), "Vary on another header: variants"},
        {200, {{"Vary", "*"}}, std::nullopt, "Vary *"},
        {200, {{"Vary", "Accept-Language, *"}}, std::nullopt, "Vary * in a list"},
        {200, {{"Vary", long_vary}}, std::nullopt, "Vary over 128 bytes"},
        {206, {{"Cache-Control", "max-age=60"}}, std::nullopt, "partial content"},
    };
    for (const Row& r : rows) EXPECT_EQ(freshness(r.status, r.headers, c, now), r.want) << r.why;
}

TEST(CachePolicy, VariantKeysFollowTheListedRequestHeaders) {
    const std::vector<Header> gzip{{"Accept-Encoding", "gzip"}, {"X-Lang", "fr"}};
    const std::vector<Header> plain{{"X-Lang", "fr"}};
    const std::vector<Header> both{{"accept-encoding", " gzip "}, {"X-Lang", "fr"}, {"Cookie", "a=1"}};
    const std::vector<Header> varies{{"Vary", "Accept-Encoding, X-Lang"}, {"vary", "Cookie"}};
    const std::vector<Header> does_not{{"Content-Type", "text/html"}};
    EXPECT_EQ(response_vary(varies), "accept-encoding,x-lang,cookie");
    EXPECT_EQ(response_vary(does_not), "");
    const std::string key = cache_key("http", "a", "/x");
    EXPECT_NE(variant_key(key, "accept-encoding", gzip), variant_key(key, "accept-encoding", plain));
    EXPECT_EQ(variant_key(key, "accept-encoding", gzip), variant_key(key, "accept-encoding", both));
    EXPECT_EQ(variant_key(key, "x-lang", gzip), variant_key(key, "x-lang", plain));
    EXPECT_TRUE(variant_key(key, "x-lang", gzip).starts_with(key));
}

TEST(CachePolicy, StoredHeadersAndStatusNames) {
    EXPECT_TRUE(stored_header("Content-Type"));
    EXPECT_TRUE(stored_header("ETag"));
    for (const char* h : {"Connection", "Transfer-Encoding", "content-length", "X-Request-ID", "Set-Cookie"})
        EXPECT_FALSE(stored_header(h)) << h;
    EXPECT_EQ(cache_status_name(CacheStatus::hit), "HIT");
    EXPECT_EQ(cache_status_name(CacheStatus::updating), "UPDATING");
    EXPECT_EQ(cache_status_name(CacheStatus::none), "");
    config::Cache c;
    c.use_stale = {"error", "http_502"};
    EXPECT_TRUE(use_stale(c, "error"));
    EXPECT_TRUE(use_stale(c, "http_502"));
    EXPECT_FALSE(use_stale(c, "timeout"));
}

class CacheIndexTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto fd = CacheIndex::create();
        ASSERT_TRUE(fd.ok()) << fd.error().message;
        auto a = CacheIndex::attach(fd->get());
        auto b = CacheIndex::attach(fd->get());
        ASSERT_TRUE(a.ok() && b.ok());
        worker1.emplace(std::move(*a));
        worker2.emplace(std::move(*b));
    }
    // Fills `key` in `scope` as one request would: consult, a file id, commit.
    std::vector<uint64_t> fill(CacheIndex& idx, std::string_view key, uint64_t size, uint64_t now, uint64_t scope,
                               uint64_t max_size, uint64_t* id_out = nullptr) {
        const uint64_t k = idx.key_hash(key);
        auto l = idx.consult(k, now, 5000);
        EXPECT_TRUE(l.ok());
        auto id = idx.next_file_id();
        EXPECT_TRUE(id.ok());
        if (id_out) *id_out = *id;
        auto unused = idx.commit(k, *id, size, now + 60000, scope, max_size);
        EXPECT_TRUE(unused.ok());
        return *unused;
    }
    std::optional<CacheIndex> worker1, worker2;
};

TEST_F(CacheIndexTest, AFillIsSeenByTheOtherWorkerAndItsClaimMakesOthersWait) {
    const uint64_t k = worker1->key_hash("http://a/x");
    EXPECT_EQ(k, worker2->key_hash("http://a/x")) << "same seed in every worker";
    auto first = worker1->consult(k, 1000, 5000);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->found, CacheIndex::Found::missing);
    EXPECT_TRUE(first->claimed);
    auto second = worker2->consult(k, 1001, 5000);
    ASSERT_TRUE(second.ok());
    EXPECT_FALSE(second->claimed);
    EXPECT_TRUE(second->filling);
    // A claim that outlived its time (its holder died) is taken over.
    auto late = worker2->consult(k, 7000, 5000);
    EXPECT_TRUE(late->claimed);

    auto id = worker1->next_file_id();
    ASSERT_TRUE(id.ok());
    auto unused = worker1->commit(k, *id, 100, 60000, 1, 1 << 20);
    ASSERT_TRUE(unused.ok());
    EXPECT_TRUE(unused->empty());
    auto hit = worker2->consult(k, 8000, 5000);
    EXPECT_EQ(hit->found, CacheIndex::Found::fresh);
    EXPECT_EQ(hit->file_id, *id);
    EXPECT_FALSE(hit->claimed);
}

TEST_F(CacheIndexTest, ExpiredEntryIsRefreshedByOneWhileOthersMayUseTheStaleCopy) {
    uint64_t id = 0;
    fill(*worker1, "http://a/s", 10, 0, 1, 1000, &id);
    const uint64_t k = worker1->key_hash("http://a/s");
    auto refresher = worker1->consult(k, 70000, 5000);
    EXPECT_EQ(refresher->found, CacheIndex::Found::stale);
    EXPECT_TRUE(refresher->claimed);
    EXPECT_EQ(refresher->file_id, id);
    auto other = worker2->consult(k, 70001, 5000);
    EXPECT_EQ(other->found, CacheIndex::Found::stale);
    EXPECT_TRUE(other->filling);
    EXPECT_EQ(other->file_id, id);
    // The refresh fails: the stale copy stays, and the next request may try again.
    worker1->abandon(k);
    EXPECT_TRUE(worker2->consult(k, 70002, 5000)->claimed);
    // A new copy replaces the old, whose file is handed back for unlinking.
    auto next = worker2->next_file_id();
    auto unused = worker2->commit(k, *next, 12, 200000, 1, 1000);
    ASSERT_TRUE(unused.ok());
    EXPECT_EQ(*unused, std::vector<uint64_t>{id});
    EXPECT_EQ(worker1->scope_bytes(1), 12u);
    EXPECT_EQ(worker1->stored(), 1u);
}

TEST_F(CacheIndexTest, LeastRecentlyUsedEntriesOfTheScopeGoBeyondMaxSize) {
    uint64_t a = 0, b = 0, c = 0, other = 0;
    fill(*worker1, "a", 400, 0, 7, 1000, &a);
    fill(*worker1, "b", 400, 1, 7, 1000, &b);
    fill(*worker1, "x", 900, 2, 8, 1000, &other);   // another scope: its own budget
    // "a" is used again: "b" is now the least recently used.
    EXPECT_EQ(worker2->consult(worker2->key_hash("a"), 3, 5000)->found, CacheIndex::Found::fresh);
    auto unused = fill(*worker2, "c", 400, 4, 7, 1000, &c);
    EXPECT_EQ(unused, std::vector<uint64_t>{b});
    EXPECT_EQ(worker1->scope_bytes(7), 800u);
    EXPECT_EQ(worker1->scope_bytes(8), 900u);
    EXPECT_EQ(worker1->consult(worker1->key_hash("b"), 5, 5000)->found, CacheIndex::Found::missing);
    EXPECT_EQ(worker1->consult(worker1->key_hash("a"), 5, 5000)->found, CacheIndex::Found::fresh);
    // Larger than the whole budget: not stored, its own file handed back.
    uint64_t big = 0;
    auto refused = fill(*worker1, "big", 1001, 6, 7, 1000, &big);
    EXPECT_EQ(refused, std::vector<uint64_t>{big});
    EXPECT_EQ(worker1->scope_bytes(7), 800u);
}

TEST_F(CacheIndexTest, ForgetDropsAnEntryWhoseFileWentAndAttachChecksTheZone) {
    uint64_t id = 0;
    fill(*worker1, "gone", 5, 0, 1, 100, &id);
    const uint64_t k = worker1->key_hash("gone");
    worker1->forget(k, id + 1);   // another file: kept
    EXPECT_EQ(worker1->consult(k, 1, 5000)->found, CacheIndex::Found::fresh);
    worker1->forget(k, id);
    EXPECT_EQ(worker2->consult(k, 1, 5000)->found, CacheIndex::Found::missing);
    EXPECT_EQ(worker2->scope_bytes(1), 0u);
    EXPECT_FALSE(CacheIndex::attach(-1).ok());
}

}  // namespace
}  // namespace ne::proxy
