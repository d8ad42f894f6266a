// Zero-downtime operations: the supervisor and the proxy drain workers together, so a reload,
// a crash, a failed deploy or a scale-down under load loses no request.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <set>

#include "integration/harness.h"

namespace ne::itest {
namespace {

// An app that refuses to start while BREAK_FILE exists: "new code that throws at start-up".
constexpr const char* kBreakableApp = R"('use strict';
if (require('fs').existsSync(process.env.BREAK_FILE)) {
  throw new Error('deploy broke the app: ' + process.env.BREAK_FILE + ' exists');
}
require('${APPS}/echo.js');
)";

constexpr const char* kReloadConfig = R"([[apps]]
name = "web"
script = "${SCRIPT}"
instances = ${INSTANCES}
port = ${PORT}
kill_timeout = "3s"
listen_timeout = "5s"
env = { BREAK_FILE = "${BREAK}" }

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "web"
)";

std::set<int> pids(const std::vector<json>& rows) {
    std::set<int> out;
    for (auto& r : rows) out.insert(r.value("pid", 0));
    return out;
}

class ReloadTest : public IntegrationTest {
protected:
    std::string config(int instances, const std::string& tail = "") {
        if (!listen_port) {
            app_port = free_port_range(instances);
            listen_port = free_port();
            script = write_file("web.js", kBreakableApp);
            break_file = dir() + "/BREAK";
        }
        return write_file("ecosystem.toml", std::string(kReloadConfig) + tail,
                          {{"SCRIPT", script},
                           {"INSTANCES", std::to_string(instances)},
                           {"PORT", std::to_string(app_port)},
                           {"LISTEN", std::to_string(listen_port)},
                           {"BREAK", break_file}});
    }

    std::vector<json> start(int instances) {
        RunResult r = run("start", config(instances));
        EXPECT_EQ(r.code, 0) << r.out << r.err;
        auto rows = workers_of("web");
        EXPECT_EQ(rows.size(), static_cast<size_t>(instances)) << status_json().dump(2);
        return rows;
    }

    // Runs `reload web` n times under load; every run must succeed and no request may fail.
    void reload_under_load(int instances, int times) {
        auto before = pids(start(instances));
        LoadLoop load(listen_port, "/reload");
        load.start();
        ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= 20; }, 20s)) << load.snapshot().describe();
        for (int i = 0; i < times; ++i) {
            RunResult r = run("reload", "web");
            ASSERT_EQ(r.code, 0) << "reload " << i + 1 << ": " << r.out << r.err;
            int ok_now = load.snapshot().ok;
            // Let traffic reach the new workers before the next round.
            ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= ok_now + 20; }, 20s));
        }
        auto stats = load.stop();
        std::cout << instances << " worker(s), " << times << " reloads: " << stats.describe() << "\n";
        EXPECT_EQ(stats.failed, 0) << stats.describe();
        EXPECT_GT(stats.ok, 100);
        auto rows = workers_of("web");
        ASSERT_EQ(rows.size(), static_cast<size_t>(instances)) << status_json().dump(2);
        for (auto& r : rows) {
            EXPECT_EQ(r.value("status", ""), "online");
            EXPECT_EQ(before.count(r.value("pid", 0)), 0u) << "pid " << r.value("pid", 0) << " survived the reloads";
        }
    }

    int app_port = 0;
    int listen_port = 0;
    std::string script;
    std::string break_file;
};

TEST_F(ReloadTest, FiveReloadsOfTwoWorkersUnderLoadLoseNothing) { reload_under_load(2, 5); }

TEST_F(ReloadTest, FiveReloadsOfOneWorkerUnderLoadLoseNothing) { reload_under_load(1, 5); }

TEST_F(ReloadTest, ReloadOfBrokenCodeKeepsOldWorkersServing) {
    auto before = start(2);
    LoadLoop load(listen_port, "/broken-deploy");
    load.start();
    ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= 20; }, 20s)) << load.snapshot().describe();

    std::ofstream(break_file) << "x";
    RunResult r = run("reload", "web");
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("web:0"), std::string::npos) << "the reason names the worker: " << r.err;

    int ok_now = load.snapshot().ok;
    ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= ok_now + 50; }, 20s));
    auto stats = load.stop();
    EXPECT_EQ(stats.failed, 0) << stats.describe();
    auto after = workers_of("web");
    std::vector<json> online;
    for (auto& w : after)
        if (w.value("status", "") == "online") online.push_back(w);
    EXPECT_EQ(pids(online), pids(before)) << status_json().dump(2);
}

TEST_F(ReloadTest, BadConfigReloadChangesNothing) {
    auto before = start(2);
    const std::string file = config(2, "\n[[servers.locations]]\npath = \"/x\"\napp = \"web\"\nbalance = \"fastest\"\n");
    RunResult r = run("reload", file);
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("ecosystem.toml:"), std::string::npos) << r.err;
    EXPECT_EQ(pids(workers_of("web")), pids(before));
    auto g = http_get(listen_port, "/still-here");
    ASSERT_TRUE(g) << g.error().message;
    EXPECT_EQ(g->status, 200);
}

TEST_F(ReloadTest, KillNineUnderLoadLosesNothing) {
    auto rows = start(2);
    LoadLoop load(listen_port, "/kill9");
    load.start();
    ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= 50; }, 20s)) << load.snapshot().describe();
    const int victim = rows[0].value("pid", 0);
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    ASSERT_TRUE(wait_until(
        [&] {
            auto now = workers_of("web");
            return now.size() == 2 && now[0].value("status", "") == "online" && now[0].value("pid", 0) != victim;
        },
        20s))
        << status_json().dump(2);
    int ok_now = load.snapshot().ok;
    ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= ok_now + 50; }, 20s));
    auto stats = load.stop();
    std::cout << "kill -9 under load: " << stats.describe() << "\n";
    EXPECT_EQ(stats.failed, 0) << stats.describe();
}

TEST_F(ReloadTest, ScaleFourToOneUnderLoadLosesNothing) {
    start(4);
    LoadLoop load(listen_port, "/scale");
    load.start();
    ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= 50; }, 20s)) << load.snapshot().describe();
    RunResult r = run("scale", "web", "1");
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    int ok_now = load.snapshot().ok;
    ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= ok_now + 50; }, 20s));
    auto stats = load.stop();
    std::cout << "scale 4 -> 1 under load: " << stats.describe() << "\n";
    EXPECT_EQ(stats.failed, 0) << stats.describe();
    auto rows = workers_of("web");
    ASSERT_EQ(rows.size(), 1u) << status_json().dump(2);
    EXPECT_EQ(rows[0].value("status", ""), "online");
}

}  // namespace
}  // namespace ne::itest
