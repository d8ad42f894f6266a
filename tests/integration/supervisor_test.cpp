// The supervisor as a user sees it, with the real daemon and real Node workers: a memory hog
// replaced under load, a wait_ready app kept out of the pool until it says ready, a crash loop
// that ends errored, log rotation and `logs -f`, save/kill/resurrect, recovery after the
// daemon is SIGKILLed, and the events `describe` lists.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <regex>
#include <sstream>

#include "integration/harness.h"
#include "ipc/channel.h"
#include "ipc/control.h"
#include "ipc/unique_fd.h"

extern char** environ;

namespace ne::itest {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// One app, optionally behind a proxy listener; ${EXTRA} holds the test's own app keys.
constexpr const char* kSupervisorApp = R"([[apps]]
name = "${NAME}"
script = "${APPS}/${SCRIPT}"
instances = ${INSTANCES}
port = ${PORT}
kill_timeout = "3s"
${EXTRA}
)";

constexpr const char* kServer = R"(
[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "${NAME}"
)";

long long ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

long long wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// True when something accepts TCP connections on 127.0.0.1:port. Connecting sends no request,
// so an app that counts requests does not see it.
bool accepts(int port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    return fd && connect_loopback(fd.get(), port);
}

std::set<int> pids_of(const std::vector<json>& rows) {
    std::set<int> out;
    for (const auto& r : rows) out.insert(r.value("pid", 0));
    return out;
}

// (name, instance, port, status) of each row: what "the same apps" means after a resurrect.
std::set<std::string> shapes_of(const json& rows) {
    std::set<std::string> out;
    for (const auto& r : rows)
        out.insert(r.value("name", "") + ":" + std::to_string(r.value("instance", -1)) + " port " +
                   std::to_string(r.value("port", 0)) + " " + r.value("status", ""));
    return out;
}

std::string strip_ansi(const std::string& s) { return std::regex_replace(s, std::regex("\x1b\\[[0-9;]*m"), ""); }

// The cells of each table row in CLI output (box-drawing or ASCII borders), trimmed.
std::vector<std::vector<std::string>> table_rows(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(strip_ansi(text));
    for (std::string line; std::getline(in, line);) {
        for (const char* bar : {"│", "|"}) {
            if (line.rfind(bar, 0) != 0) continue;
            std::vector<std::string> cells;
            const std::string sep = bar;
            for (size_t pos = sep.size(); pos < line.size();) {
                size_t next = line.find(sep, pos);
                if (next == std::string::npos) break;
                std::string cell = line.substr(pos, next - pos);
                cell.erase(0, cell.find_first_not_of(' '));
                cell.erase(cell.find_last_not_of(' ') + 1);
                cells.push_back(cell);
                pos = next + sep.size();
            }
            rows.push_back(std::move(cells));
            break;
        }
    }
    return rows;
}

// The "<tag> <n> " sequence numbers in a log file's lines, in file order.
std::vector<int> sequence_in(const std::string& text, const std::string& tag) {
    std::vector<int> out;
    const std::regex re(" " + tag + " ([0-9]+) ");
    for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
        out.push_back(std::stoi((*it)[1].str()));
    return out;
}

// A long-running `nodeedge ...` (e.g. `logs -f`) whose stdout the test reads while it runs.
// The destructor stops and reaps it.
class RunningCli {
public:
    RunningCli(const std::string& home, const std::vector<std::string>& args) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) {
            ADD_FAILURE() << Error::from_errno("pipe").message;
            return;
        }
        UniqueFd write_end(fds[1]);
        out_.reset(fds[0]);
        fcntl(out_.get(), F_SETFL, O_NONBLOCK);

        std::vector<std::string> env;
        for (char** e = environ; *e; ++e)
            if (std::string_view(*e).rfind("NODEEDGE_HOME=", 0) != 0) env.emplace_back(*e);
        env.push_back("NODEEDGE_HOME=" + home);
        std::vector<std::string> argv{NODEEDGE_BIN};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<char*> argv_c, env_c;
        for (auto& s : argv) argv_c.push_back(s.data());
        for (auto& s : env) env_c.push_back(s.data());
        argv_c.push_back(nullptr);
        env_c.push_back(nullptr);

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
        int err = posix_spawn(&pid_, argv_c[0], &actions, nullptr, argv_c.data(), env_c.data());
        posix_spawn_file_actions_destroy(&actions);
        if (err != 0) {
            pid_ = 0;
            ADD_FAILURE() << Error::from_errno("spawn " + argv[0], err).message;
        }
    }

    ~RunningCli() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int status = 0;
        if (!wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, 5s)) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
        }
    }
    RunningCli(const RunningCli&) = delete;
    RunningCli& operator=(const RunningCli&) = delete;

    // Everything it printed so far.
    const std::string& output() {
        char buf[4096];
        for (ssize_t n; out_ && (n = ::read(out_.get(), buf, sizeof buf)) > 0;) text_.append(buf, static_cast<size_t>(n));
        return text_;
    }

    // Waits until its output contains `needle`.
    bool wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
        return wait_until([&] { return output().find(needle) != std::string::npos; }, timeout);
    }

private:
    pid_t pid_ = 0;
    UniqueFd out_;
    std::string text_;
};

class SupervisorTest : public IntegrationTest {
protected:
    // Writes `file` with one app `name` on free ports (and a proxy listener when `proxied`);
    // `extra` is more keys for the [[apps]] table. Sets app_port and listen_port.
    std::string app_config(const std::string& file, const std::string& name, const std::string& script,
                           const std::string& extra = "", bool proxied = false, int instances = 1) {
        app_port = free_port_range(instances);
        listen_port = proxied ? free_port() : 0;
        return write_file(file, std::string(kSupervisorApp) + (proxied ? kServer : ""),
                          {{"NAME", name},
                           {"SCRIPT", script},
                           {"INSTANCES", std::to_string(instances)},
                           {"PORT", std::to_string(app_port)},
                           {"LISTEN", std::to_string(listen_port)},
                           {"EXTRA", extra}});
    }

    // Starts the file and returns its app's rows; `start` must succeed.
    std::vector<json> start_app(const std::string& file, const std::string& name) {
        RunResult r = run("start", file);
        EXPECT_EQ(r.code, 0) << "stdout: " << r.out << "\nstderr: " << r.err;
        return workers_of(name);
    }

    // One request on the control socket (ipc/control.h), for replies the CLI only renders as
    // text (describe's events).
    Result<json> control(const std::string& cmd, json args = json::object()) {
        const std::string path = ipc::control::socket_path(home());
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (path.size() >= sizeof addr.sun_path) return Error{"socket path too long: " + path};
        path.copy(addr.sun_path, path.size());
        UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            return Error::from_errno("connect " + path);
        if (auto s = ipc::write_frame(fd.get(), ipc::control::request(cmd, std::move(args)).dump()); !s)
            return s.error();
        auto payload = ipc::read_frame(fd.get(), 30000);
        if (!payload) return payload.error().wrap(cmd);
        json reply = json::parse(*payload, nullptr, false);
        if (!reply.is_object() || !reply.value("ok", false)) return Error{cmd + " failed: " + *payload};
        return reply;
    }

    // The events `describe` reports for `app`, oldest first.
    std::vector<json> events_of(const std::string& app) {
        auto reply = control("describe", {{"app", app}});
        if (!reply) {
            ADD_FAILURE() << reply.error().message;
            return {};
        }
        std::vector<json> events((*reply)["events"].begin(), (*reply)["events"].end());
        std::stable_sort(events.begin(), events.end(),
                         [](const json& a, const json& b) { return a.value("ts_ms", 0LL) < b.value("ts_ms", 0LL); });
        return events;
    }

    static std::vector<json> of_kind(const std::vector<json>& events, const std::string& kind) {
        std::vector<json> out;
        for (const auto& e : events)
            if (e.value("kind", "") == kind) out.push_back(e);
        return out;
    }

    static std::string dump(const std::vector<json>& v) { return json(v).dump(2); }

    int app_port = 0;
    int listen_port = 0;
};

// ---- memory limit -----------------------------------------------------------------------

TEST_F(SupervisorTest, MemoryHogOverLimitIsReplacedWhileLoadSeesNoFailure) {
    auto rows = start_app(app_config("hog.toml", "hog", "hog.js", "max_memory_restart = \"80M\"", true), "hog");
    ASSERT_EQ(rows.size(), 1u) << status_json().dump(2);
    const int old_pid = rows[0].value("pid", 0);
    auto old_ref = process_ref(old_pid);
    ASSERT_TRUE(old_ref) << "worker pid " << old_pid << " is not running";

    LoadLoop load(listen_port, "/load");
    load.start();
    ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= 20; }, 20s)) << load.snapshot().describe();

    // Straight to the worker's port, so it is this very process that grows, in steps small
    // enough that the step which passes the limit dates the crossing closely.
    constexpr double kLimit = 80.0 * (1 << 20);
    Clock::time_point step_sent, crossed;
    for (int step = 0; step < 100 && crossed == Clock::time_point{}; ++step) {
        step_sent = Clock::now();
        auto grow = http_get(app_port, "/grow?mb=4");
        ASSERT_TRUE(grow) << "step " << step << ": " << grow.error().message;
        ASSERT_EQ(grow->status, 200) << grow->body;
        const json g = json::parse(grow->body, nullptr, false);
        ASSERT_EQ(g.value("pid", 0), old_pid) << "replaced before it passed the limit: " << grow->body;
        if (g.value("rss", 0.0) > kLimit) crossed = Clock::now();
    }
    ASSERT_NE(crossed, Clock::time_point{}) << "the hog never passed 80M";

    int new_pid = 0;
    ASSERT_TRUE(wait_until(
        [&] {
            for (const auto& r : workers_of("hog"))
                if (r.value("status", "") == "online" && r.value("pid", 0) != old_pid) new_pid = r.value("pid", 0);
            return new_pid > 0;
        },
        30s))
        << "no replacement came online\n" << status_json().dump(2);
    const auto replacement_online = Clock::now();
    ASSERT_TRUE(wait_until([&] { return !alive(*old_ref); }, 30s)) << "the hog (pid " << old_pid << ") still runs";
    const auto hog_gone = Clock::now();

    // The crossing happened during the last step; its length is the measurement's uncertainty.
    const long long online_ms = ms_between(crossed, replacement_online);
    const long long gone_ms = ms_between(crossed, hog_gone);
    const long long step_ms = ms_between(step_sent, crossed);
    RecordProperty("replacement_online_ms_after_crossing", std::to_string(online_ms));
    RecordProperty("hog_stopped_ms_after_crossing", std::to_string(gone_ms));
    RecordProperty("crossing_step_ms", std::to_string(step_ms));
    std::cout << "memory hog: replacement online " << online_ms << " ms and hog stopped " << gone_ms
              << " ms after its RSS passed 80M (+ up to " << step_ms << " ms, the last step)\n";

    const int ok_now = load.snapshot().ok;
    EXPECT_TRUE(wait_until([&] { auto s = load.snapshot(); return s.ok >= ok_now + 50 && s.pids.count(new_pid); }, 30s))
        << load.snapshot().describe();
    auto stats = load.stop();
    std::cout << "requests across the memory restart: " << stats.describe() << "\n";
    EXPECT_EQ(stats.failed, 0) << stats.describe();
    EXPECT_TRUE(stats.pids.count(old_pid)) << "the hog served no request before it was replaced";

    auto after = workers_of("hog");
    ASSERT_EQ(after.size(), 1u) << status_json().dump(2);
    EXPECT_EQ(after[0].value("pid", 0), new_pid);
    EXPECT_EQ(after[0].value("status", ""), "online");

    auto memory = of_kind(events_of("hog"), "memory");
    ASSERT_EQ(memory.size(), 1u) << dump(events_of("hog"));
    EXPECT_EQ(memory[0].value("worker", ""), "hog:0");
}

// ---- wait_ready -------------------------------------------------------------------------

TEST_F(SupervisorTest, WaitReadyAppGetsNoTrafficBeforeItSaysReady) {
    const std::string file = app_config("late.toml", "late", "ready_count.js",
                                        "wait_ready = true\nlisten_timeout = \"20s\"\n"
                                        "env = { READY_DELAY_MS = \"3000\" }",
                                        true);
    RunResult started;
    std::atomic<bool> start_done{false};
    std::thread starter([&] {
        started = run_args({"start", file}, 60s);
        start_done = true;
    });

    // Requests through the proxy from the moment the worker's port accepts connections (when a
    // port probe would already call it ready) until `start` reports it ready.
    struct Sent { long long at_ms; Result<HttpResponse> reply; };
    std::vector<Sent> sent;
    const bool listening = wait_until([&] { return start_done || accepts(app_port); }, 20s);
    while (listening && !start_done) {
        const long long at = wall_ms();
        sent.push_back({at, http_get(listen_port, "/before-ready?n=" + std::to_string(sent.size()))});
    }
    starter.join();
    ASSERT_EQ(started.code, 0) << started.out << started.err;
    ASSERT_TRUE(listening) << "the worker never listened on " << app_port;

    auto early = http_get(app_port, "/early");
    ASSERT_TRUE(early) << early.error().message;
    const json e = json::parse(early->body, nullptr, false);
    const long long ready_at = e.value("ready_at_ms", 0LL);
    ASSERT_GT(ready_at, 0) << early->body;
    EXPECT_TRUE(e["early"].empty()) << "requests that reached the worker before it said ready: " << e["early"].dump();

    // The check above means something only if requests were sent while it was not ready.
    size_t before_ready = 0;
    for (const auto& s : sent) {
        if (s.at_ms < ready_at) ++before_ready;
        ASSERT_TRUE(s.reply) << "a request sent at " << s.at_ms << " failed: " << s.reply.error().message;
        if (s.reply->status == 200) {
            const json body = json::parse(s.reply->body, nullptr, false);
            EXPECT_TRUE(body.value("ready_sent", false)) << "answered before ready: " << s.reply->body;
        } else {
            EXPECT_EQ(s.reply->status, 503) << s.reply->body;
        }
    }
    std::cout << "wait_ready: " << sent.size() << " requests while launching, " << before_ready
              << " sent before the worker said ready\n";
    RecordProperty("requests_before_ready", std::to_string(before_ready));
    EXPECT_GT(before_ready, 0u) << "no request was sent before the worker said ready";

    auto after = http_get(listen_port, "/after-ready");
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_EQ(after->status, 200) << after->body;
}

// ---- crash loop -------------------------------------------------------------------------

TEST_F(SupervisorTest, CrashLoopingAppEndsErroredAfterMaxRestarts) {
    constexpr int kMaxRestarts = 3;
    const std::string file =
        app_config("loop.toml", "loop", "crash_loop.js",
                   "min_uptime = \"20s\"\nmax_restarts = " + std::to_string(kMaxRestarts) +
                       "\nexp_backoff_restart_delay = \"100ms\"\nenv = { CRASH_AFTER_MS = \"1000\" }");
    RunResult r = run("start", file);
    ASSERT_EQ(r.code, 0) << "it is ready before its first crash: " << r.out << r.err;

    ASSERT_TRUE(wait_until(
        [&] {
            auto rows = workers_of("loop");
            return rows.size() == 1 && rows[0].value("status", "") == "errored";
        },
        60s))
        << status_json().dump(2);
    auto rows = workers_of("loop");
    EXPECT_EQ(rows[0].value("pid", -1), 0);
    EXPECT_EQ(rows[0].value("restarts", -1), kMaxRestarts) << rows[0].dump();
    EXPECT_FALSE(accepts(app_port)) << "something still listens on the errored worker's port";

    // Every run is accounted for: kMaxRestarts + 1 starts and exits, kMaxRestarts restarts,
    // then one "errored" that says it gave up.
    auto events = events_of("loop");
    EXPECT_EQ(of_kind(events, "start").size(), static_cast<size_t>(kMaxRestarts + 1)) << dump(events);
    EXPECT_EQ(of_kind(events, "exit").size(), static_cast<size_t>(kMaxRestarts + 1)) << dump(events);
    EXPECT_EQ(of_kind(events, "restart").size(), static_cast<size_t>(kMaxRestarts)) << dump(events);
    auto errored = of_kind(events, "errored");
    ASSERT_EQ(errored.size(), 1u) << dump(events);
    EXPECT_EQ(events.back().value("kind", ""), "errored") << dump(events);
    const std::string detail = errored[0].value("detail", "");
    EXPECT_NE(detail.find("giving up after " + std::to_string(kMaxRestarts) + " "), std::string::npos) << detail;
}

// ---- logs -------------------------------------------------------------------------------

TEST_F(SupervisorTest, RotationKeepsLogRetainFiles) {
    constexpr int kLines = 150;
    start_app(app_config("chat.toml", "chat", "chatty.js", "log_max_size = \"1K\"\nlog_retain = 2"), "chat");
    auto printed = http_get(app_port, "/print?tag=rot&n=" + std::to_string(kLines) + "&size=60");
    ASSERT_TRUE(printed) << printed.error().message;
    ASSERT_EQ(printed->status, 200) << printed->body;

    const std::string log = home() + "/logs/chat-out.log";
    const std::string last = " rot " + std::to_string(kLines - 1) + " ";
    ASSERT_TRUE(wait_until([&] { return read_file(log).find(last) != std::string::npos; }, 20s))
        << "the last line never reached " << log;

    std::set<std::string> files;
    for (const auto& entry : fs::directory_iterator(home() + "/logs"))
        if (entry.path().filename().string().rfind("chat-out.log", 0) == 0) files.insert(entry.path().filename());
    EXPECT_EQ(files, (std::set<std::string>{"chat-out.log", "chat-out.log.1", "chat-out.log.2"}));

    // Oldest to newest, the kept files hold one unbroken run of lines ending with the last.
    std::vector<int> seq;
    for (const char* suffix : {".2", ".1", ""}) {
        const std::string path = log + suffix;
        EXPECT_LE(fs::file_size(path), 1024u) << path;
        auto part = sequence_in(read_file(path), "rot");
        EXPECT_FALSE(part.empty()) << path << " holds no line";
        seq.insert(seq.end(), part.begin(), part.end());
    }
    ASSERT_FALSE(seq.empty());
    EXPECT_EQ(seq.back(), kLines - 1);
    EXPECT_GT(seq.front(), 0) << "nothing was rotated away";
    for (size_t i = 1; i < seq.size(); ++i) ASSERT_EQ(seq[i], seq[i - 1] + 1) << "gap or reorder at line " << seq[i];
}

TEST_F(SupervisorTest, LogsFollowPrintsNewLinesAsTheyAreWritten) {
    start_app(app_config("chat.toml", "chat", "chatty.js"), "chat");
    const std::string token = std::to_string(::getpid()) + "-" + std::to_string(wall_ms());
    const std::string log = home() + "/logs/chat-out.log";
    ASSERT_TRUE(http_get(app_port, "/print?tag=old-" + token));
    ASSERT_TRUE(wait_until([&] { return read_file(log).find("old-" + token) != std::string::npos; }, 20s));

    RunningCli follow(home(), {"logs", "chat", "--out", "-f"});
    // The tail comes first; once it is out, the CLI is following.
    ASSERT_TRUE(follow.wait_for("old-" + token + " 0", 20s)) << follow.output();

    for (int i = 0; i < 3; ++i) {
        const std::string tag = "new" + std::to_string(i) + "-" + token;
        auto r = http_get(app_port, "/print?tag=" + tag);
        ASSERT_TRUE(r) << r.error().message;
        const auto written = Clock::now();
        ASSERT_TRUE(follow.wait_for(tag + " 0", 20s)) << "`logs -f` did not show " << tag << ":\n" << follow.output();
        const long long shown_ms = ms_between(written, Clock::now());
        std::cout << "logs -f showed line " << i << " " << shown_ms << " ms after it was written\n";
        RecordProperty("follow_delay_ms_" + std::to_string(i), std::to_string(shown_ms));
    }
    const std::string out = follow.output();
    size_t pos = out.find("old-" + token);
    for (int i = 0; i < 3; ++i) {
        const std::string tag = "new" + std::to_string(i) + "-" + token + " 0";
        const size_t at = out.find(tag);
        EXPECT_GT(at, pos) << "out of order:\n" << out;
        EXPECT_EQ(out.find(tag, at + 1), std::string::npos) << tag << " printed twice:\n" << out;
        pos = at;
    }
}

// ---- save / kill / resurrect ------------------------------------------------------------

TEST_F(SupervisorTest, SaveKillResurrectBringsTheSameAppsBack) {
    const std::string api = app_config("api.toml", "api", "echo.js", "", true, 2);
    const int api_listen = listen_port;
    ASSERT_EQ(start_app(api, "api").size(), 2u);
    ASSERT_EQ(start_app(app_config("bg.toml", "bg", "echo.js"), "bg").size(), 1u);
    const json before = status_json();
    ASSERT_EQ(before.size(), 3u) << before.dump(2);

    RunResult save = run("save");
    ASSERT_EQ(save.code, 0) << save.out << save.err;
    auto procs = track_processes();
    RunResult kill = run("kill");
    ASSERT_EQ(kill.code, 0) << kill.out << kill.err;
    EXPECT_TRUE(wait_until([&] { return std::none_of(procs.begin(), procs.end(), alive); }, 20s))
        << "processes outlived `kill`";
    EXPECT_FALSE(http_get(api_listen, "/")) << "the proxy still answers after kill";

    RunResult res = run("resurrect");
    ASSERT_EQ(res.code, 0) << res.out << res.err;
    json after;
    EXPECT_TRUE(wait_until([&] { after = status_json(); return shapes_of(after) == shapes_of(before); }, 30s))
        << after.dump(2);
    std::set<int> old_pids, new_pids;
    for (const auto& r : before) old_pids.insert(r.value("pid", 0));
    for (const auto& r : after) {
        EXPECT_GT(r.value("pid", 0), 0) << r.dump();
        EXPECT_FALSE(old_pids.count(r.value("pid", 0))) << "pid " << r.value("pid", 0) << " from before the kill";
        new_pids.insert(r.value("pid", 0));
    }
    // The servers come back with the apps.
    auto g = http_get(api_listen, "/after-resurrect");
    ASSERT_TRUE(g) << g.error().message;
    EXPECT_EQ(g->status, 200);
    EXPECT_TRUE(new_pids.count(json::parse(g->body, nullptr, false).value("pid", 0))) << g->body;
}

TEST_F(SupervisorTest, ResurrectAfterKillRestoresWhatWasSavedNotWhatRanLast) {
    ASSERT_EQ(start_app(app_config("kept.toml", "kept", "echo.js"), "kept").size(), 1u);
    RunResult save = run("save");
    ASSERT_EQ(save.code, 0) << save.out << save.err;
    ASSERT_EQ(start_app(app_config("later.toml", "later", "echo.js"), "later").size(), 1u);
    const int later_port = app_port;
    track_processes();
    RunResult kill = run("kill");
    ASSERT_EQ(kill.code, 0) << kill.out << kill.err;

    RunResult res = run("resurrect");
    ASSERT_EQ(res.code, 0) << res.out << res.err;
    // Judged once every listed worker has settled, whatever `resurrect` waited for.
    json rows;
    EXPECT_TRUE(wait_until(
        [&] {
            rows = status_json();
            return std::none_of(rows.begin(), rows.end(),
                                [](const json& r) { return r.value("status", "") == "launching"; });
        },
        30s))
        << rows.dump(2);
    std::set<std::string> names;
    for (const auto& r : rows) names.insert(r.value("name", ""));
    EXPECT_EQ(names, std::set<std::string>{"kept"}) << "`later` was started after `save`:\n" << rows.dump(2);
    EXPECT_FALSE(accepts(later_port)) << "a `later` worker runs after resurrect";
}

// ---- daemon crash -----------------------------------------------------------------------

TEST_F(SupervisorTest, DaemonSigkillAndRestartAdoptsEveryWorker) {
    const std::string api = app_config("api.toml", "api", "echo.js", "", true, 2);
    const int api_listen = listen_port;
    auto rows = start_app(api, "api");
    ASSERT_EQ(rows.size(), 2u) << status_json().dump(2);
    const pid_t old_daemon = daemon_pid();
    auto daemon_ref = process_ref(old_daemon);
    ASSERT_TRUE(daemon_ref);
    auto procs = track_processes();  // TearDown stops whatever of these survives
    std::vector<ProcessRef> workers;
    std::set<int> old_pids;
    for (const auto& r : rows) {
        auto p = process_ref(r.value("pid", 0));
        ASSERT_TRUE(p) << r.dump();
        workers.push_back(*p);
        old_pids.insert(p->pid);
    }
    std::vector<ProcessRef> proxies;  // the daemon's other children
    for (const auto& p : procs)
        if (p.pid != old_daemon && !old_pids.count(p.pid)) proxies.push_back(p);
    ASSERT_FALSE(proxies.empty()) << "no proxy worker under the daemon";

    ASSERT_EQ(::kill(old_daemon, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return !alive(*daemon_ref); }, 10s));
    size_t survivors = std::count_if(workers.begin(), workers.end(), alive);
    std::cout << "after SIGKILL of the daemon: " << survivors << " of " << workers.size()
              << " Node workers still run\n";

    // The next command that starts a daemon: it must deal with what the dead one left.
    RunResult other = run("start", app_config("other.toml", "other", "echo.js"));
    ASSERT_EQ(other.code, 0) << other.out << other.err;
    EXPECT_NE(daemon_pid(), old_daemon);

    // The new daemon adopts what the dead one left (supervisor/takeover.h): same pids, online.
    auto now = workers_of("api");
    ASSERT_EQ(now.size(), 2u) << status_json().dump(2);
    for (const auto& r : now) {
        EXPECT_EQ(r.value("status", ""), "online") << r.dump();
        EXPECT_TRUE(old_pids.count(r.value("pid", 0))) << "not adopted: " << r.dump();
    }
    EXPECT_TRUE(std::all_of(proxies.begin(), proxies.end(), alive)) << "a proxy worker was not adopted";

    // Each adopted worker is named in the events.
    auto events = events_of("api");
    auto adopted = of_kind(events, "adopt");
    for (const auto& w : workers) {
        if (std::none_of(adopted.begin(), adopted.end(), [&](const json& e) {
                return e.value("detail", "").find("pid " + std::to_string(w.pid) + " ") != std::string::npos;
            }))
            ADD_FAILURE() << "no adopt event for pid " << w.pid << "\n" << dump(events);
    }
    EXPECT_EQ(adopted.size(), survivors) << dump(events);

    auto g = http_get(api_listen, "/after-restart");
    ASSERT_TRUE(g) << g.error().message;
    EXPECT_EQ(g->status, 200) << g->body;
    EXPECT_TRUE(pids_of(workers_of("api")).count(json::parse(g->body, nullptr, false).value("pid", 0))) << g->body;
}

// ---- describe ---------------------------------------------------------------------------

TEST_F(SupervisorTest, DescribeListsStartExitAndRestartEvents) {
    auto rows = start_app(app_config("web.toml", "web", "crash.js"), "web");
    ASSERT_EQ(rows.size(), 1u) << status_json().dump(2);
    const int first = rows[0].value("pid", 0);
    (void)http_get(app_port, "/crash");  // the worker exits instead of answering
    int second = 0;
    ASSERT_TRUE(wait_until(
        [&] {
            auto now = workers_of("web");
            second = now.size() == 1 && now[0].value("status", "") == "online" ? now[0].value("pid", 0) : 0;
            return second > 0 && second != first;
        },
        20s))
        << status_json().dump(2);

    // In order: the first start, its exit, the restart, the second start.
    std::vector<std::string> lifecycle;
    for (const auto& e : events_of("web")) {
        const std::string kind = e.value("kind", "");
        if (kind != "start" && kind != "exit" && kind != "restart") continue;
        EXPECT_EQ(e.value("worker", ""), "web:0") << e.dump();
        lifecycle.push_back(kind + " " + e.value("detail", ""));
    }
    ASSERT_EQ(lifecycle.size(), 4u) << ::testing::PrintToString(lifecycle);
    EXPECT_EQ(lifecycle[0].rfind("start pid " + std::to_string(first) + " ", 0), 0u) << lifecycle[0];
    EXPECT_EQ(lifecycle[1].rfind("exit pid " + std::to_string(first) + " ", 0), 0u) << lifecycle[1];
    EXPECT_NE(lifecycle[1].find("code 1"), std::string::npos) << lifecycle[1];
    EXPECT_EQ(lifecycle[2].rfind("restart ", 0), 0u) << lifecycle[2];
    EXPECT_EQ(lifecycle[3].rfind("start pid " + std::to_string(second) + " ", 0), 0u) << lifecycle[3];

    // What the user reads: `describe web` shows those events in its table.
    RunResult d = run("describe", "web");
    ASSERT_EQ(d.code, 0) << d.out << d.err;
    std::vector<std::string> shown;
    for (const auto& cells : table_rows(d.out))
        if (cells.size() == 4 && cells[1] == "web:0") shown.push_back(cells[2]);
    EXPECT_EQ(std::count(shown.begin(), shown.end(), "start"), 2) << d.out;
    EXPECT_EQ(std::count(shown.begin(), shown.end(), "exit"), 1) << d.out;
    EXPECT_EQ(std::count(shown.begin(), shown.end(), "restart"), 1) << d.out;
}

}  // namespace
}  // namespace ne::itest
