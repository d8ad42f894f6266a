// What `start` and `status` report is what is: a program already listening on an app's port is
// refused by name and pid, never taken for a ready worker or sent the proxy's clients; a worker
// that crashes before it is ready is retried as PM2 does; a second `start` of a running app
// changes nothing and says so; every verb's exit status, with and without a daemon, is the
// README's; `status`'s p99 and request rates are what the app did; `restarts` counts every
// restart, crash or requested; after a reload every worker sits on a port the config names; a
// second file that would take over another file's address, server name or app is refused
// naming both.
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <regex>
#include <thread>

#include "integration/harness.h"
#include "ipc/unique_fd.h"

namespace ne::itest {
namespace {

constexpr const char* kProxiedEcho = R"([[apps]]
name = "echo"
script = "${APPS}/echo.js"
instances = 2
port = ${PORT}
listen_timeout = "5s"

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "echo"
)";

constexpr const char* kProxiedSlow = R"([[apps]]
name = "slow"
script = "${APPS}/slow.js"
port = ${PORT}

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "slow"
)";

class TruthTest : public IntegrationTest {};

TEST_F(TruthTest, AForeignListenerOnAnAppsPortIsRefusedByPidAndNeverServed) {
    const int port = free_port_range(2);
    const int listen = free_port();
    // The foreign program is this test process: a listener on instance 1's port that never
    // accepts, so any connection that reached it stays in its backlog.
    UniqueFd foreign(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    ASSERT_TRUE(bind_loopback(foreign.get(), port + 1));
    ASSERT_EQ(::listen(foreign.get(), 16), 0);

    const auto file = write_file("eco.toml", kProxiedEcho,
                                 {{"PORT", std::to_string(port)}, {"LISTEN", std::to_string(listen)}});
    const RunResult r = run("start", file);
    track_processes();
    EXPECT_NE(r.code, 0) << r.out << r.err;
    const std::string said = r.out + r.err;
    EXPECT_NE(said.find("port " + std::to_string(port + 1) + " is already in use by pid " +
                        std::to_string(::getpid())),
              std::string::npos)
        << said;

    const auto rows = workers_of("echo");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].value("status", ""), "online");
    EXPECT_EQ(rows[1].value("status", ""), "errored");

    // Clients of the proxy reach instance 0 only; nothing ever connected to the foreign port.
    HttpConnection client(listen);
    for (int i = 0; i < 6; ++i) {
        const auto resp = client.get("/");
        ASSERT_TRUE(resp.ok()) << resp.error().message;
        EXPECT_EQ(resp->status, 200);
        EXPECT_EQ(json::parse(resp->body).value("port", 0), port) << resp->body;
    }
    EXPECT_LT(::accept4(foreign.get(), nullptr, nullptr, SOCK_CLOEXEC), 0);
    EXPECT_EQ(errno, EAGAIN);
}

constexpr const char* kFailsFirst = R"([[apps]]
name = "db"
script = "${APPS}/fails_first.js"
port = ${PORT}
max_restarts = ${MAX}
exp_backoff_restart_delay = "50ms"
env = { COUNT_FILE = "${COUNT}", FAIL_STARTS = "2" }
)";

TEST_F(TruthTest, ACrashBeforeReadyIsRetriedUpToMaxRestarts) {
    const int port = free_port();
    const auto file = write_file("db.toml", kFailsFirst,
                                 {{"PORT", std::to_string(port)}, {"MAX", "3"}, {"COUNT", dir() + "/count"}});
    const RunResult r = run("start", file);
    track_processes();
    ASSERT_EQ(r.code, 0) << "two exits before ready, then it listens: " << r.out << r.err;
    const auto rows = workers_of("db");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].value("status", ""), "online");
    EXPECT_EQ(rows[0].value("restarts", -1), 2) << rows[0].dump();
    EXPECT_EQ(read_file(dir() + "/count"), "3");
}

TEST_F(TruthTest, ACrashBeforeReadyPastMaxRestartsOrWithNoRetryFailsTheStart) {
    const int port = free_port();
    const auto file = write_file("db.toml", kFailsFirst,
                                 {{"PORT", std::to_string(port)}, {"MAX", "1"}, {"COUNT", dir() + "/count"}});
    RunResult r = run("start", file);
    track_processes();
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("db:0 exited with code 1 before becoming ready, after 1 restarts (max_restarts 1)"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(read_file(dir() + "/count"), "2");
    ASSERT_EQ(run("delete", "db").code, 0);

    ASSERT_TRUE(std::filesystem::remove(dir() + "/count"));
    r = run("start", file, "--no-retry");
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("db:0 exited with code 1 before becoming ready"), std::string::npos) << r.err;
    EXPECT_EQ(read_file(dir() + "/count"), "1");
}

TEST_F(TruthTest, StartOfARunningAppChangesNeitherItNorItsStoredConfig) {
    const int port = free_port_range(2);
    const int listen = free_port();
    const std::map<std::string, std::string> vars{{"PORT", std::to_string(port)}, {"LISTEN", std::to_string(listen)}};
    ASSERT_EQ(run("start", write_file("eco.toml", kProxiedEcho, vars)).code, 0);
    track_processes();

    const RunResult again = run("start", dir() + "/eco.toml", "-i", "1");
    EXPECT_EQ(again.code, 0) << again.out << again.err;
    EXPECT_NE(again.out.find("echo is already running; start changed nothing"), std::string::npos) << again.out;
    EXPECT_EQ(workers_of("echo").size(), 2u);

    // What a daemon that crashed brings back: still two workers.
    const pid_t daemon = daemon_pid();
    ASSERT_GT(daemon, 0);
    ::kill(daemon, SIGKILL);
    ASSERT_TRUE(wait_until([&] { return !process_ref(daemon); }, 10s));
    // The next start brings up a new daemon, which restores the running config first.
    const RunResult after = run("start", dir() + "/eco.toml");
    EXPECT_EQ(after.code, 0) << after.out << after.err;
    track_processes();
    EXPECT_TRUE(wait_until(
        [&] {
            auto rows = workers_of("echo");
            return rows.size() == 2 && std::all_of(rows.begin(), rows.end(),
                                                   [](const json& r) { return r.value("status", "") == "online"; });
        },
        30s))
        << status_json().dump(2);
}

// Every verb as a new user meets it: without a daemon, the verbs that need one exit 3 with one
// line; with one, success is 0, a failure 1, a usage error 2.
TEST_F(TruthTest, EveryVerbsExitStatusWithAndWithoutADaemon) {
    const int port = free_port_range(2);
    const int listen = free_port();
    const auto file = write_file("eco.toml", kProxiedEcho,
                                 {{"PORT", std::to_string(port)}, {"LISTEN", std::to_string(listen)}});
    const auto bad = write_file("bad.toml", "[[apps]]\nname = \"x\"\nscript = 3\n");
    struct Verb {
        std::vector<std::string> args;
        int code;
    };
    auto check_all = [&](const std::vector<Verb>& verbs) {
        for (const auto& v : verbs) {
            const RunResult r = run_args(v.args);
            std::string shown;
            for (const auto& a : v.args) shown += a + " ";
            EXPECT_EQ(r.code, v.code) << shown << "\nstdout: " << r.out << "\nstderr: " << r.err;
            if (v.code == 3) {
                EXPECT_EQ(r.out, "") << shown;
                EXPECT_EQ(r.err, "nodeedge: no daemon running (nodeedge start launches it)\n") << shown;
            }
        }
    };
    check_all({
        {{"status"}, 3}, {{"ls"}, 3}, {{"status", "--json"}, 3}, {{"monit"}, 3}, {{"kill"}, 3},
        {{"stop", "echo"}, 3}, {{"restart", "all"}, 3}, {{"reload", "echo"}, 3}, {{"delete", "echo"}, 3},
        {{"scale", "echo", "3"}, 3}, {{"describe", "echo"}, 3}, {{"flush"}, 3}, {{"save"}, 3},
        {{"logs", "echo", "--lines", "1"}, 1}, {{"check", file}, 0}, {{"check", bad}, 1},
        {{"--version"}, 0}, {{"frobnicate"}, 2}, {{"start"}, 2}, {{"start", file, "--bogus"}, 2},
        {{"start", dir() + "/missing.toml"}, 1},
    });
    EXPECT_EQ(daemon_pid(), 0) << "a verb that needs the daemon started one";

    ASSERT_EQ(run("start", file).code, 0);
    track_processes();
    check_all({
        {{"status"}, 0}, {{"status", "--json"}, 0}, {{"describe", "echo"}, 0}, {{"describe", "nope"}, 1},
        {{"scale", "echo", "3"}, 0}, {{"restart", "echo"}, 0}, {{"reload", "echo"}, 0}, {{"reload", bad}, 1},
        {{"flush"}, 0}, {{"save"}, 0}, {{"stop", "nope"}, 1}, {{"scale", "echo", "x"}, 2},
        {{"stop", "echo"}, 0}, {{"delete", "echo"}, 0}, {{"kill"}, 0},
    });
    check_all({{{"status"}, 3}});
}

// Every answer of the app takes 300 ms (slow.js sleeps, then answers): status' p99 for it is
// that time, not the interpolation between the bucket's bounds (0.25, 0.5], and its req/s is
// what the clients got over the same ten seconds, as is the proxy's (every request is the app's).
TEST_F(TruthTest, StatusShowsTheP99AndTheRateTheAppServed) {
    const int port = free_port();
    const int listen = free_port();
    ASSERT_EQ(run("start", write_file("slow.toml", kProxiedSlow,
                                      {{"PORT", std::to_string(port)}, {"LISTEN", std::to_string(listen)}}))
                  .code,
              0);
    track_processes();

    constexpr double kAnswerMs = 300;
    std::vector<std::unique_ptr<LoadLoop>> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(std::make_unique<LoadLoop>(listen, "/slow?ms=300"));
        clients.back()->start();
    }
    auto answered = [&] {
        int n = 0;
        for (auto& c : clients) n += c->snapshot().ok;
        return n;
    };
    // What the clients got, once a second, while the traffic fills status' ten-second window.
    std::vector<std::pair<std::chrono::steady_clock::time_point, int>> seen;
    for (int i = 0; i < 13; ++i) {
        seen.emplace_back(std::chrono::steady_clock::now(), answered());
        std::this_thread::sleep_for(1s);
    }
    const RunResult shown = run("status");
    const auto now = std::chrono::steady_clock::now();
    const int total = answered();
    int failed = 0;
    for (auto& c : clients) failed += c->stop().failed;
    ASSERT_EQ(shown.code, 0) << shown.err;
    EXPECT_EQ(failed, 0);

    std::smatch app;
    ASSERT_TRUE(std::regex_search(shown.out, app, std::regex(R"(slow\s+(?:\||│) ([0-9]+\.[0-9])\s+(?:\||│) ([0-9]+\.[0-9])ms)")))
        << shown.out;
    const double app_rate = std::stod(app[1]);
    const double p99_ms = std::stod(app[2]);
    EXPECT_GT(p99_ms, 250) << shown.out;   // the bucket's bounds
    EXPECT_LE(p99_ms, 500) << shown.out;
    EXPECT_NEAR(p99_ms, kAnswerMs, kAnswerMs * 0.1) << shown.out;

    const auto ten_ago = now - 10s;
    auto from = std::min_element(seen.begin(), seen.end(), [&](const auto& a, const auto& b) {
        return std::chrono::abs(a.first - ten_ago) < std::chrono::abs(b.first - ten_ago);
    });
    const double sent_rate = (total - from->second) / std::chrono::duration<double>(now - from->first).count();
    EXPECT_NEAR(app_rate, sent_rate, sent_rate * 0.25) << shown.out << "the clients got " << sent_rate << " req/s";

    std::smatch proxy;
    ASSERT_TRUE(std::regex_search(shown.out, proxy, std::regex(R"(proxy: .* ([0-9]+\.[0-9]) req/s)"))) << shown.out;
    EXPECT_EQ(proxy[1], app[1]) << shown.out;
}

// `restarts` counts every restart of an instance, as PM2's ↺ does, with its reason in describe.
TEST_F(TruthTest, RestartsCountEveryRestartCrashOrRequested) {
    const int port = free_port_range(2);
    const int listen = free_port();
    ASSERT_EQ(run("start", write_file("eco.toml", kProxiedEcho,
                                      {{"PORT", std::to_string(port)}, {"LISTEN", std::to_string(listen)}}))
                  .code,
              0);
    track_processes();
    auto restarts = [&] {
        std::vector<int> out;
        for (const auto& r : workers_of("echo")) out.push_back(r.value("restarts", -1));
        return out;
    };
    auto all_online = [&] {
        auto rows = workers_of("echo");
        return rows.size() == 2 &&
               std::all_of(rows.begin(), rows.end(), [](const json& r) { return r.value("status", "") == "online"; });
    };
    EXPECT_EQ(restarts(), (std::vector<int>{0, 0}));

    RunResult r = run("restart", "echo");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_EQ(restarts(), (std::vector<int>{1, 1}));

    // A reload replaces each worker by a new one; the count goes on with the instance.
    r = run("reload", "echo");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    track_processes();
    EXPECT_EQ(restarts(), (std::vector<int>{2, 2}));

    const int killed = workers_of("echo").at(0).value("pid", 0);
    ASSERT_GT(killed, 0);
    ASSERT_EQ(::kill(killed, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return all_online() && workers_of("echo").at(0).value("pid", 0) != killed; }, 20s))
        << status_json().dump(2);
    track_processes();
    EXPECT_EQ(restarts(), (std::vector<int>{3, 2}));

    const RunResult d = run("describe", "echo");
    ASSERT_EQ(d.code, 0) << d.err;
    for (const char* why : {"restart requested", "reload, replacing pid", "after an unexpected exit"})
        EXPECT_NE(d.out.find(why), std::string::npos) << why << "\n" << d.out;
}

constexpr const char* kReloadPorts = R"([[apps]]
name = "echo"
script = "${APPS}/echo.js"
instances = 2
port = ${PORT}
reload_port = ${RELOAD}
listen_timeout = "5s"
)";

TEST_F(TruthTest, EveryReloadMovesEachInstanceBetweenItsTwoDocumentedPorts) {
    const int port = free_port_range(2);
    const int reload = free_port_range(2);
    const auto file = write_file("eco.toml", kReloadPorts,
                                 {{"PORT", std::to_string(port)}, {"RELOAD", std::to_string(reload)}});
    ASSERT_EQ(run("start", file).code, 0);
    track_processes();

    // Each instance answers directly on the port status shows, which is the documented one.
    auto expect_on = [&](int base, const std::string& after) {
        SCOPED_TRACE(after);
        const auto rows = workers_of("echo");
        ASSERT_EQ(rows.size(), 2u) << status_json().dump(2);
        for (int i = 0; i < 2; ++i) {
            EXPECT_EQ(rows[static_cast<size_t>(i)].value("port", 0), base + i) << rows[static_cast<size_t>(i)].dump();
            EXPECT_EQ(get_json(base + i, "/").value("port", 0), base + i);
        }
    };
    expect_on(port, "start");
    // A restart keeps a worker's port; each reload moves it to the other one.
    const std::pair<const char*, int> steps[] = {{"reload", reload}, {"restart", reload}, {"reload", port}};
    for (const auto& [verb, base] : steps) {
        const RunResult r = run(verb, "echo");
        ASSERT_EQ(r.code, 0) << verb << ": " << r.out << r.err;
        track_processes();
        expect_on(base, verb);
    }
}

// Line 8, column 11 is the listen address; SERVER_NAME is line 9.
constexpr const char* kServedApp = R"([[apps]]
name = "${NAME}"
script = "${APPS}/echo.js"
port = ${PORT}
listen_timeout = "5s"

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]
${SERVER_NAME}

[[servers.locations]]
path = "/"
app = "${NAME}"
)";

TEST_F(TruthTest, ASecondFileMayAddVirtualHostsButNotTakeOverAnAddressOrAnApp) {
    const int listen = free_port();
    const int port_a = free_port();
    const int port_b = free_port();
    auto eco = [&](const std::string& file, const std::string& name, int port, const std::string& server_name) {
        return write_file(file, kServedApp,
                          {{"NAME", name}, {"PORT", std::to_string(port)}, {"LISTEN", std::to_string(listen)},
                           {"SERVER_NAME", server_name}});
    };
    const auto a = eco("a.toml", "echo", port_a, "");
    const RunResult started = run("start", a);
    ASSERT_EQ(started.code, 0) << started.out << started.err;
    track_processes();
    const auto before = workers_of("echo");
    ASSERT_EQ(before.size(), 1u);
    const std::string listen_text = "127.0.0.1:" + std::to_string(listen);
    auto expect_a_unchanged = [&] {
        const auto rows = workers_of("echo");
        ASSERT_EQ(rows.size(), 1u);
        EXPECT_EQ(rows[0].value("pid", 0), before[0].value("pid", -1));
        EXPECT_EQ(get_json(listen, "/").value("port", 0), port_a);
    };

    // A second default server on A's address.
    const auto b = eco("b.toml", "other", port_b, "");
    RunResult r = run("start", b);
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find(b + ":8:11: listen " + listen_text + " already has a default server (no server_name) from "
                         "another file (" + a + ":8:11)"),
              std::string::npos)
        << r.err;
    EXPECT_TRUE(workers_of("other").empty());
    expect_a_unchanged();

    // A's app name from another file, on ports of its own.
    const auto c = eco("c.toml", "echo", free_port(), "server_name = [\"c.test\"]");
    r = run("start", c);
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find(c + ":1:1: duplicate app name 'echo' (" + a + ":1:1)"), std::string::npos) << r.err;
    expect_a_unchanged();

    // Starting A again replaces A's own server rather than clashing with it.
    r = run("start", a);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    expect_a_unchanged();

    // A named server on the same address is a virtual host beside A's catch-all.
    eco("b.toml", "other", port_b, "server_name = [\"b.test\"]");
    r = run("start", b);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    track_processes();
    // The app port that answered a request for `host`, 0 when none did.
    const auto port_for = [&](const std::string& host) {
        const auto resp = http_get(listen, "/", {{"Host", host}});
        const json body = resp.ok() ? json::parse(resp->body, nullptr, false) : json();
        return body.is_object() ? body.value("port", 0) : 0;
    };
    EXPECT_EQ(port_for("b.test"), port_b);
    EXPECT_EQ(port_for("a.test"), port_a);
    expect_a_unchanged();
}

}  // namespace
}  // namespace ne::itest
