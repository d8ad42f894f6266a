// The daemon can die without a failed request: under wrk load through the proxy (2 apps x 2
// workers), `kill -9` of the daemon leaves the proxy workers serving and the Node workers
// running, `status` says the daemon is gone (exit 3), and `resurrect` starts a daemon that
// adopts every worker (same pids), reads the lines written meanwhile and restarts a later
// crash of an adopted worker.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <regex>
#include <set>

#include "integration/harness.h"

extern char** environ;

namespace ne::itest {
namespace {

constexpr const char* kSurviveConfig = R"([[apps]]
name = "a"
script = "${APPS}/echo.js"
instances = 2
port = ${A}

[[apps]]
name = "b"
script = "${APPS}/chatty.js"
instances = 2
port = ${B}

[proxy]
workers = 2

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/a/"
app = "a"

[[servers.locations]]
path = "/"
app = "b"
)";

// wrk from now until stop(): its report says how many requests failed (socket errors and
// non-2xx answers).
class Wrk {
public:
    Wrk(const std::string& url, const std::string& out_path) : out_path_(out_path) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        std::vector<std::string> args{"wrk", "-t1", "-c8", "-d60s", url};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        if (posix_spawnp(&pid_, "wrk", &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
        posix_spawn_file_actions_destroy(&fa);
    }
    ~Wrk() {
        if (pid_ > 0) stop();
    }
    // SIGINT makes wrk stop and print its report.
    std::string stop() {
        if (pid_ <= 0) return "";
        ::kill(pid_, SIGINT);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
        return read_file(out_path_);
    }
    bool running() const { return pid_ > 0; }

private:
    pid_t pid_ = -1;
    std::string out_path_;
};

long long wrk_number(const std::string& report, const std::string& pattern) {
    std::smatch m;
    if (!std::regex_search(report, m, std::regex(pattern))) return -1;
    return std::stoll(m[1]);
}

std::map<std::string, int> pids_by_worker(const json& rows) {
    std::map<std::string, int> out;
    for (auto& r : rows) out[r.value("name", "") + ":" + std::to_string(r.value("instance", 0))] = r.value("pid", 0);
    return out;
}

class SurviveTest : public IntegrationTest {};

TEST_F(SurviveTest, KillDashNineOfTheDaemonFailsNoRequestAndResurrectAdoptsEveryWorker) {
    const int a = free_port_range(2), b = free_port_range(2), listen = free_port();
    std::string cfg = write_file("ecosystem.toml", kSurviveConfig,
                                 {{"A", std::to_string(a)}, {"B", std::to_string(b)}, {"LISTEN", std::to_string(listen)}});
    RunResult started = run("start", cfg);
    ASSERT_EQ(started.code, 0) << started.out << started.err;
    auto before = pids_by_worker(status_json());
    ASSERT_EQ(before.size(), 4u);
    const pid_t old_daemon = daemon_pid();
    auto proxies = proxy_worker_processes();
    ASSERT_EQ(proxies.size(), 2u);
    track_processes();

    Wrk wrk("http://127.0.0.1:" + std::to_string(listen) + "/a/", dir() + "/wrk.txt");
    ASSERT_TRUE(wrk.running());
    LoadLoop load_b(listen, "/b");
    load_b.start();
    ASSERT_TRUE(wait_until([&] { return load_b.snapshot().ok >= 20; }, 20s)) << load_b.snapshot().describe();

    ASSERT_EQ(::kill(old_daemon, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return !process_ref(old_daemon); }, 10s));
    RunResult gone = run("status");
    EXPECT_EQ(gone.code, 3) << gone.out << gone.err;
    EXPECT_NE(gone.err.find("the daemon is gone"), std::string::npos) << gone.err;
    EXPECT_NE(gone.err.find("nodeedge resurrect"), std::string::npos) << gone.err;
    // Lines written while no daemon reads them wait in the pipes the keeper holds.
    for (int i = 0; i < 2; ++i) {
        auto printed = http_get(listen, "/print?tag=orphan" + std::to_string(i) + "&n=50");
        ASSERT_TRUE(printed) << printed.error().message;
        EXPECT_EQ(printed->status, 200);
    }
    int ok_dead = load_b.snapshot().ok;
    ASSERT_TRUE(wait_until([&] { return load_b.snapshot().ok >= ok_dead + 20; }, 20s)) << load_b.snapshot().describe();

    RunResult back = run("resurrect");
    ASSERT_EQ(back.code, 0) << back.out << back.err;
    EXPECT_NE(daemon_pid(), old_daemon);
    json rows = status_json();
    EXPECT_EQ(pids_by_worker(rows), before) << rows.dump(2);
    for (auto& r : rows) {
        EXPECT_EQ(r.value("status", ""), "online") << r.dump();
        // Read at adoption: status never shows a running process at 0 bytes.
        EXPECT_GT(r.value("memory_bytes", uint64_t{0}), 0u) << r.dump();
    }
    for (auto& p : proxies) EXPECT_TRUE(alive(p)) << "proxy worker " << p.pid << " was not adopted";
    EXPECT_TRUE(proxy_worker_processes().empty()) << "the new daemon forked proxy workers instead of adopting them";
    for (int i = 0; i < 2; ++i) {
        const std::string last = "orphan" + std::to_string(i) + " 49 ";
        EXPECT_TRUE(wait_until([&] { return read_file(home() + "/logs/b-out.log").find(last) != std::string::npos; }, 10s))
            << "the lines written while the daemon was dead never arrived";
        std::string log = read_file(home() + "/logs/b-out.log");
        int found = 0;
        for (int n = 0; n < 50; ++n)
            found += log.find("orphan" + std::to_string(i) + " " + std::to_string(n) + " ") != std::string::npos;
        EXPECT_EQ(found, 50) << "lines written while the daemon was dead";
    }

    // An adopted worker is not the new daemon's child; its crash is still seen and restarted.
    ASSERT_EQ(::kill(before["a:1"], SIGKILL), 0);
    ASSERT_TRUE(wait_until(
        [&] {
            auto now = workers_of("a");
            return now.size() == 2 && now[1].value("pid", 0) != before["a:1"] && now[1].value("status", "") == "online";
        },
        20s))
        << status_json().dump(2);
    EXPECT_EQ(workers_of("a")[1].value("restarts", 0), 1);

    auto stats_b = load_b.stop();
    std::string report = wrk.stop();
    std::cout << "wrk: " << report << "\nb: " << stats_b.describe() << "\n";
    EXPECT_EQ(stats_b.failed, 0) << stats_b.describe();
    EXPECT_GT(wrk_number(report, R"((\d+) requests in)"), 100) << report;
    EXPECT_EQ(report.find("Socket errors"), std::string::npos) << report;
    EXPECT_EQ(report.find("Non-2xx"), std::string::npos) << report;
}

// `upgrade` under load: the daemon execs another build in place. A build that reports another
// version takes over (same daemon pid, same worker pids, new proxy workers); one that exits at
// once or never reads its state is refused with the reason and nothing changes.
TEST_F(SurviveTest, UpgradeUnderLoadKeepsEveryPidAndABrokenBinaryIsRolledBack) {
    const int a = free_port_range(2), b = free_port_range(2), listen = free_port();
    std::string cfg = write_file("ecosystem.toml", kSurviveConfig,
                                 {{"A", std::to_string(a)}, {"B", std::to_string(b)}, {"LISTEN", std::to_string(listen)}});
    RunResult started = run("start", cfg);
    ASSERT_EQ(started.code, 0) << started.out << started.err;
    auto before = pids_by_worker(status_json());
    ASSERT_EQ(before.size(), 4u);
    const pid_t daemon = daemon_pid();
    auto old_proxies = proxy_worker_processes();
    track_processes();
    // Another version of the same program: what a package upgrade installs.
    const std::string next = write_file("next.sh", "#!/bin/sh\nNODEEDGE_VERSION_SUFFIX=-next exec " +
                                                       std::string(NODEEDGE_BIN) + " \"$@\"\n");
    const std::string dies = write_file("dies.sh", "#!/bin/sh\nexit 0\n");
    const std::string sleeps = write_file("sleeps.sh", "#!/bin/sh\nexec sleep 60\n");
    for (auto* f : {&next, &dies, &sleeps}) ::chmod(f->c_str(), 0755);

    Wrk wrk("http://127.0.0.1:" + std::to_string(listen) + "/a/", dir() + "/wrk.txt");
    LoadLoop load_b(listen, "/b");
    load_b.start();
    ASSERT_TRUE(wait_until([&] { return load_b.snapshot().ok >= 20; }, 20s)) << load_b.snapshot().describe();

    for (auto* broken : {&dies, &sleeps}) {
        RunResult r = run("upgrade", "--binary", *broken);
        EXPECT_EQ(r.code, 1) << r.out << r.err;
        EXPECT_NE(r.err.find(*broken), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(broken == &dies ? "without reading its state" : "did not read its state"),
                  std::string::npos)
            << r.err;
        EXPECT_EQ(daemon_pid(), daemon);
        EXPECT_EQ(pids_by_worker(status_json()), before);
    }

    RunResult up = run("upgrade", "--binary", next);
    ASSERT_EQ(up.code, 0) << up.out << up.err;
    EXPECT_NE(up.out.find("to " + run("--version").out.substr(9, run("--version").out.size() - 10) + "-next"),
              std::string::npos)
        << up.out;
    EXPECT_EQ(daemon_pid(), daemon);
    EXPECT_TRUE(process_ref(daemon));
    EXPECT_EQ(pids_by_worker(status_json()), before);
    RunResult status = run("status");
    EXPECT_NE(status.err.find("-next, this CLI is"), std::string::npos) << status.out << status.err;
    // New proxy workers from the new binary; the old ones drain and go.
    EXPECT_TRUE(wait_until([&] { return std::none_of(old_proxies.begin(), old_proxies.end(), alive); }, 20s));
    EXPECT_EQ(proxy_worker_processes().size(), 2u);
    int ok_now = load_b.snapshot().ok;
    ASSERT_TRUE(wait_until([&] { return load_b.snapshot().ok >= ok_now + 20; }, 20s)) << load_b.snapshot().describe();

    auto stats_b = load_b.stop();
    std::string report = wrk.stop();
    std::cout << "wrk: " << report << "\nb: " << stats_b.describe() << "\n";
    EXPECT_EQ(stats_b.failed, 0) << stats_b.describe();
    EXPECT_GT(wrk_number(report, R"((\d+) requests in)"), 100) << report;
    EXPECT_EQ(report.find("Socket errors"), std::string::npos) << report;
    EXPECT_EQ(report.find("Non-2xx"), std::string::npos) << report;
}

}  // namespace
}  // namespace ne::itest
