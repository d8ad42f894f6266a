// Faults, as a client and an operator see them: a worker killed in the middle of a response,
// a backend that accepts and never answers, a backend that resets, the disk full under the
// logs, state.db locked or corrupt, a proxy worker and the daemon killed with SIGKILL under
// load. Each test asserts what the client sees (an answer or a clean close, never a hang)
// and that nothing else is lost: the apps keep serving, the logs up to the fault and the
// saved state survive. (A plain Node worker SIGKILLed under load is skeleton_test's.)
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "integration/proxied_app_test.h"

namespace ne::itest {
namespace {

// GET /half answers 200 with a Content-Length of 1 MB, sends 1000 bytes and dies;
// GET /mark?n=N logs "mark N" to stdout before it answers.
constexpr const char* kFaultApp = R"('use strict';
const { serve } = require('${APPS}/serve.js');
serve((req, res, url) => {
  if (url.pathname === '/mark') console.log('mark ' + url.searchParams.get('n'));
  if (url.pathname !== '/half') return false;
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 1 << 20 });
  res.write('x'.repeat(1000), () => setTimeout(() => process.kill(process.pid, 'SIGKILL'), 20));
  return true;
});
)";

constexpr const char* kAppConfig = R"([proxy]
access_log = "off"
workers = ${PROXY_WORKERS}

[[apps]]
name = "web"
script = "${SCRIPT}"
instances = 2
port = ${PORT}
kill_timeout = "2s"

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "web"
)";

// [[upstreams]] on raw sockets of the test: /never/ -> a backend that never answers,
// /reset/ -> one that resets, /mixed/ -> the resetting one and a real app worker. max_fails = 0
// keeps the resetting backend in rotation, so every request can meet it.
constexpr const char* kUpstreamConfig = R"([proxy]
access_log = "off"
workers = 1

[[apps]]
name = "web"
script = "${APPS}/echo.js"
port = ${PORT}

[[upstreams]]
name = "never"
servers = [ { address = "127.0.0.1:${NEVER}" } ]

[[upstreams]]
name = "reset"
servers = [ { address = "127.0.0.1:${RESET}", max_fails = 0 } ]

[[upstreams]]
name = "mixed"
servers = [ { address = "127.0.0.1:${RESET}", max_fails = 0 }, { address = "127.0.0.1:${PORT}" } ]

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/never/"
upstream = "never"
read_timeout = "500ms"

[[servers.locations]]
path = "/reset/"
upstream = "reset"

[[servers.locations]]
path = "/mixed/"
upstream = "mixed"
)";

// A TCP listener of the test's own on 127.0.0.1 (port 0: the kernel picks).
UniqueFd listen_socket(int& port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!bind_loopback(fd.get(), 0) || ::listen(fd.get(), 64) != 0 || (port = local_port(fd.get())) == 0) return {};
    return fd;
}

// Accepts every connection and resets it (SO_LINGER 0) as soon as the request arrived.
class ResettingBackend {
public:
    ResettingBackend() : fd_(listen_socket(port_)) {
        thread_ = std::thread([this] { run(); });
    }
    ~ResettingBackend() {
        stop_ = true;
        ::shutdown(fd_.get(), SHUT_RDWR);
        thread_.join();
    }
    int port() const { return port_; }
    int resets() const { return resets_; }

private:
    void run() {
        while (!stop_) {
            UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!c) continue;
            timeval wait{2, 0};  // a connection that sends nothing must not hold up the destructor
            ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
            char buf[4096];
            (void)::recv(c.get(), buf, sizeof buf, 0);
            linger l{1, 0};
            ::setsockopt(c.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
            ++resets_;
        }
    }
    int port_ = 0;
    UniqueFd fd_;
    std::atomic<bool> stop_{false};
    std::atomic<int> resets_{0};
    std::thread thread_;
};

class FaultsTest : public ProxiedAppTest {
protected:
    void start_web(int proxy_workers = 1) {
        start(kAppConfig,
              {{"SCRIPT", write_file("web.js", kFaultApp)}, {"PROXY_WORKERS", std::to_string(proxy_workers)}}, 2);
        ASSERT_EQ(workers_of("web").size(), 2u) << status_json().dump(2);
    }

    // curl's exit code for one GET with a 10 s cap (28 = timed out, 18 = body cut short).
    int curl_exit(const std::string& path) {
        return run_command({"curl", "-s", "-o", "/dev/null", "--max-time", "10",
                            "http://127.0.0.1:" + std::to_string(listen_) + path})
            .code;
    }

    bool serves_ok(int n) {
        for (int i = 0; i < n; ++i) {
            auto r = http_get(listen_, "/ok-" + std::to_string(i));
            if (!r || r->status != 200) return false;
        }
        return true;
    }
};

TEST_F(FaultsTest, WorkerKilledMidResponseClosesTheClientAndTheNextRequestsSucceed) {
    start_web();
    const auto before = workers_of("web");
    // The head and 1000 of 1 MB bytes went out; the client must see the body cut short (18),
    // not a response that pretends to be complete, and not a hang (28).
    EXPECT_EQ(curl_exit("/half"), 18);
    EXPECT_TRUE(serves_ok(20));
    // The killed worker is replaced; the other kept serving meanwhile.
    EXPECT_TRUE(wait_until([&] {
        auto rows = workers_of("web");
        int restarts = 0;
        for (auto& r : rows) restarts += r.value("restarts", 0);
        return rows.size() == 2 && restarts == 1 &&
               std::all_of(rows.begin(), rows.end(), [](const json& r) { return r.value("status", "") == "online"; });
    }, 20s)) << status_json().dump(2);
}

TEST_F(FaultsTest, BackendThatNeverAnswersGets504AndOneThatResetsGets502OrARetry) {
    int never_port = 0;
    UniqueFd never = listen_socket(never_port);  // accepts (the kernel's backlog), never reads
    ASSERT_TRUE(never);
    ResettingBackend reset;
    start(kUpstreamConfig, {{"NEVER", std::to_string(never_port)}, {"RESET", std::to_string(reset.port())}});

    auto timed_out = http_get(listen_, "/never/x");
    ASSERT_TRUE(timed_out) << timed_out.error().message;
    EXPECT_EQ(timed_out->status, 504);

    // Only a resetting backend: GET and POST both get 502, and the connection is usable.
    HttpConnection conn(listen_);
    auto g = conn.get("/reset/g");
    ASSERT_TRUE(g) << g.error().message;
    EXPECT_EQ(g->status, 502);
    auto p = conn.request("POST", "/reset/p", {}, "body");
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->status, 502);
    const int resets_before = reset.resets();
    EXPECT_GE(resets_before, 1);

    // With a good server next to it, idempotent requests that hit the reset are retried there:
    // round robin sends one of the first two to the resetting backend, and no client sees it.
    for (int i = 0; i < 4; ++i) {
        auto m = conn.get("/mixed/" + std::to_string(i));
        ASSERT_TRUE(m) << m.error().message;
        EXPECT_EQ(m->status, 200) << m->body;
    }
    EXPECT_GT(reset.resets(), resets_before) << "the mixed upstream never tried the resetting backend";
}

TEST_F(FaultsTest, ProxyWorkerKilledUnderLoadIsReforkedAndTheListenerNeverCloses) {
    start_web(2);
    auto before = proxy_worker_processes();
    ASSERT_EQ(before.size(), 2u);
    LoadLoop load(listen_, "/load");
    load.start();
    ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= 50; }, 20s)) << load.snapshot().describe();

    ASSERT_EQ(::kill(before[0].pid, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return proxy_worker_processes().size() == 2 && !alive(before[0]); }, 10s));
    const int ok_at_refork = load.snapshot().ok;
    ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= ok_at_refork + 200; }, 30s))
        << load.snapshot().describe();
    auto stats = load.stop();
    // Only what the killed process had in flight can fail: one request of this one client,
    // two at most with its fresh-connection twin. The listening socket stayed open all along.
    EXPECT_LE(stats.failed, 2) << stats.describe();
    for (const auto& [why, n] : stats.reasons) EXPECT_EQ(why.find("refused"), std::string::npos) << why;
    EXPECT_TRUE(alive(before[1])) << "the other proxy worker was touched";
}

TEST_F(FaultsTest, DiskFullForLogsKeepsServingReportsAndRecovers) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs over the logs folder";
    const std::string logs = home() + "/logs";
    ::mkdir(logs.c_str(), 0700);
    if (::mount("tmpfs", logs.c_str(), "tmpfs", 0, "size=256k,mode=0700") != 0)
        GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
    struct Unmount {
        std::string path;
        ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
    } unmount{logs};

    start(R"([proxy]
access_log = "off"
workers = 1

[[apps]]
name = "chatty"
script = "${APPS}/chatty.js"
port = ${PORT}

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "chatty"
)");
    const std::string out_log = logs + "/chatty-out.log";

    // Lines before the disk fills are all there.
    ASSERT_EQ(http_get(listen_, "/print?tag=before&n=10&size=100")->status, 200);
    ASSERT_TRUE(wait_until([&] { return read_file(out_log).find("before 9 ") != std::string::npos; }, 10s));
    // 600 KB of lines into 256 KB: the app is answered all the same, the daemon says why.
    for (int i = 0; i < 6; ++i) {
        auto p = http_get(listen_, "/print?tag=fill&n=100&size=1000");
        ASSERT_TRUE(p) << p.error().message;
        EXPECT_EQ(p->status, 200);
    }
    EXPECT_TRUE(wait_until([&] {
        return read_file(home() + "/daemon.log").find("No space left on device") != std::string::npos;
    }, 10s)) << read_file(home() + "/daemon.log");
    EXPECT_TRUE(serves_ok(5));
    EXPECT_EQ(workers_of("chatty").at(0).value("status", ""), "online");
    std::string kept = read_file(out_log);
    for (int i = 0; i < 10; ++i)
        EXPECT_NE(kept.find("before " + std::to_string(i) + " "), std::string::npos) << "line " << i << " lost";

    // Space again (flush empties the files): new lines are logged again.
    ASSERT_EQ(run("flush", "chatty").code, 0);
    ASSERT_EQ(http_get(listen_, "/print?tag=after&n=3&size=10")->status, 200);
    EXPECT_TRUE(wait_until([&] { return read_file(out_log).find("after 2 ") != std::string::npos; }, 10s))
        << read_file(out_log).substr(0, 500);
    run("kill");
}

TEST_F(FaultsTest, StateDbLockedByAnotherProcessFailsSaveWithTheReasonWhileServing) {
    start_web();
    const std::string db = home() + "/state.db";
    // Another process (the sqlite3 shell) holds the write lock until its stdin closes.
    FILE* holder = ::popen(("sqlite3 " + db + " > /dev/null 2>&1").c_str(), "w");
    ASSERT_NE(holder, nullptr);
    // With a busy timeout: the daemon may be writing worker states at that moment.
    std::fputs(".timeout 5000\nBEGIN EXCLUSIVE;\n", holder);
    std::fflush(holder);
    ASSERT_TRUE(wait_until([&] {
        return run_command({"sqlite3", "-cmd", ".timeout 0", db, "BEGIN IMMEDIATE; ROLLBACK;"}).code != 0;
    }, 10s)) << "the lock was never taken";

    RunResult saved = run("save");
    EXPECT_EQ(saved.code, 1) << saved.out << saved.err;
    EXPECT_NE(saved.err.find("database is locked"), std::string::npos) << saved.err;
    EXPECT_TRUE(serves_ok(5));

    ::pclose(holder);  // the lock goes with the holder
    saved = run("save");
    EXPECT_EQ(saved.code, 0) << saved.out << saved.err;
}

TEST_F(FaultsTest, CorruptStateDbIsMovedAsideReportedAndTheDaemonStartsAfresh) {
    start_web();
    ASSERT_EQ(run("kill").code, 0);
    const std::string db = home() + "/state.db";
    {
        std::ofstream garbage(db, std::ios::binary | std::ios::trunc);
        garbage << std::string(8192, '\xa5');
    }
    ::unlink((db + "-wal").c_str());
    ::unlink((db + "-shm").c_str());
    // The next command starts a daemon: it must come up, say what happened, and keep the
    // damaged file for a post-mortem.
    RunResult r = run("start", dir() + "/ecosystem.toml");
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(serves_ok(5));
    EXPECT_NE(read_file(home() + "/daemon.log").find("moved aside"), std::string::npos)
        << read_file(home() + "/daemon.log");
    EXPECT_EQ(read_file(db + ".corrupt"), std::string(8192, '\xa5'));
    EXPECT_EQ(run("save").code, 0);
}

TEST_F(FaultsTest, DaemonKilledUnderLoadLosesNoLogLinesNorSavedState) {
    start_web();
    // What must survive: the saved app list and every log line written before the fault.
    ASSERT_EQ(run("save").code, 0);
    const std::string out_log = home() + "/logs/web-out.log";
    for (int i = 0; i < 20; ++i) ASSERT_EQ(http_get(listen_, "/mark?n=" + std::to_string(i))->status, 200);
    ASSERT_TRUE(wait_until([&] { return read_file(out_log).find("mark 19") != std::string::npos; }, 10s));
    LoadLoop load(listen_, "/load");
    load.start();
    ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= 50; }, 20s)) << load.snapshot().describe();
    const pid_t daemon = daemon_pid();
    auto daemon_ref = process_ref(daemon);
    ASSERT_TRUE(daemon_ref);
    track_processes();
    std::string log_before = read_file(out_log);
    ASSERT_EQ(::kill(daemon, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return !alive(*daemon_ref); }, 10s));
    load.stop();

    // A new daemon (resurrect starts one) restores the running apps from state.db.
    RunResult back = run("resurrect");
    EXPECT_EQ(back.code, 0) << back.out << back.err;
    ASSERT_TRUE(wait_until([&] {
        auto rows = workers_of("web");
        return rows.size() == 2 && std::all_of(rows.begin(), rows.end(), [](const json& r) {
                   return r.value("status", "") == "online";
               });
    }, 30s)) << status_json().dump(2);
    EXPECT_TRUE(wait_until([&] { return serves_ok(5); }, 10s));
    // The log up to the fault is intact (a prefix of what is there now), and goes on.
    EXPECT_EQ(read_file(out_log).substr(0, log_before.size()), log_before);
    for (int i = 0; i < 20; ++i)
        EXPECT_NE(log_before.find("mark " + std::to_string(i) + "\n"), std::string::npos) << "line " << i << " lost";
    ASSERT_EQ(http_get(listen_, "/mark?n=after")->status, 200);
    EXPECT_TRUE(wait_until([&] { return read_file(out_log).find("mark after") != std::string::npos; }, 10s));
    // The saved list survived: resurrect after a clean kill brings the app back.
    ASSERT_EQ(run("kill").code, 0);
    RunResult res = run("resurrect");
    EXPECT_EQ(res.code, 0) << res.out << res.err;
    EXPECT_EQ(workers_of("web").size(), 2u) << status_json().dump(2);
}

}  // namespace
}  // namespace ne::itest
