#include <gtest/gtest.h>

#include "supervisor/metrics_text.h"
#include "supervisor/metrics_totals.h"
#include "supervisor/metrics_window.h"

using namespace ne;
using namespace ne::supervisor;
using Kind = ipc::RequestSeries::Kind;

namespace {

ipc::RequestSeries series(Kind kind, std::string name, uint64_t ok, uint64_t errors = 0) {
    ipc::RequestSeries s;
    s.kind = kind;
    s.server = kind == Kind::location ? "example.com" : "";
    s.name = std::move(name);
    s.by_class[1] = ok;
    s.by_class[4] = errors;
    s.latency[2] = ok + errors;  // all in the 25 ms bucket
    s.latency_sum = 0.02 * static_cast<double>(ok + errors);
    return s;
}

ipc::Stats stats(int pid, uint64_t conns, std::vector<ipc::RequestSeries> s) {
    uint64_t n = 0;
    for (auto& r : s)
        if (r.kind == Kind::location) n += r.count();
    return ipc::Stats{pid, conns, n, std::move(s)};
}

}  // namespace

TEST(SupervisorProxyTotals, SumsLiveWorkersBySeries) {
    ProxyTotals t;
    t.update(10, stats(10, 3, {series(Kind::location, "/api/", 5), series(Kind::upstream, "api", 5)}));
    t.update(11, stats(11, 4, {series(Kind::location, "/api/", 2, 1)}));
    auto all = t.series();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].name, "/api/");
    EXPECT_EQ(all[0].by_class[1], 7u);
    EXPECT_EQ(all[0].by_class[4], 1u);
    EXPECT_EQ(all[1].kind, Kind::upstream);
    EXPECT_EQ(t.connections(), 7u);
    EXPECT_EQ(t.requests(), 8u);
}

TEST(SupervisorProxyTotals, StayMonotonicWhenAWorkerIsReforked) {
    ProxyTotals t;
    t.update(10, stats(10, 2, {series(Kind::location, "/", 100)}));
    t.retire(10);  // crashed; its replacement starts from zero
    EXPECT_EQ(t.connections(), 0u);
    t.update(12, stats(12, 1, {series(Kind::location, "/", 3)}));
    auto all = t.series();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].count(), 103u);
    EXPECT_EQ(t.requests(), 103u);
    t.retire(99);  // not a worker we heard from: nothing changes
    EXPECT_EQ(t.requests(), 103u);
}

TEST(SupervisorHistogramQuantile, InterpolatesInsideTheBucketLikePrometheus) {
    LatencyBuckets b{};
    EXPECT_LT(histogram_quantile(0.99, b), 0);
    b[2] = 100;  // (0.01, 0.025]
    EXPECT_NEAR(histogram_quantile(0.5, b), 0.0175, 1e-9);
    EXPECT_NEAR(histogram_quantile(0.99, b), 0.01 + 0.015 * 0.99, 1e-9);
    b[0] = 98;   // 98 under 5 ms, 100 in (10, 25] ms: p99 still lands in the slow bucket
    b[2] = 2;
    EXPECT_NEAR(histogram_quantile(0.99, b), 0.01 + 0.015 * 0.5, 1e-9);
    b = {};
    b.back() = 5;  // only +Inf: the highest finite bound
    EXPECT_DOUBLE_EQ(histogram_quantile(0.99, b), 10);
}

TEST(SupervisorRateWindow, RateAndP99OverTheWindow) {
    RateWindow w;
    auto t0 = RateWindow::Clock::time_point{} + std::chrono::hours(1);
    w.sample(t0, {series(Kind::upstream, "api", 100)});
    EXPECT_EQ(w.rate("api").requests_per_sec, 0);  // one sample: no rate yet
    w.sample(t0 + std::chrono::milliseconds(500), {series(Kind::upstream, "api", 1000)});  // ignored: < 1 s
    w.sample(t0 + std::chrono::seconds(2), {series(Kind::upstream, "api", 300), series(Kind::location, "/", 9)});
    auto r = w.rate("api");
    EXPECT_DOUBLE_EQ(r.requests_per_sec, 100);
    EXPECT_NEAR(r.p99_seconds, 0.01 + 0.015 * 0.99, 1e-9);
    EXPECT_LT(w.rate("web").p99_seconds, 0);
    // Samples older than the span drop out: the rate follows the recent traffic.
    for (int i = 3; i <= 15; ++i) w.sample(t0 + std::chrono::seconds(i), {series(Kind::upstream, "api", 300)});
    EXPECT_DOUBLE_EQ(w.rate("api").requests_per_sec, 0);
    EXPECT_LT(w.rate("api").p99_seconds, 0);
}

TEST(SupervisorMetricsText, RendersFamiliesWithCumulativeBuckets) {
    MetricsInput in;
    in.apps = {"api", "idle"};
    in.workers.push_back(WorkerSample{"api", 0, 4242, "online", 2, 12.5, 1048576, 3000});
    auto loc = series(Kind::location, "/a\"b/", 4);
    loc.latency[0] = 1;
    loc.latency.back() = 1;
    loc.cache[1] = 3;
    in.series = {loc, series(Kind::upstream, "api", 4)};
    in.connections = 5;
    in.proxy_workers = 2;
    std::string text = render_prometheus(in);
    auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
    EXPECT_TRUE(has("nodeedge_connections_active 5")) << text;
    EXPECT_TRUE(has("nodeedge_app_workers{app=\"api\",state=\"online\"} 1")) << text;
    EXPECT_TRUE(has("nodeedge_app_workers{app=\"idle\",state=\"online\"} 0")) << text;
    EXPECT_TRUE(has("nodeedge_worker_state{app=\"api\",id=\"0\",pid=\"4242\",state=\"online\"} 1")) << text;
    EXPECT_TRUE(has("nodeedge_worker_state{app=\"api\",id=\"0\",pid=\"4242\",state=\"errored\"} 0")) << text;
    EXPECT_TRUE(has("nodeedge_worker_memory_bytes{app=\"api\",id=\"0\",pid=\"4242\"} 1048576")) << text;
    EXPECT_TRUE(has("nodeedge_worker_restarts{app=\"api\",id=\"0\",pid=\"4242\"} 2")) << text;
    const std::string l = R"(server="example.com",location="/a\"b/")";
    EXPECT_TRUE(has("nodeedge_http_requests_total{" + l + ",code=\"2xx\"} 4")) << text;
    EXPECT_TRUE(has("nodeedge_http_request_duration_seconds_bucket{" + l + ",le=\"0.005\"} 1")) << text;
    EXPECT_TRUE(has("nodeedge_http_request_duration_seconds_bucket{" + l + ",le=\"0.025\"} 5")) << text;
    EXPECT_TRUE(has("nodeedge_http_request_duration_seconds_bucket{" + l + ",le=\"+Inf\"} 6")) << text;
    EXPECT_TRUE(has("nodeedge_http_request_duration_seconds_count{" + l + "} 6")) << text;
    EXPECT_TRUE(has("nodeedge_upstream_requests_total{upstream=\"api\",code=\"2xx\"} 4")) << text;
    EXPECT_TRUE(has("nodeedge_cache_requests_total{" + l + ",status=\"HIT\"} 3")) << text;
    EXPECT_EQ(text.find("nodeedge_rate_limit_requests_total{"), std::string::npos);  // nothing limited
}

TEST(SupervisorMetricsText, EscapesLabelValues) {
    EXPECT_EQ(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}
