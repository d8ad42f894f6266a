// PM2's process keys that nodeedge carries out itself, with the real daemon and real Node
// workers: watch (a change restarts the app once; ignored paths, node_modules and the app's
// own log file do not), cron_restart, autorestart = false, increment_var and namespaces.
#include <filesystem>
#include <fstream>

#include "integration/harness.h"

namespace ne::itest {
namespace {

namespace fs = std::filesystem;

constexpr const char* kApp = R"([[apps]]
name = "${NAME}"
script = "${APPS}/${SCRIPT}"
port = ${PORT}
kill_timeout = "3s"
${EXTRA}
)";

class Pm2ProcessKeysTest : public IntegrationTest {
protected:
    // Writes one app's ecosystem file (its own folder is the test's) and starts it.
    json start_app(const std::string& name, const std::string& script, const std::string& extra) {
        port = free_port();
        const std::string file = write_file(name + ".toml", kApp,
                                            {{"NAME", name}, {"SCRIPT", script}, {"PORT", std::to_string(port)},
                                             {"EXTRA", extra}});
        RunResult r = run("start", file);
        EXPECT_EQ(r.code, 0) << "stdout: " << r.out << "\nstderr: " << r.err;
        auto rows = workers_of(name);
        return rows.empty() ? json::object() : rows[0];
    }

    json row(const std::string& name) {
        auto rows = workers_of(name);
        return rows.empty() ? json::object() : rows[0];
    }

    // Waits until the app's one worker has restarted `n` times in all and is online again.
    bool restarted(const std::string& name, int n) {
        return wait_until([&] {
            json r = row(name);
            return r.value("restarts", -1) == n && r.value("status", "") == "online";
        }, 30s);
    }

    // A change that must not restart the app: after it, several watch_delays pass with the
    // count unchanged, and the worker is the same process.
    void expect_no_restart(const std::string& name, const json& before) {
        std::this_thread::sleep_for(1500ms);  // watch_delay is 200 ms: a restart would be under way
        json now = row(name);
        EXPECT_EQ(now.value("restarts", -1), before.value("restarts", -2)) << now.dump();
        EXPECT_EQ(now.value("pid", -1), before.value("pid", -2)) << now.dump();
    }

    void touch(const std::string& path) {
        fs::create_directories(fs::path(path).parent_path());
        std::ofstream(path, std::ios::app) << "x\n";
    }

    int port = 0;
};

TEST_F(Pm2ProcessKeysTest, WatchRestartsOnceForAChangeAndNeverForIgnoredPathsOrItsOwnLog) {
    // The app's cwd is the watched tree, and its log file lies inside it: PM2's classic loop.
    const std::string tree = dir() + "/site";
    touch(tree + "/src/routes.js");
    touch(tree + "/node_modules/dep/index.js");
    touch(tree + "/.git/HEAD");
    json first = start_app("web", "chatty.js",
                           "cwd = \"site\"\nwatch = true\nwatch_delay = \"200ms\"\n"
                           "merge_logs = true\nout_file = \"" + tree + "/logs/web.log\"\n");
    ASSERT_EQ(first.value("status", ""), "online") << first.dump();

    // Its own output, written into the watched tree, and the default ignores (node_modules,
    // dot folders) change nothing.
    auto hello = http_get(port, "/print?tag=hello&n=20");
    ASSERT_TRUE(hello.ok()) << hello.error().message;
    ASSERT_EQ(hello->status, 200);
    touch(tree + "/node_modules/dep/index.js");
    touch(tree + "/.git/HEAD");
    expect_no_restart("web", first);
    EXPECT_NE(read_file(tree + "/logs/web.log").find("hello 19"), std::string::npos);

    // A source change restarts it once, as a new process.
    touch(tree + "/src/routes.js");
    ASSERT_TRUE(restarted("web", 1)) << row("web").dump();
    json second = row("web");
    EXPECT_NE(second.value("pid", 0), first.value("pid", 0));
    // The new worker logging does not start another restart. (A replacement runs on the
    // instance's other port, as after a reload.)
    auto again = http_get(second.value("port", 0), "/print?tag=again&n=20");
    ASSERT_TRUE(again.ok()) << again.error().message;
    ASSERT_EQ(again->status, 200);
    expect_no_restart("web", second);

    // A folder created now is watched too: creating it is one change, a file in it another.
    fs::create_directories(tree + "/lib");
    ASSERT_TRUE(restarted("web", 2)) << row("web").dump();
    json third = row("web");
    touch(tree + "/lib/helper.js");
    ASSERT_TRUE(restarted("web", 3)) << row("web").dump();
    EXPECT_NE(row("web").value("pid", 0), third.value("pid", 0));
    RunResult d = run("describe", "web");
    EXPECT_NE(d.out.find("change in " + tree + "/lib/helper.js"), std::string::npos) << d.out;
}

TEST_F(Pm2ProcessKeysTest, IgnoreWatchPatternsReplacePm2sDefaults) {
    const std::string tree = dir() + "/site";
    touch(tree + "/app.js");
    // The folders exist before: creating one is a change like any other.
    fs::create_directories(tree + "/uploads/2026");
    fs::create_directories(tree + "/deep/er");
    json first = start_app("web", "echo.js",
                           "cwd = \"site\"\nwatch = [\"site\"]\nwatch_delay = \"200ms\"\n"
                           "ignore_watch = [\"site/uploads\", \"**/*.tmp\", \"~ \\\\.cache$\"]\n");
    ASSERT_EQ(first.value("status", ""), "online") << first.dump();
    touch(tree + "/uploads/2026/photo.jpg");
    touch(tree + "/scratch.tmp");
    touch(tree + "/deep/er/x.tmp");
    touch(tree + "/build.cache");
    expect_no_restart("web", first);
    // Listing patterns drops PM2's default list: node_modules counts again, as under PM2.
    touch(tree + "/node_modules/dep/index.js");
    ASSERT_TRUE(restarted("web", 1)) << row("web").dump();
}

TEST_F(Pm2ProcessKeysTest, CronRestartReplacesTheWorkerAtEachFireTimeWithoutFailingARequest) {
    const int listen = free_port();
    json first = start_app("tick", "echo.js",
                           "cron_restart = \"* * * * * *\"\n\n[[servers]]\nlisten = [\"127.0.0.1:" +
                               std::to_string(listen) + "\"]\n[[servers.locations]]\npath = \"/\"\napp = \"tick\"\n");
    ASSERT_EQ(first.value("status", ""), "online") << first.dump();
    // Restarts roll through the proxy as a reload does: clients see no failure.
    LoadLoop load(listen, "/cron");
    load.start();
    ASSERT_TRUE(wait_until([&] { return row("tick").value("restarts", 0) >= 3; }, 30s)) << row("tick").dump();
    auto stats = load.stop();
    EXPECT_GT(stats.ok, 0);
    EXPECT_EQ(stats.failed, 0) << stats.describe();
    EXPECT_NE(row("tick").value("pid", 0), first.value("pid", 0));
    RunResult d = run("describe", "tick");
    EXPECT_EQ(d.code, 0) << d.err;
    EXPECT_NE(d.out.find("cron_restart '* * * * * *' fired"), std::string::npos) << d.out;

    // A stopped app stays stopped: the schedule does not start it again.
    RunResult s = run("stop", "tick");
    ASSERT_EQ(s.code, 0) << s.err;
    std::this_thread::sleep_for(2500ms);  // two fire times
    json stopped = row("tick");
    EXPECT_EQ(stopped.value("status", ""), "stopped") << stopped.dump();
    EXPECT_EQ(stopped.value("pid", -1), 0);
}

TEST_F(Pm2ProcessKeysTest, AutorestartFalseLeavesAnExitedWorkerStoppedUntilRestart) {
    json first = start_app("once", "crash.js", "autorestart = false\nmax_restarts = 5\n");
    ASSERT_EQ(first.value("status", ""), "online") << first.dump();
    (void)http_get(port, "/crash");  // the worker exits with code 1 (so the request fails)
    ASSERT_TRUE(wait_until([&] { return row("once").value("status", "") == "stopped"; }, 10s)) << row("once").dump();
    std::this_thread::sleep_for(1500ms);  // past restart_delay and the backoff: nothing comes back
    json down = row("once");
    EXPECT_EQ(down.value("status", ""), "stopped") << down.dump();
    EXPECT_EQ(down.value("pid", -1), 0);
    EXPECT_EQ(down.value("restarts", -1), 0);

    RunResult r = run("restart", "once");
    ASSERT_EQ(r.code, 0) << r.err;
    json back = row("once");
    EXPECT_EQ(back.value("status", ""), "online") << back.dump();
    EXPECT_NE(back.value("pid", 0), 0);
    auto answer = http_get(back.value("port", 0), "/");
    ASSERT_TRUE(answer.ok()) << answer.error().message;
    EXPECT_EQ(answer->status, 200);
}

TEST_F(Pm2ProcessKeysTest, IncrementVarGivesInstancesConsecutiveValues) {
    const int base = free_port_range(3);
    const std::string file = write_file("inc.toml", kApp,
                                        {{"NAME", "inc"}, {"SCRIPT", "env.js"}, {"PORT", std::to_string(base)},
                                         {"EXTRA", "instances = 3\nincrement_var = \"WORKER_NUM\"\n"
                                                   "env = { WORKER_NUM = \"100\" }\n"}});
    RunResult r = run("start", file);
    ASSERT_EQ(r.code, 0) << r.err;
    for (int i = 0; i < 3; ++i) {
        json answer = get_json(base + i, "/env?name=WORKER_NUM");
        EXPECT_EQ(answer.value("value", ""), std::to_string(100 + i)) << "instance " << i;
    }
}

TEST_F(Pm2ProcessKeysTest, ANamespaceStandsForItsAppsInVerbsAndStatus) {
    const int p = free_port_range(3);
    const std::string file = write_file("shop.toml", R"([[apps]]
name = "cart"
script = "${APPS}/echo.js"
port = ${P0}
namespace = "shop"

[[apps]]
name = "checkout"
script = "${APPS}/echo.js"
port = ${P1}
namespace = "shop"

[[apps]]
name = "blog"
script = "${APPS}/echo.js"
port = ${P2}
)", {{"P0", std::to_string(p)}, {"P1", std::to_string(p + 1)}, {"P2", std::to_string(p + 2)}});
    RunResult r = run("start", file);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(row("cart").value("namespace", ""), "shop");
    EXPECT_EQ(row("blog").value("namespace", ""), "default");

    RunResult s = run("stop", "shop");
    ASSERT_EQ(s.code, 0) << s.err;
    EXPECT_EQ(row("cart").value("status", ""), "stopped");
    EXPECT_EQ(row("checkout").value("status", ""), "stopped");
    EXPECT_EQ(row("blog").value("status", ""), "online");

    RunResult again = run("restart", "shop");
    ASSERT_EQ(again.code, 0) << again.err;
    EXPECT_EQ(row("cart").value("status", ""), "online");
    EXPECT_EQ(row("checkout").value("status", ""), "online");

    RunResult none = run("stop", "nosuch");
    EXPECT_EQ(none.code, 1);
    EXPECT_NE(none.err.find("process or namespace 'nosuch' not found"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace ne::itest
