#include <gtest/gtest.h>

#include "cli/monit.h"
#include "cli/render.h"

namespace ne::cli {
namespace {

using nlohmann::json;

json reply() {
    return json{{"ok", true},
                {"workers",
                 {{{"id", 0}, {"name", "api"}, {"instance", 0}, {"mode", "cluster"}, {"pid", 4242}, {"port", 3000},
                   {"status", "online"}, {"restarts", 1}, {"uptime_ms", 5000}, {"cpu_percent", 50.0},
                   {"memory_bytes", 44145050}}}},
                {"proxy", {{"listen", {"127.0.0.1:8080"}}, {"connections", 3}, {"requests_per_sec", 12.0},
                           {"workers", json::array()}}},
                {"apps", {{{"name", "api"}, {"requests_per_sec", 12.0}, {"p99_ms", 23.5}},
                          {{"name", "idle"}, {"requests_per_sec", 0.0}, {"p99_ms", nullptr}}}}};
}

TEST(CliStatusTraffic, ParsesAndRendersRequestsPerSecondAndP99PerApp) {
    auto view = parse_status(reply());
    ASSERT_TRUE(view.ok()) << view.error().message;
    ASSERT_EQ(view->apps.size(), 2u);
    EXPECT_EQ(view->apps[0].p99_ms, 23.5);
    EXPECT_FALSE(view->apps[1].p99_ms.has_value());
    std::string out = render_status(*view, Style{false, false});
    EXPECT_NE(out.find("| api  | 12.0  | 23.5ms |"), std::string::npos) << out;
    EXPECT_NE(out.find("| idle | 0.0   | -      |"), std::string::npos) << out;
    // The worker table keeps SPEC's columns.
    EXPECT_NE(out.find("| id | name | mode    | pid  | port | status | restarts | uptime | cpu"), std::string::npos) << out;
}

TEST(CliStatusTraffic, AReplyWithoutAppsStillParses) {
    json r = reply();
    r.erase("apps");
    auto view = parse_status(r);
    ASSERT_TRUE(view.ok());
    EXPECT_TRUE(view->apps.empty());
    EXPECT_EQ(render_traffic(view->apps, Style{}), "");
}

TEST(CliMonit, FrameShowsWorkersWithCpuBarsAndTraffic) {
    auto view = parse_status(reply());
    ASSERT_TRUE(view.ok());
    std::string frame = render_monit(*view, Style{false, false}, "12:00:00");
    EXPECT_EQ(frame.rfind("nodeedge monit  12:00:00  (q or Ctrl-C to quit)\n", 0), 0u) << frame;
    EXPECT_NE(frame.find("[##########          ]"), std::string::npos) << frame;  // 50% of one core
    EXPECT_NE(frame.find("42.1mb"), std::string::npos) << frame;
    EXPECT_NE(frame.find("23.5ms"), std::string::npos) << frame;
    EXPECT_EQ(frame.find('\x1b'), std::string::npos) << "no colour without a terminal";
    std::string coloured = render_monit(*view, Style{true, true}, "12:00:00");
    EXPECT_NE(coloured.find("\x1b["), std::string::npos);
}

TEST(CliMonit, SaysSoWhenThereIsNoApp) {
    EXPECT_NE(render_monit(StatusView{}, Style{}, "t").find("no apps"), std::string::npos);
}

}  // namespace
}  // namespace ne::cli
