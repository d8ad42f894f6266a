// What `start` and `status` report is what is: a program already listening on an app's port is
// refused by name and pid, never taken for a ready worker or sent the proxy's clients; a worker
// that crashes before it is ready is retried as PM2 does; a second `start` of a running app
// changes nothing and says so; every verb's exit status, with and without a daemon, is the
// README's; `status`'s p99 and request rates are what the app did; `restarts` counts every
// restart, crash or requested.
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

}  // namespace
}  // namespace ne::itest
