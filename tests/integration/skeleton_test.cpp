// The walking skeleton, end to end: `start` brings up Node workers behind the proxy, requests
// reach every worker with the forwarded headers, a killed worker is replaced, `kill` leaves
// nothing behind, and a broken ecosystem.toml is refused with its line and column.
#include <signal.h>

#include <algorithm>
#include <set>

#include "integration/harness.h"

namespace ne::itest {
namespace {

constexpr const char* kEchoApp = R"(# echo.js behind the proxy
[[apps]]
name = "echo"
script = "${APPS}/echo.js"
instances = ${INSTANCES}
port = ${PORT}

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "echo"
)";

int pid_of(const json& row) { return row.value("pid", 0); }

class SkeletonTest : public IntegrationTest {
protected:
    // Writes the echo config with `instances` workers and free ports; does not start it.
    std::string write_echo(int instances, const std::string& extra_app_lines = "") {
        app_port = free_port_range(instances);
        listen_port = free_port();
        std::string tmpl = kEchoApp;
        tmpl.insert(tmpl.find("\n[[servers]]"), extra_app_lines);
        return write_file("ecosystem.toml", tmpl,
                          {{"INSTANCES", std::to_string(instances)},
                           {"PORT", std::to_string(app_port)},
                           {"LISTEN", std::to_string(listen_port)}});
    }

    // Starts the echo app and returns its rows from `status --json`, once all are online.
    std::vector<json> start_echo(int instances) {
        RunResult r = run("start", write_echo(instances));
        EXPECT_EQ(r.code, 0) << "stdout: " << r.out << "\nstderr: " << r.err;
        return workers_of("echo");
    }

    // GETs through the proxy on fresh connections until `want` distinct workers answered
    // (or 40 requests were sent); returns the pids seen.
    std::set<int> pids_answering(size_t want) {
        std::set<int> pids;
        for (int i = 0; i < 40 && pids.size() < want; ++i) {
            auto r = http_get(listen_port, "/who");
            if (!r || r->status != 200) {
                ADD_FAILURE() << "GET /who: " << (r ? "status " + std::to_string(r->status) : r.error().message);
                continue;
            }
            pids.insert(json::parse(r->body, nullptr, false).value("pid", 0));
        }
        return pids;
    }

    int app_port = 0;
    int listen_port = 0;
};

TEST_F(SkeletonTest, StartRunsTwoWorkersThatBothServeThroughTheProxy) {
    auto rows = start_echo(2);
    ASSERT_EQ(rows.size(), 2u) << status_json().dump(2);
    std::set<int> listed;
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(rows[i].value("instance", -1), i);
        EXPECT_EQ(rows[i].value("status", ""), "online");
        EXPECT_EQ(rows[i].value("port", 0), app_port + i);
        EXPECT_GT(pid_of(rows[i]), 0);
        listed.insert(pid_of(rows[i]));
    }
    EXPECT_EQ(pids_answering(2), listed);
    EXPECT_EQ(curl("-o /dev/null -w '%{http_code}' http://127.0.0.1:" + std::to_string(listen_port) + "/"), "200");
}

TEST_F(SkeletonTest, ProxyForwardsClientHeadersAndRequestId) {
    ASSERT_EQ(start_echo(1).size(), 1u);

    auto r = http_get(listen_port, "/headers?x=1", {{"Host", "example.test"}});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->status, 200) << r->body;
    json seen = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(seen.is_object()) << r->body;
    EXPECT_EQ(seen.value("url", ""), "/headers?x=1");
    const json& h = seen["headers"];
    EXPECT_EQ(h.value("host", ""), "example.test");
    EXPECT_EQ(h.value("x-forwarded-for", ""), "127.0.0.1");
    EXPECT_EQ(h.value("x-real-ip", ""), "127.0.0.1");
    EXPECT_EQ(h.value("x-forwarded-proto", ""), "http");
    const std::string generated = h.value("x-request-id", "");
    EXPECT_FALSE(generated.empty());
    EXPECT_EQ(r->header("X-Request-ID"), generated);

    // A client's own request id is kept, and X-Forwarded-For is appended to, not replaced.
    r = http_get(listen_port, "/", {{"X-Request-ID", "it-req-42"}, {"X-Forwarded-For", "203.0.113.7"}});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->status, 200) << r->body;
    const json h2 = json::parse(r->body, nullptr, false).value("headers", json::object());
    EXPECT_EQ(h2.value("x-request-id", ""), "it-req-42");
    EXPECT_EQ(r->header("X-Request-ID"), "it-req-42");
    EXPECT_EQ(h2.value("x-forwarded-for", ""), "203.0.113.7, 127.0.0.1");
}

TEST_F(SkeletonTest, KilledWorkerIsReplacedWhileRequestsKeepFlowing) {
    auto rows = start_echo(2);
    ASSERT_EQ(rows.size(), 2u) << status_json().dump(2);
    const int killed = pid_of(rows[0]);
    const int other = pid_of(rows[1]);
    ASSERT_GT(killed, 0);

    LoadLoop load(listen_port, "/load");
    load.start();
    ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= 20; }, 20s)) << load.snapshot().describe();

    ASSERT_EQ(::kill(killed, SIGKILL), 0);
    int replacement = 0;
    const bool replaced = wait_until(
        [&] {
            auto now = workers_of("echo");
            if (now.size() != 2 || now[0].value("status", "") != "online") return false;
            replacement = pid_of(now[0]);
            return replacement > 0 && replacement != killed;
        },
        20s);
    ASSERT_TRUE(replaced) << status_json().dump(2);
    rows = workers_of("echo");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].value("restarts", -1), 1);
    EXPECT_EQ(rows[0].value("port", 0), app_port);
    EXPECT_EQ(pid_of(rows[1]), other) << "the other instance was not touched";
    EXPECT_EQ(rows[1].value("restarts", -1), 0);

    // The replacement joins the pool, and requests after the replacement all succeed.
    const int ok_at_replacement = load.snapshot().ok;
    EXPECT_TRUE(wait_until(
        [&] {
            auto s = load.snapshot();
            return s.ok >= ok_at_replacement + 100 && s.pids.count(replacement);
        },
        30s))
        << load.snapshot().describe();
    auto stats = load.stop();
    std::cout << "requests across the kill: " << stats.describe() << "\n";
    RecordProperty("failed_requests", stats.failed);
    EXPECT_GE(stats.trailing_ok, 100) << stats.describe();
    EXPECT_TRUE(stats.pids.count(replacement)) << "replacement pid " << replacement << " got no request";
}

TEST_F(SkeletonTest, KillLeavesNoProcessBehind) {
    auto rows = start_echo(2);
    ASSERT_EQ(rows.size(), 2u) << status_json().dump(2);
    const pid_t daemon = daemon_pid();
    ASSERT_GT(daemon, 0) << "no pid in " << home() << "/daemon.pid";
    auto procs = track_processes();
    // The daemon, both Node workers, and at least one proxy worker.
    ASSERT_GE(procs.size(), 4u);
    std::set<pid_t> tracked;
    for (const auto& p : procs) tracked.insert(p.pid);
    EXPECT_TRUE(tracked.count(daemon));
    for (const auto& row : rows) EXPECT_TRUE(tracked.count(pid_of(row))) << "worker " << pid_of(row);

    RunResult k = run("kill");
    EXPECT_EQ(k.code, 0) << k.err;
    auto living = [&] {
        std::vector<pid_t> left;
        for (const auto& p : procs)
            if (alive(p)) left.push_back(p.pid);
        return left;
    };
    EXPECT_TRUE(wait_until([&] { return living().empty(); }, 15s))
        << "still alive after `nodeedge kill`: " << ::testing::PrintToString(living());
    EXPECT_FALSE(http_get(listen_port, "/")) << "the proxy still answers";
}

TEST_F(SkeletonTest, BrokenConfigIsRefusedWithItsLineByCheckAndStart) {
    // A key that [[apps]] does not have, at the start of its own line.
    const std::string file = write_echo(1, "colour = \"blue\"\n");
    const std::string text = read_file(file);
    const auto line = 1 + std::count(text.begin(), text.begin() + text.find("colour"), '\n');
    const std::string expected = "ecosystem.toml:" + std::to_string(line) + ":1";

    RunResult check = run("check", file);
    EXPECT_EQ(check.code, 1) << check.out << check.err;
    EXPECT_NE(check.err.find(expected), std::string::npos) << check.err;
    EXPECT_NE(check.err.find("colour"), std::string::npos) << check.err;

    RunResult start = run("start", file);
    EXPECT_EQ(start.code, 1) << start.out << start.err;
    EXPECT_NE(start.err.find(expected), std::string::npos) << start.err;
    if (process_ref(daemon_pid())) {
        json rows = status_json();
        EXPECT_TRUE(rows.empty()) << rows.dump(2);
    }
    EXPECT_FALSE(http_get(app_port, "/")) << "a worker is listening";
    EXPECT_FALSE(http_get(listen_port, "/")) << "the proxy is listening";

    // Without the bad line the same file passes, so the line above is what was refused.
    RunResult good = run("check", write_echo(1));
    EXPECT_EQ(good.code, 0) << good.out << good.err;
}

}  // namespace
}  // namespace ne::itest
