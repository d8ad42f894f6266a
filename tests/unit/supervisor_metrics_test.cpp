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
    for (uint64_t i = 0; i < ok; ++i) s.observe(200, 0.02);      // all in the 25 ms bucket
    for (uint64_t i = 0; i < errors; ++i) s.observe(500, 0.02);
    return s;
}

// The histogram of these request times, counted as a proxy worker counts them.
LatencyHistogram histogram_of(const std::vector<double>& seconds) {
    ipc::RequestSeries s;
    for (double t : seconds) s.observe(200, t);
    return {s.latency, s.bucket_sum, s.bucket_sum_sq};
}

std::vector<double> repeated(size_t n, double seconds) { return std::vector<double>(n, seconds); }

// n request times spread evenly over [from, to].
std::vector<double> spread(size_t n, double from, double to) {
    std::vector<double> out;
    for (size_t i = 0; i < n; ++i) out.push_back(from + (to - from) * static_cast<double>(i) / static_cast<double>(n - 1));
    return out;
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

TEST(SupervisorHistogramQuantile, EmptyHasNone) {
    EXPECT_LT(histogram_quantile(0.99, LatencyHistogram{}), 0);
}

TEST(SupervisorHistogramQuantile, RequestsThatAllTakeTheSameTimeGiveThatTime) {
    // Prometheus' interpolation from bound to bound says 2.485 s for these.
    EXPECT_NEAR(histogram_quantile(0.99, histogram_of(repeated(1000, 1.01))), 1.01, 0.02 * 1.01);
    EXPECT_NEAR(histogram_quantile(0.99, histogram_of(repeated(1000, 0.3))), 0.3, 0.02 * 0.3);
    EXPECT_NEAR(histogram_quantile(0.5, histogram_of(repeated(7, 0.004))), 0.004, 0.02 * 0.004);
}

TEST(SupervisorHistogramQuantile, BimodalLandsInTheRightModeAtItsTime) {
    auto times = repeated(900, 0.003);
    auto slow = repeated(100, 1.01);
    times.insert(times.end(), slow.begin(), slow.end());
    auto h = histogram_of(times);
    EXPECT_NEAR(histogram_quantile(0.99, h), 1.01, 0.02 * 1.01);
    EXPECT_NEAR(histogram_quantile(0.5, h), 0.003, 0.02 * 0.003);
    // Exactly at the edge of the fast mode: still the fast requests' time.
    EXPECT_NEAR(histogram_quantile(0.9, h), 0.003, 0.02 * 0.003);
}

TEST(SupervisorHistogramQuantile, EvenSpreadOverABucketIsPrometheusInterpolation) {
    auto h = histogram_of(spread(1001, 1.0 + 1e-9, 2.5));
    EXPECT_NEAR(histogram_quantile(0.99, h), 1 + 1.5 * 0.99, 0.01);
    EXPECT_NEAR(histogram_quantile(0.5, h), 1.75, 0.01);
}

TEST(SupervisorHistogramQuantile, SpreadInsideABucketFollowsTheSpread) {
    // 0.26 .. 0.34 s, all in (0.25, 0.5]: the true p99 is 0.3392.
    auto h = histogram_of(spread(1001, 0.26, 0.34));
    EXPECT_NEAR(histogram_quantile(0.99, h), 0.3392, 0.02 * 0.3392);
}

TEST(SupervisorHistogramQuantile, NeverLeavesTheBucket) {
    // Half at each end of (1, 2.5]: an even spread as wide as the variance would reach past
    // both bounds.
    auto times = repeated(500, 1.001);
    auto high = repeated(500, 2.5);
    times.insert(times.end(), high.begin(), high.end());
    auto h = histogram_of(times);
    for (double q : {0.01, 0.5, 0.99, 1.0}) {
        double v = histogram_quantile(q, h);
        EXPECT_GT(v, 1.0) << q;
        EXPECT_LE(v, 2.5) << q;
    }
}

TEST(SupervisorHistogramQuantile, BeyondTheLastBoundIsTheirTime) {
    EXPECT_NEAR(histogram_quantile(0.99, histogram_of(repeated(100, 12.0))), 12.0, 0.02 * 12.0);
}

TEST(SupervisorHistogramQuantile, AnEarlierProxyWorkerWithoutBucketSumsGivesPrometheusAnswers) {
    ipc::RequestSeries s;
    s.kind = Kind::upstream;
    s.name = "api";
    s.by_class[1] = 105;
    s.latency[2] = 100;    // (0.01, 0.025]
    s.latency.back() = 5;  // +Inf
    auto j = nlohmann::json::parse(ipc::encode(ipc::Stats{1, 0, 105, {s}}));
    j["series"][0].erase("bs");
    j["series"][0].erase("bq");
    auto decoded = ipc::decode(j.dump());
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    const auto& got = std::get<ipc::Stats>(*decoded).series.at(0);
    LatencyHistogram h{got.latency, got.bucket_sum, got.bucket_sum_sq};
    EXPECT_NEAR(histogram_quantile(0.5, h), 0.01 + 0.015 * (52.5 / 100), 1e-9);
    EXPECT_NEAR(histogram_quantile(0.99, h), 10, 1e-9);  // in +Inf: the highest finite bound
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
    EXPECT_NEAR(r.p99_seconds, 0.02, 1e-6);
    EXPECT_LT(w.rate("web").p99_seconds, 0);
    // Samples older than the span drop out: the rate follows the recent traffic.
    for (int i = 3; i <= 15; ++i) w.sample(t0 + std::chrono::seconds(i), {series(Kind::upstream, "api", 300)});
    EXPECT_DOUBLE_EQ(w.rate("api").requests_per_sec, 0);
    EXPECT_LT(w.rate("api").p99_seconds, 0);
}

TEST(SupervisorRateWindow, TheProxysRateIsEveryLocationsOverTheSameSeconds) {
    RateWindow w;
    auto t0 = RateWindow::Clock::time_point{} + std::chrono::hours(1);
    EXPECT_EQ(w.proxy_requests_per_sec(), 0);
    w.sample(t0, {series(Kind::location, "/api/", 10), series(Kind::location, "/static/", 5),
                  series(Kind::upstream, "api", 10)});
    // 4 s later: /api/ answered 40 more, 8 of them without an upstream's answer (502); /static/
    // answered 20 from files.
    w.sample(t0 + std::chrono::seconds(4), {series(Kind::location, "/api/", 42, 8), series(Kind::location, "/static/", 25),
                                            series(Kind::upstream, "api", 42)});
    EXPECT_DOUBLE_EQ(w.proxy_requests_per_sec(), 15);
    EXPECT_DOUBLE_EQ(w.rate("api").requests_per_sec, 8);
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
