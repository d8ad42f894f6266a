#include <gtest/gtest.h>

#include "proxy/log/stats_table.h"

using namespace ne;
using namespace ne::proxy;

namespace {

std::shared_ptr<Snapshot> snapshot_with(std::vector<std::string> paths, std::string server_name = "example.com") {
    auto snap = std::make_shared<Snapshot>();
    config::Server srv;
    if (!server_name.empty()) srv.server_name = {server_name};
    srv.listen = {config::ListenAddr{"127.0.0.1", 8080, {}}};
    for (auto& p : paths) {
        config::Location l;
        const bool exact = p.starts_with("= ");
        l.match = exact ? config::Match::exact : config::Match::prefix;
        l.path = exact ? p.substr(2) : p;
        srv.locations.push_back(l);
    }
    snap->config.servers.push_back(srv);
    return snap;
}

RequestRecord record(int server, const config::Location* loc, int status, double seconds,
                     double upstream_seconds = -1) {
    RequestRecord r;
    r.server = server;
    r.location = loc;
    r.status = status;
    r.request_seconds = seconds;
    r.upstream_seconds = upstream_seconds;
    return r;
}

const ipc::RequestSeries* find(const std::vector<ipc::RequestSeries>& all, std::string_view name) {
    for (auto& s : all)
        if (s.name == name) return &s;
    return nullptr;
}

}  // namespace

TEST(ProxyStatsTable, CountsByStatusClassAndLatencyBucket) {
    StatsTable t;
    auto snap = snapshot_with({"/api/", "= /health"});
    const auto* api = &snap->config.servers[0].locations[0];
    std::shared_ptr<const Snapshot> s = snap;
    t.count(s, record(0, api, 200, 0.004, 0.003), "api");
    t.count(s, record(0, api, 204, 0.2, 0.19), "api");
    t.count(s, record(0, api, 503, 11.0), "");
    t.count(s, record(0, api, 499, 0.005, 0.005), "api");
    auto all = t.series();
    const auto* loc = find(all, "/api/");
    ASSERT_NE(loc, nullptr);
    EXPECT_EQ(loc->server, "example.com");
    EXPECT_EQ(loc->by_class, (std::array<uint64_t, 5>{0, 2, 0, 1, 1}));
    EXPECT_EQ(loc->latency[0], 2u);    // 0.004 and exactly 0.005 (le is inclusive)
    EXPECT_EQ(loc->latency[5], 1u);    // 0.2 <= 0.25
    EXPECT_EQ(loc->latency.back(), 1u);  // 11 s: +Inf
    EXPECT_DOUBLE_EQ(loc->latency_sum, 0.004 + 0.2 + 11.0 + 0.005);
    EXPECT_DOUBLE_EQ(loc->bucket_sum[0], 0.004 + 0.005);
    EXPECT_DOUBLE_EQ(loc->bucket_sum_sq[0], 0.004 * 0.004 + 0.005 * 0.005);
    EXPECT_DOUBLE_EQ(loc->bucket_sum.back(), 11.0);
    const auto* up = find(all, "api");
    ASSERT_NE(up, nullptr);
    EXPECT_EQ(up->kind, ipc::RequestSeries::Kind::upstream);
    EXPECT_EQ(up->count(), 3u);        // the 503 never reached an upstream
}

TEST(ProxyStatsTable, ExactLocationsAndNamelessServersAreLabelledAsWritten) {
    auto snap = snapshot_with({"= /health"}, "");
    auto [server, loc] = StatsTable::labels(snap->config.servers[0], snap->config.servers[0].locations[0]);
    EXPECT_EQ(server, "127.0.0.1:8080");
    EXPECT_EQ(loc, "= /health");
}

TEST(ProxyStatsTable, KeepsCountingTheSameSeriesAcrossSnapshots) {
    StatsTable t;
    std::shared_ptr<const Snapshot> a = snapshot_with({"/a/", "/b/"});
    t.count(a, record(0, &a->config.servers[0].locations[1], 200, 0.01), "");
    // A new config moves /b/ to the front: its counters follow the labels, not the position.
    std::shared_ptr<const Snapshot> b = snapshot_with({"/b/", "/a/"});
    t.count(b, record(0, &b->config.servers[0].locations[0], 200, 0.01), "");
    t.count(a, record(0, &a->config.servers[0].locations[0], 200, 0.01), "");  // an older request
    auto all = t.series();
    EXPECT_EQ(find(all, "/b/")->count(), 2u);
    EXPECT_EQ(find(all, "/a/")->count(), 1u);
}

TEST(ProxyStatsTable, UnroutedRequestsHaveEmptyLabels) {
    StatsTable t;
    t.count(nullptr, record(-1, nullptr, 400, 0.001), "");
    auto all = t.series();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].server, "");
    EXPECT_EQ(all[0].name, "");
    EXPECT_EQ(all[0].by_class[3], 1u);
}

TEST(ProxyStatsTable, CountsCacheAndRateLimitOutcomesPerLocation) {
    StatsTable t;
    std::shared_ptr<const Snapshot> s = snapshot_with({"/"});
    const auto* loc = &s->config.servers[0].locations[0];
    t.count_cache(s, 0, loc, ipc::CacheStatus::hit);
    t.count_cache(s, 0, loc, ipc::CacheStatus::hit);
    t.count_cache(s, 0, loc, ipc::CacheStatus::miss);
    auto limited = record(0, loc, 503, 0.0);
    limited.rate_limit = RequestRecord::RateLimit::rejected;
    t.count(s, limited, "");
    auto all = t.series();
    const auto* r = find(all, "/");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->cache[static_cast<size_t>(ipc::CacheStatus::hit)], 2u);
    EXPECT_EQ(r->cache[static_cast<size_t>(ipc::CacheStatus::miss)], 1u);
    EXPECT_EQ(r->rate_limit[static_cast<size_t>(ipc::RateLimitResult::rejected)], 1u);
    EXPECT_EQ(r->count(), 1u);
}
