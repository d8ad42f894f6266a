#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "cli/render.h"

namespace ne::cli {
namespace {

using nlohmann::json;

json worker_json(int id, const std::string& name, int pid, const std::string& status) {
    return json{{"id", id},
                {"name", name},
                {"instance", id},
                {"mode", "cluster"},
                {"pid", pid},
                {"port", 3000 + id},
                {"status", status},
                {"restarts", 2},
                {"uptime_ms", 5000},
                {"cpu_percent", 0.3},
                {"memory_bytes", 44145050}};
}

json with_namespace(json row, const std::string& ns) {
    row["namespace"] = ns;
    return row;
}

json status_reply() {
    return json{{"ok", true},
                {"workers", {with_namespace(worker_json(0, "api", 4242, "online"), "shop"), worker_json(1, "api", 0, "errored")}},
                {"proxy",
                 {{"listen", {"127.0.0.1:8080"}},
                  {"connections", 3},
                  {"requests_per_sec", 12.0},
                  {"workers", {{{"pid", 1}, {"status", "online"}}, {{"pid", 2}, {"status", "online"}}}}}}};
}

TEST(CliRender, ParsesWorkerRows) {
    auto view = parse_status(status_reply());
    ASSERT_TRUE(view.ok()) << view.error().message;
    ASSERT_EQ(view->workers.size(), 2u);
    const WorkerRow& w = view->workers[0];
    EXPECT_EQ(w.id, 0);
    EXPECT_EQ(w.name, "api");
    EXPECT_EQ(w.mode, "cluster");
    EXPECT_EQ(w.pid, 4242);
    EXPECT_EQ(w.port, 3000);
    EXPECT_EQ(w.status, "online");
    EXPECT_EQ(w.restarts, 2);
    EXPECT_EQ(w.uptime_ms, 5000);
    EXPECT_DOUBLE_EQ(w.cpu_percent, 0.3);
    EXPECT_EQ(w.memory_bytes, 44145050u);
    ASSERT_TRUE(view->proxy.has_value());
    EXPECT_EQ(view->proxy->workers, 2u);
    EXPECT_EQ(view->proxy->connections, 3);
}

TEST(CliRender, BadReplyNamesTheElement) {
    json reply = status_reply();
    reply["workers"][1]["pid"] = "many";
    auto view = parse_status(reply);
    ASSERT_FALSE(view.ok());
    EXPECT_EQ(view.error().message.rfind("daemon reply: workers[1]: ", 0), 0u) << view.error().message;

    auto not_array = parse_status(json{{"workers", 5}});
    ASSERT_FALSE(not_array.ok());
    EXPECT_EQ(not_array.error().message, "daemon reply: workers is not an array");
}

TEST(CliRender, EmptyReplyIsAnEmptyTable) {
    auto view = parse_status(json{{"ok", true}});
    ASSERT_TRUE(view.ok());
    EXPECT_TRUE(view->workers.empty());
    EXPECT_FALSE(view->proxy.has_value());
    std::string out = render_status(*view, Style{false, false});
    EXPECT_NE(out.find("| id | name | mode | pid | port | status | restarts | uptime | cpu | mem |"),
              std::string::npos)
        << out;
    EXPECT_EQ(out.find("proxy:"), std::string::npos);
}

TEST(CliRender, StatusTableRowsAndProxyLine) {
    auto view = parse_status(status_reply());
    ASSERT_TRUE(view.ok());
    std::string out = render_status(*view, Style{false, true});
    EXPECT_NE(out.find("│ 0  │ api  │ cluster │ 4242 │ 3000 │ online  │ 2        │ 5s     │ 0.3% │ 42.1mb │"),
              std::string::npos)
        << out;
    // No process: no pid, uptime, cpu or memory.
    EXPECT_NE(out.find("│ 1  │ api  │ cluster │ -    │ 3001 │ errored │ 2        │ -      │ -    │ -      │"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("proxy: listening on 127.0.0.1:8080 · 2 workers · 3 connections · 12.0 req/s\n"),
              std::string::npos)
        << out;
}

TEST(CliRender, ProxyLineSingularAndAscii) {
    StatusView view;
    view.proxy = ProxySummary{{"127.0.0.1:8080", "[::1]:8080"}, 1, 0.24, 1};
    std::string out = render_status(view, Style{false, false});
    EXPECT_NE(out.find("proxy: listening on 127.0.0.1:8080, [::1]:8080 - 1 worker - 1 connection - 0.2 req/s\n"),
              std::string::npos)
        << out;
    view.proxy = ProxySummary{};
    EXPECT_NE(render_status(view, Style{}).find("proxy: not listening"), std::string::npos);
}

TEST(CliRender, StatusColoursOnlyWhenAsked) {
    auto view = parse_status(status_reply());
    ASSERT_TRUE(view.ok());
    EXPECT_EQ(render_status(*view, Style{false, true}).find('\x1b'), std::string::npos);
    std::string coloured = render_status(*view, Style{true, true});
    EXPECT_NE(coloured.find("\x1b[32monline"), std::string::npos);
    EXPECT_NE(coloured.find("\x1b[31merrored"), std::string::npos);
}

TEST(CliRender, JsonHasTheSpecKeysInOrder) {
    auto view = parse_status(status_reply());
    ASSERT_TRUE(view.ok());
    std::string out = render_workers_json(view->workers);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back(), '\n');
    EXPECT_EQ(out.substr(0, out.find('}') + 1),
              R"([{"id":0,"name":"api","instance":0,"mode":"cluster","pid":4242,"port":3000,"status":"online",)"
              R"("restarts":2,"uptime_ms":5000,"cpu_percent":0.3,"memory_bytes":44145050,"namespace":"shop"})");
    json parsed = json::parse(out);
    ASSERT_TRUE(parsed.is_array());
    ASSERT_EQ(parsed.size(), 2u);
    for (const auto& w : parsed) {
        EXPECT_EQ(w.size(), 12u);
        EXPECT_TRUE(w["pid"].is_number_integer());
        EXPECT_TRUE(w["cpu_percent"].is_number());
        EXPECT_TRUE(w["memory_bytes"].is_number_unsigned());
    }
    EXPECT_EQ(parsed[1]["namespace"], "default");  // an older daemon's rows have none
    EXPECT_EQ(render_workers_json({}), "[]\n");
}

TEST(CliRender, DescribeShowsConfigWorkersAndEvents) {
    setenv("TZ", "UTC", 1);
    tzset();
    json reply{{"ok", true},
               {"app", {{"name", "api"}, {"script", "/srv/app.js"}, {"instances", "2"}, {"cwd", nullptr},
                        {"where", {{"file", "/srv/eco.toml"}, {"line", 3}, {"column", 1}}}}},
               {"workers", {worker_json(0, "api", 4242, "online")}},
               {"events",
                {{{"ts_ms", 1700000000000}, {"worker", "api:1"}, {"kind", "exit"}, {"detail", "code 1"}}}}};
    auto view = parse_describe(reply);
    ASSERT_TRUE(view.ok()) << view.error().message;
    std::string out = render_describe(*view, Style{false, false});
    EXPECT_EQ(out.rfind("app api\n", 0), 0u) << out;
    EXPECT_NE(out.find("| script    | /srv/app.js |"), std::string::npos) << out;
    EXPECT_EQ(out.find("cwd"), std::string::npos) << "null values are left out";
    EXPECT_EQ(out.find("where"), std::string::npos) << "provenance is not a setting";
    EXPECT_NE(out.find("| 0  | api  | cluster | 4242 |"), std::string::npos) << out;
    EXPECT_NE(out.find("| 2023-11-14 22:13:20 | api:1  | exit | code 1 |"), std::string::npos) << out;
}

TEST(CliRender, DescribeWithoutEventsOrApp) {
    auto view = parse_describe(json{{"app", {{"name", "api"}}}});
    ASSERT_TRUE(view.ok());
    EXPECT_NE(render_describe(*view, Style{}).find("recent events\n(none)\n"), std::string::npos);
    EXPECT_FALSE(parse_describe(json{{"workers", json::array()}}).ok());
}

}  // namespace
}  // namespace ne::cli
