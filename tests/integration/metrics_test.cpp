// The [metrics] endpoint as Prometheus and Kubernetes see it: /metrics parses with the
// official Python client's text parser and its counters move with traffic; /health answers
// 200 only while every started app has an online worker.
#include <sys/stat.h>

#include <regex>

#include "integration/proxied_app_test.h"

namespace ne::itest {
namespace {

constexpr const char* kMetricsConfig = R"([metrics]
listen = "127.0.0.1:${METRICS}"

[[apps]]
name = "web"
script = "${APPS}/echo.js"
instances = 2
port = ${PORT}
kill_timeout = "3s"

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]
server_name = ["example.test"]

[[servers.locations]]
path = "/"
app = "web"

[[servers.locations]]
path = "= /gone"
return = "404"
)";

// Parses the exposition with prometheus_client (Debian python3-prometheus-client) and prints
// every sample as [name, labels, value]; a parse error exits non-zero with the reason.
constexpr const char* kParser = R"(import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
)";

constexpr const char* kPython = "/usr/bin/python3";

class MetricsTest : public ProxiedAppTest {
protected:
    void SetUp() override {
        ProxiedAppTest::SetUp();
        struct stat st{};
        if (::stat(kPython, &st) != 0 ||
            run_command({kPython, "-c", "import prometheus_client"}).code != 0)
            GTEST_SKIP() << "python3-prometheus-client is not installed (.ci/setup.sh --test installs it)";
    }

    // Scrapes /metrics and parses it with the real parser.
    json scrape() {
        auto r = http_get(metrics_port, "/metrics");
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
        if (!r.ok()) return json::array();
        EXPECT_EQ(r->status, 200);
        EXPECT_NE(r->header("content-type").find("text/plain; version=0.0.4"), std::string::npos);
        std::string file = write_file("scrape.txt", "");
        FILE* f = std::fopen(file.c_str(), "w");
        std::fwrite(r->body.data(), 1, r->body.size(), f);
        std::fclose(f);
        RunResult p = run_command({kPython, "-c", kParser, file});
        EXPECT_EQ(p.code, 0) << "prometheus_client refused the exposition: " << p.err << "\n" << r->body;
        json j = json::parse(p.out, nullptr, false);
        return j.is_discarded() ? json::array() : j;
    }

    // The sum of the samples named `name` whose labels include every pair of `labels`.
    static double value(const json& samples, const std::string& name, const std::map<std::string, std::string>& labels = {}) {
        double sum = 0;
        for (const auto& s : samples) {
            if (s[0] != name) continue;
            bool match = true;
            for (const auto& [k, v] : labels) match = match && s[1].value(k, "") == v;
            if (match) sum += s[2].get<double>();
        }
        return sum;
    }

    void start_web() {
        metrics_port = free_port();
        start(kMetricsConfig, {{"METRICS", std::to_string(metrics_port)}}, 2);
    }

    int metrics_port = 0;
};

TEST_F(MetricsTest, ExpositionParsesAndCountersMoveWithTraffic) {
    start_web();
    const std::map<std::string, std::string> root{{"server", "example.test"}, {"location", "/"}};
    // Memory is sampled twice a second: a worker just started may not have its first sample.
    json before;
    EXPECT_TRUE(wait_until([&] {
        before = scrape();
        return value(before, "nodeedge_worker_memory_bytes", {{"app", "web"}}) > 0;
    }, 5s)) << "no worker memory sample";
    EXPECT_EQ(value(before, "nodeedge_app_workers", {{"app", "web"}, {"state", "online"}}), 2);
    EXPECT_GE(value(before, "nodeedge_proxy_workers"), 1);

    constexpr int kRequests = 30;
    HttpConnection c(listen_);
    for (int i = 0; i < kRequests; ++i) {
        auto r = c.get("/x", {{"Host", "example.test"}});
        ASSERT_TRUE(r.ok()) << r.error().message;
        ASSERT_EQ(r->status, 200);
    }
    for (int i = 0; i < 3; ++i) {
        auto r = c.get("/gone", {{"Host", "example.test"}});
        ASSERT_TRUE(r.ok()) << r.error().message;
        ASSERT_EQ(r->status, 404);
    }
    // Proxy workers report once a second: wait for the counts rather than for a guessed time.
    const double ok_before = value(before, "nodeedge_http_requests_total", {{"location", "/"}, {"code", "2xx"}});
    json after;
    EXPECT_TRUE(wait_until([&] {
        after = scrape();
        return value(after, "nodeedge_http_requests_total", {{"location", "/"}, {"code", "2xx"}}) >= ok_before + kRequests &&
               value(after, "nodeedge_http_requests_total", {{"location", "= /gone"}, {"code", "4xx"}}) >= 3;
    }, 10s)) << after.dump();
    EXPECT_EQ(value(after, "nodeedge_http_requests_total", root) - value(before, "nodeedge_http_requests_total", root),
              kRequests);
    // The histogram agrees with the counter, and the upstream (the app) saw the same requests.
    EXPECT_EQ(value(after, "nodeedge_http_request_duration_seconds_count", root),
              value(after, "nodeedge_http_requests_total", root));
    EXPECT_EQ(value(after, "nodeedge_http_request_duration_seconds_bucket", {{"location", "/"}, {"le", "+Inf"}}),
              value(after, "nodeedge_http_requests_total", root));
    EXPECT_GT(value(after, "nodeedge_http_request_duration_seconds_sum", root), 0);
    EXPECT_GE(value(after, "nodeedge_upstream_requests_total", {{"upstream", "web"}, {"code", "2xx"}}), kRequests);
    EXPECT_GE(value(after, "nodeedge_upstream_response_duration_seconds_count", {{"upstream", "web"}}), kRequests);
    // Our keep-alive connection is open and counted.
    EXPECT_GE(value(after, "nodeedge_connections_active"), 1);

    // `status` and `monit` (one frame: its stdin is /dev/null) show requests/s and p99 per app
    // over the last 10 s, from the same counters: keep traffic flowing while they look.
    LoadLoop load(listen_, "/", 20000, 10ms);
    load.start();
    const std::regex traffic(R"(web\s+(\||│) [0-9]+\.[0-9]\s+(\||│) [0-9]+\.[0-9]ms)");
    std::string shown;
    EXPECT_TRUE(wait_until([&] { return std::regex_search(shown = run("status").out, traffic); }, 10s)) << shown;
    RunResult monit = run("monit");
    load.stop();
    EXPECT_EQ(monit.code, 0) << monit.err;
    EXPECT_NE(monit.out.find("nodeedge monit"), std::string::npos) << monit.out;
    EXPECT_TRUE(std::regex_search(monit.out, traffic)) << monit.out;
}

TEST_F(MetricsTest, HealthIsReadyOnlyWhileEveryStartedAppHasAnOnlineWorker) {
    start_web();
    auto ok = http_get(metrics_port, "/health");
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(ok->status, 200) << ok->body;

    // A second app that cannot start: the daemon is not ready while it is errored...
    std::string broken = write_file("broken.toml", R"([[apps]]
name = "broken"
script = "${APPS}/crash.js"
port = ${PORT}
max_restarts = 1
min_uptime = "5s"
restart_delay = "0s"
env = { CRASH_AT_START = "1" }
)", {{"PORT", std::to_string(free_port())}});
    EXPECT_EQ(run("start", broken).code, 1);
    auto unready = http_get(metrics_port, "/health");
    ASSERT_TRUE(unready.ok()) << unready.error().message;
    EXPECT_EQ(unready->status, 503);
    EXPECT_NE(unready->body.find("broken"), std::string::npos) << unready->body;

    // ...and ready again once it is gone (`stop` leaves an errored app errored).
    EXPECT_EQ(run("delete", "broken").code, 0);
    EXPECT_TRUE(wait_until([&] {
        auto r = http_get(metrics_port, "/health");
        return r.ok() && r->status == 200;
    }, 10s));
    auto other = http_get(metrics_port, "/nope");
    ASSERT_TRUE(other.ok());
    EXPECT_EQ(other->status, 404);
}

}  // namespace
}  // namespace ne::itest
