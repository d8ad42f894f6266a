// PM2's verbs as a PM2 user types them, on the real daemon with real Node workers: each verb
// with an app name, a worker id (status's id column) and `all`, several targets at once, and
// PM2's exit statuses (1 with "process or namespace ... not found" for an unknown app or id,
// 2 for usage, 3 without a daemon).
#include <algorithm>
#include <filesystem>
#include <sstream>

#include "integration/harness.h"

namespace ne::itest {
namespace {

constexpr const char* kTwoApps = R"([[apps]]
name = "api"
script = "${APPS}/signal.js"
instances = 2
port = ${API_PORT}
kill_timeout = "3s"

[[apps]]
name = "web"
script = "${APPS}/echo.js"
port = ${WEB_PORT}
kill_timeout = "3s"
)";

class Pm2VerbsTest : public IntegrationTest {
protected:
    std::string start_two_apps() {
        std::string file = write_file("ecosystem.toml", kTwoApps,
                                      {{"API_PORT", std::to_string(free_port_range(2))},
                                       {"WEB_PORT", std::to_string(free_port())}});
        RunResult r = run("start", file);
        EXPECT_EQ(r.code, 0) << r.err;
        return file;
    }

    // The status row of app:instance; an empty object when there is none.
    json row(const std::string& app, int instance) {
        for (const json& w : workers_of(app))
            if (w.value("instance", -1) == instance) return w;
        return json::object();
    }
    std::string id_of(const std::string& app, int instance) { return std::to_string(row(app, instance).value("id", -1)); }
    int pid_of(const std::string& app, int instance) { return row(app, instance).value("pid", 0); }
    std::string status_of(const std::string& app, int instance) { return row(app, instance).value("status", ""); }

    // Runs a verb that must fail: its exit status, and stderr naming `what`.
    void expect_fails(const std::vector<std::string>& args, int code, const std::string& what) {
        RunResult r = run_args(args);
        std::string shown;
        for (const auto& a : args) shown += a + " ";
        EXPECT_EQ(r.code, code) << shown << "\nstdout: " << r.out << "\nstderr: " << r.err;
        EXPECT_NE(r.err.find(what), std::string::npos) << shown << "\nstderr: " << r.err;
    }

    std::string out_log(const std::string& app) { return read_file(home() + "/logs/" + app + "-out.log"); }
};

TEST_F(Pm2VerbsTest, StatusIdsAreUniqueAndStayWithTheirInstance) {
    start_two_apps();
    json rows = status_json();
    ASSERT_EQ(rows.size(), 3u) << rows.dump();
    std::set<int> ids;
    for (const json& r : rows) ids.insert(r.value("id", -1));
    EXPECT_EQ(ids.size(), 3u) << rows.dump();
    const std::string api1 = id_of("api", 1);
    ASSERT_EQ(run("restart", "api").code, 0);
    ASSERT_EQ(run("reload", "api").code, 0);
    EXPECT_EQ(id_of("api", 1), api1) << "restart and reload keep the id";
    for (const char* alias : {"ls", "list"}) {
        RunResult r = run(alias);
        EXPECT_EQ(r.code, 0) << alias;
        EXPECT_NE(r.out.find("api"), std::string::npos) << r.out;
        EXPECT_NE(r.out.find("web"), std::string::npos) << r.out;
    }
}

TEST_F(Pm2VerbsTest, StopStartRestartReloadTakeAnIdANameSeveralAndAll) {
    start_two_apps();
    const int api0 = pid_of("api", 0), api1 = pid_of("api", 1), web0 = pid_of("web", 0);

    // One id is one worker: the other instance and the other app serve on.
    ASSERT_EQ(run("stop", id_of("api", 1)).code, 0);
    EXPECT_EQ(status_of("api", 1), "stopped");
    EXPECT_EQ(pid_of("api", 0), api0);
    EXPECT_EQ(pid_of("web", 0), web0);
    RunResult started = run("start", id_of("api", 1));
    ASSERT_EQ(started.code, 0) << started.err;
    EXPECT_EQ(status_of("api", 1), "online");
    EXPECT_NE(pid_of("api", 1), api1);

    ASSERT_EQ(run("restart", id_of("web", 0)).code, 0);
    EXPECT_NE(pid_of("web", 0), web0);
    EXPECT_EQ(row("web", 0).value("restarts", -1), 1);
    EXPECT_EQ(pid_of("api", 0), api0) << "restart of web's id left api alone";

    const int web1 = pid_of("web", 0), api1b = pid_of("api", 1);
    ASSERT_EQ(run("reload", id_of("api", 0)).code, 0);
    EXPECT_NE(pid_of("api", 0), api0);
    EXPECT_EQ(pid_of("api", 1), api1b) << "reload of one id replaced only that worker";
    EXPECT_EQ(pid_of("web", 0), web1);

    // Several names at once, then PM2's `start NAME` of a stopped app with its stored config.
    ASSERT_EQ(run("stop", "api", "web").code, 0);
    for (auto [app, i] : {std::pair{"api", 0}, {"api", 1}, {"web", 0}}) EXPECT_EQ(status_of(app, i), "stopped") << app << i;
    started = run("start", "api");
    ASSERT_EQ(started.code, 0) << started.err;
    EXPECT_EQ(status_of("api", 0), "online");
    EXPECT_EQ(status_of("api", 1), "online");
    EXPECT_EQ(status_of("web", 0), "stopped");
    ASSERT_EQ(run("start", id_of("web", 0)).code, 0);
    EXPECT_EQ(status_of("web", 0), "online");

    // Several ids at once.
    const int a0 = pid_of("api", 0), w0 = pid_of("web", 0), a1 = pid_of("api", 1);
    ASSERT_EQ(run("restart", id_of("api", 0), id_of("web", 0)).code, 0);
    EXPECT_NE(pid_of("api", 0), a0);
    EXPECT_NE(pid_of("web", 0), w0);
    EXPECT_EQ(pid_of("api", 1), a1);

    // all.
    ASSERT_EQ(run("stop", "all").code, 0);
    for (const json& r : status_json()) EXPECT_EQ(r.value("status", ""), "stopped") << r.dump();
    ASSERT_EQ(run("restart", "all").code, 0);
    for (const json& r : status_json()) EXPECT_EQ(r.value("status", ""), "online") << r.dump();
    std::set<int> before;
    for (const json& r : status_json()) before.insert(r.value("pid", 0));
    ASSERT_EQ(run("reload", "all").code, 0);
    for (const json& r : status_json()) EXPECT_EQ(before.count(r.value("pid", 0)), 0u) << r.dump();
}

TEST_F(Pm2VerbsTest, UnknownNamesAndIdsExitOneAndChangeNothing) {
    start_two_apps();
    const json before = status_json();
    for (const char* verb : {"stop", "restart", "reload", "delete", "start", "reset", "flush"})
        expect_fails({verb, "999"}, 1, "process or namespace '999' not found");
    // One unknown target among known ones: nothing is done.
    expect_fails({"stop", "api", "nope"}, 1, "process or namespace 'nope' not found");
    expect_fails({"scale", "nope", "+1"}, 1, "process or namespace 'nope' not found");
    expect_fails({"describe", "nope"}, 1, "process or namespace 'nope' not found");
    expect_fails({"sendSignal", "SIGUSR2", "nope"}, 1, "process or namespace 'nope' not found");
    expect_fails({"env", "999"}, 1, "process or namespace '999' not found");
    json after = status_json();
    ASSERT_EQ(after.size(), before.size());
    for (size_t i = 0; i < after.size(); ++i) {
        EXPECT_EQ(after[i].value("pid", 0), before[i].value("pid", 0));
        EXPECT_EQ(after[i].value("status", ""), "online");
    }
    // `start` of a name with no file and no app says both.
    expect_fails({"start", "nope"}, 1, "nope: No such file or directory, and process or namespace 'nope' not found");
    // Usage errors are 2.
    expect_fails({"sendSignal", "SIGBOGUS", "api"}, 2, "unknown signal 'SIGBOGUS'");
    expect_fails({"scale", "api", "+x"}, 2, "expected N, +N or -N");
    expect_fails({"help", "frobnicate"}, 2, "unknown command 'frobnicate'");
}

TEST_F(Pm2VerbsTest, DeleteTakesAnIdOfAOneWorkerAppANameAndAll) {
    start_two_apps();
    expect_fails({"delete", id_of("api", 1)}, 1, "delete removes whole apps");
    EXPECT_EQ(workers_of("api").size(), 2u);
    RunResult r = run("delete", id_of("web", 0));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(workers_of("web").empty());
    ASSERT_EQ(run("delete", "all").code, 0);
    EXPECT_TRUE(status_json().empty());
    // PM2: `all` with no process at all is an error.
    expect_fails({"stop", "all"}, 1, "no process found");
    start_two_apps();
    ASSERT_EQ(run("delete", "api").code, 0);
    EXPECT_TRUE(workers_of("api").empty());
    EXPECT_EQ(workers_of("web").size(), 1u);
}

TEST_F(Pm2VerbsTest, ScaleIsAbsoluteOrRelative) {
    start_two_apps();
    ASSERT_EQ(run("scale", "api", "+1").code, 0);
    EXPECT_EQ(workers_of("api").size(), 3u);
    RunResult down = run("scale", "api", "-2");
    ASSERT_EQ(down.code, 0) << down.err;
    EXPECT_EQ(workers_of("api").size(), 1u);
    expect_fails({"scale", "api", "-1"}, 1, "must stay >= 1");
    EXPECT_EQ(workers_of("api").size(), 1u);
    ASSERT_EQ(run("scale", "api", "2").code, 0);
    EXPECT_EQ(workers_of("api").size(), 2u);
    ASSERT_EQ(run("scale", id_of("web", 0), "+1").code, 0) << "an id scales its app";
    EXPECT_EQ(workers_of("web").size(), 2u);
}

TEST_F(Pm2VerbsTest, JlistAndPrettylistArePm2sProcessList) {
    start_two_apps();
    ASSERT_TRUE(wait_until([&] {
        for (const json& r : status_json())
            if (r.value("memory_bytes", 0) == 0) return false;
        return true;
    }, 10s)) << "memory sampled";
    RunResult r = run("jlist");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "one line";
    json list = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(list.is_array()) << r.out;
    json rows = status_json();
    ASSERT_EQ(list.size(), rows.size());
    for (const json& row : rows) {
        auto it = std::find_if(list.begin(), list.end(), [&](const json& p) { return p.value("pm_id", -1) == row["id"]; });
        ASSERT_NE(it, list.end()) << row.dump();
        const json& p = *it;
        EXPECT_EQ(p["name"], row["name"]);
        EXPECT_EQ(p["pid"], row["pid"]);
        EXPECT_GT(p["monit"].value("memory", 0), 0);
        EXPECT_TRUE(p["monit"]["cpu"].is_number());
        const json& env = p["pm2_env"];
        EXPECT_EQ(env["status"], "online");
        EXPECT_EQ(env["pm_id"], row["id"]);
        EXPECT_EQ(env["restart_time"], 0);
        EXPECT_EQ(env["instances"], row["name"] == "api" ? 2 : 1);
        EXPECT_EQ(env["exec_mode"], "fork_mode");
        EXPECT_EQ(env["namespace"], "default");
        EXPECT_EQ(env["NODE_APP_INSTANCE"], row["instance"]);
        EXPECT_GT(env.value("pm_uptime", 0LL), 0LL);
        EXPECT_EQ(env["env"]["PORT"], std::to_string(row.value("port", 0)));
        EXPECT_TRUE(std::filesystem::exists(env.value("pm_out_log_path", ""))) << env.dump();
    }
    RunResult pretty = run("prettylist");
    ASSERT_EQ(pretty.code, 0) << pretty.err;
    EXPECT_NE(pretty.out.find("\n  {"), std::string::npos) << "indented";
    json again = json::parse(pretty.out, nullptr, false);
    ASSERT_TRUE(again.is_array());
    EXPECT_EQ(again.size(), list.size());
}

TEST_F(Pm2VerbsTest, EnvPrintsTheWorkersEnvironment) {
    start_two_apps();
    RunResult r = run("env", id_of("api", 1));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("\nPORT: " + std::to_string(row("api", 1).value("port", 0)) + "\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("NODE_APP_INSTANCE: 1\n"), std::string::npos) << r.out;
    expect_fails({"env", "api"}, 1, "env takes a worker id");
    ASSERT_EQ(run("stop", id_of("web", 0)).code, 0);
    expect_fails({"env", id_of("web", 0)}, 1, "has no process");
}

TEST_F(Pm2VerbsTest, ResetZeroesRestartCountsByIdNameAndAll) {
    start_two_apps();
    ASSERT_EQ(run("restart", "all").code, 0);
    for (const json& r : status_json()) ASSERT_EQ(r.value("restarts", -1), 1) << r.dump();
    ASSERT_EQ(run("reset", id_of("api", 0)).code, 0);
    EXPECT_EQ(row("api", 0).value("restarts", -1), 0);
    EXPECT_EQ(row("api", 1).value("restarts", -1), 1);
    ASSERT_EQ(run("reset", "api").code, 0);
    EXPECT_EQ(row("api", 1).value("restarts", -1), 0);
    EXPECT_EQ(row("web", 0).value("restarts", -1), 1);
    ASSERT_EQ(run("reset", "all").code, 0);
    for (const json& r : status_json()) EXPECT_EQ(r.value("restarts", -1), 0) << r.dump();
}

TEST_F(Pm2VerbsTest, SendSignalReachesTheNamedWorkers) {
    start_two_apps();
    const int p0 = pid_of("api", 0), p1 = pid_of("api", 1);
    auto got = [&](int pid) { return out_log("api").find("got SIGUSR2 in " + std::to_string(pid)) != std::string::npos; };
    RunResult r = run("sendSignal", "SIGUSR2", id_of("api", 0));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(wait_until([&] { return got(p0); }, 10s)) << out_log("api");
    EXPECT_FALSE(got(p1)) << "only the id's worker";
    ASSERT_EQ(run("flush", "api").code, 0);
    ASSERT_EQ(run("sendSignal", "USR2", "api").code, 0);
    EXPECT_TRUE(wait_until([&] { return got(p0) && got(p1); }, 10s)) << out_log("api");
    ASSERT_EQ(run("flush", id_of("api", 1)).code, 0) << "merged logs: the id flushes its app's file";
    EXPECT_EQ(out_log("api"), "");
    // web has no SIGUSR2 handler, and Node's default for it is to exit: `all` is api alone.
    ASSERT_EQ(run("delete", "web").code, 0);
    ASSERT_EQ(run("sendSignal", "12", "all").code, 0);
    EXPECT_TRUE(wait_until([&] { return got(p0) && got(p1); }, 10s)) << out_log("api");
    ASSERT_EQ(run("flush", "all").code, 0);
    EXPECT_EQ(out_log("api"), "");
}

TEST_F(Pm2VerbsTest, StartOrReloadAndStartOrRestart) {
    std::string file = write_file("ecosystem.toml", kTwoApps,
                                  {{"API_PORT", std::to_string(free_port_range(2))},
                                   {"WEB_PORT", std::to_string(free_port())}});
    ASSERT_EQ(run("start", file, "--only", "api").code, 0);
    const int api0 = pid_of("api", 0), api_port = row("api", 0).value("port", 0);
    RunResult r = run("startOrReload", file);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(status_of("web", 0), "online") << "started";
    EXPECT_NE(pid_of("api", 0), api0) << "reloaded";
    EXPECT_NE(row("api", 0).value("port", 0), api_port) << "a reload moves to the reload port";

    ASSERT_EQ(run("stop", "web").code, 0);
    const int api0b = pid_of("api", 0), port_b = row("api", 0).value("port", 0);
    r = run("startOrRestart", file);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(status_of("web", 0), "online");
    EXPECT_NE(pid_of("api", 0), api0b) << "restarted";
    EXPECT_EQ(row("api", 0).value("port", 0), port_b) << "a restart stays on its port";
    EXPECT_EQ(row("api", 0).value("restarts", 0), 2);

    expect_fails({"startOrReload", dir() + "/missing.toml"}, 1, "missing.toml");
}

TEST_F(Pm2VerbsTest, WithoutDaemonTheVerbsExitThreeAndHelpAndVersionNeedNone) {
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"jlist"}, {"prettylist"}, {"env", "0"}, {"reset", "all"}, {"sendSignal", "USR2", "all"},
             {"stop", "0", "1"}, {"scale", "api", "+1"}, {"flush", "0"}, {"start", "api"}, {"start", "0", "1"}}) {
        RunResult r = run_args(args);
        EXPECT_EQ(r.code, 3) << args.front() << ": " << r.err;
        EXPECT_EQ(r.err, "nodeedge: no daemon running (nodeedge start launches it)\n") << args.front();
    }
    for (const char* v : {"-v", "--version", "version"}) {
        RunResult r = run(v);
        EXPECT_EQ(r.code, 0) << v;
        EXPECT_EQ(r.out.rfind("nodeedge ", 0), 0u) << v << ": " << r.out;
    }
    RunResult help = run("help");
    EXPECT_EQ(help.code, 0);
    EXPECT_NE(help.out.find("jlist"), std::string::npos) << help.out;
    RunResult one = run("help", "sendSignal");
    EXPECT_EQ(one.code, 0);
    EXPECT_NE(one.out.find("SIGUSR2"), std::string::npos) << one.out;
    EXPECT_EQ(daemon_pid(), 0) << "none of them started a daemon";
}

}  // namespace
}  // namespace ne::itest
