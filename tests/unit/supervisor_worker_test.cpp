// Worker as a table: each row sets up an app (a tiny /bin/sh script standing in for Node, which
// says "ready" on the IPC channel as process.send('ready') would), drives one Worker through
// steps on a real loop with real processes, and checks the states it went through, what it
// asked of its host, and its restart count. Only the host is fake: it records and answers.
#include <gtest/gtest.h>

#include <event2/listener.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/wait.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "ipc/event_ptr.h"
#include "supervisor/app.h"
#include "supervisor/worker.h"

namespace ne::supervisor {
namespace worker_table {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// What the Worker asked of the daemon, in order: "pool_add", "pool_drain", "pool_remove",
// "replace(<why>)", and each event by its kind ("start", "exit", "restart", "errored", ...).
class FakeHost final : public WorkerHost {
public:
    FakeHost(event_base* base, std::string log_path) : base_(base), log_(std::make_shared<LogFile>(log_path, 0, 0)) {
        EXPECT_TRUE(log_->open());
    }

    event_base* loop() override { return base_; }
    void pool_add(Worker&) override { seen.push_back("pool_add"); }
    void pool_drain(Worker&) override { seen.push_back("pool_drain"); }
    void pool_remove(Worker&) override { seen.push_back("pool_remove"); }
    bool replace(Worker&, const std::string& why) override {
        seen.push_back("replace(" + why + ")");
        return accept_replace;
    }
    void pid_started(Worker&) override {}   // WorkerRun reaps by the worker's own pid
    void state_changed(Worker& w, State from, const std::string&) override {
        if (from != w.state()) states.push_back(w.state());
    }
    void event(Worker&, const std::string& kind, const std::string& detail) override {
        seen.push_back(kind);
        details.push_back(kind + ": " + detail);
    }
    std::shared_ptr<LogFile> log_file(const config::App&, int, bool) override { return log_; }

    bool accept_replace = true;   // false: a replacement is already under way (e.g. a reload)
    std::vector<State> states;
    std::vector<std::string> seen;
    std::vector<std::string> details;      // "kind: detail", for failure messages

private:
    event_base* base_;
    std::shared_ptr<LogFile> log_;
};

// Answers every request on 127.0.0.1:port with 200, for the health checks, while it exists.
class HealthyAnswer {
public:
    HealthyAnswer(event_base* base, int port) : base_(base) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<uint16_t>(port));
        listener_.reset(evconnlistener_new_bind(base, on_accept, this, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                                reinterpret_cast<sockaddr*>(&a), sizeof a));
        EXPECT_TRUE(listener_) << "listen on port " << port;
    }

private:
    static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* self) {
        auto* h = static_cast<HealthyAnswer*>(self);
        BuffereventPtr conn(bufferevent_socket_new(h->base_, fd, BEV_OPT_CLOSE_ON_FREE));
        const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        bufferevent_write(conn.get(), answer.data(), answer.size());
        bufferevent_enable(conn.get(), EV_READ | EV_WRITE);
        h->conns_.push_back(std::move(conn));
    }

    event_base* base_;
    ListenerPtr listener_;
    std::list<BuffereventPtr> conns_;
};

// One row's world: a loop, a fake host, the worker, and what reaps its processes (the
// daemon's SIGCHLD loop, here a 10 ms poll of the worker's own pid only).
class WorkerRun {
public:
    WorkerRun(const config::App& app, bool accept_replace) : base_(event_base_new()), host_(base_.get(), log_path()) {
        host_.accept_replace = accept_replace;
        port_ = ephemeral_port();
        worker_ = std::make_unique<Worker>(host_, std::make_shared<const config::App>(app), 0, port_, 0, 1);
        tick_.reset(event_new(base_.get(), -1, EV_PERSIST, on_tick, this));
        timeval every{0, 10000};
        evtimer_add(tick_.get(), &every);
    }

    ~WorkerRun() {
        pid_t live = worker_->pid();
        worker_.reset();   // SIGKILLs a process still running
        if (live > 0) ::waitpid(live, nullptr, 0);
    }

    Worker& worker() { return *worker_; }
    FakeHost& host() { return host_; }
    event_base* base() { return base_.get(); }
    int port() const { return port_; }
    std::unique_ptr<HealthyAnswer>& health_answer() { return health_answer_; }

    // Runs the loop until pred() holds; false after `limit`.
    bool until(const std::function<bool()>& pred, Clock::duration limit = 10s) {
        const auto end = Clock::now() + limit;
        while (!pred()) {
            if (Clock::now() > end) return false;
            event_base_loop(base_.get(), EVLOOP_ONCE);
        }
        return true;
    }

    // Runs the loop for `span` whatever happens.
    void for_a_while(Clock::duration span) {
        until([end = Clock::now() + span] { return Clock::now() > end; }, span + 1s);
    }

    static std::string log_path() {
        return (std::filesystem::temp_directory_path() / ("ne-worker-test-" + std::to_string(::getpid()) + ".log")).string();
    }

private:
    static void on_tick(evutil_socket_t, short, void* self) {
        auto* r = static_cast<WorkerRun*>(self);
        pid_t pid = r->worker_->pid();
        int status = 0;
        if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid) r->worker_->on_exit(status);
    }

    EventBasePtr base_;
    FakeHost host_;
    int port_ = 0;
    std::unique_ptr<Worker> worker_;
    std::unique_ptr<HealthyAnswer> health_answer_;
    EventPtr tick_;
};

struct Step {
    std::string what;                    // for the failure message
    std::function<bool(WorkerRun&)> run;       // false: what it waited for never came
};

Step start() {
    return {"start", [](WorkerRun& r) { r.worker().start(); return true; }};
}
Step send(Event e) {
    return {std::string("send ") + to_string(e), [e](WorkerRun& r) { r.worker().on(e, "test"); return true; }};
}
Step wait_state(State s) {
    return {std::string("wait until ") + to_string(s), [s](WorkerRun& r) { return r.until([&] { return r.worker().state() == s; }); }};
}
// Waits for the n-th restart to have come back to state s.
Step wait_restarted(int n, State s) {
    return {"wait for restart " + std::to_string(n) + " to be " + to_string(s), [n, s](WorkerRun& r) {
                return r.until([&] { return r.worker().restarts() == n && r.worker().state() == s; });
            }};
}
Step wait_seen(const std::string& what) {
    return {"wait until the host saw " + what, [what](WorkerRun& r) {
                return r.until([&] {
                    auto& seen = r.host().seen;
                    return std::find(seen.begin(), seen.end(), what) != seen.end();
                });
            }};
}
Step signal_process(int sig) {
    return {std::string("signal ") + sigabbrev_np(sig), [sig](WorkerRun& r) {
                return r.worker().pid() > 0 && ::kill(r.worker().pid(), sig) == 0;
            }};
}
Step no_retry() {
    return {"--no-retry", [](WorkerRun& r) { r.worker().no_retry_before_ready(); return true; }};
}
Step sample() {
    return {"sample", [](WorkerRun& r) { r.worker().sample(Clock::now()); return true; }};
}
Step idle(Clock::duration span) {
    return {"idle", [span](WorkerRun& r) { r.for_a_while(span); return true; }};
}
Step answer_health(bool healthy) {
    return {healthy ? "answer health checks" : "stop answering health checks", [healthy](WorkerRun& r) {
                if (healthy) r.health_answer() = std::make_unique<HealthyAnswer>(r.base(), r.port());
                else r.health_answer().reset();
                return true;
            }};
}

// Says "ready" as process.send('ready') does (a JSON line on Node's IPC channel, fd 3).
constexpr const char* kReady = R"(printf '"ready"\n' >&3)";

const std::string kServes = std::string(kReady) + "; exec sleep 30";
const std::string kNeverReady = "exec sleep 30";
const std::string kCrashesAfterReady = std::string(kReady) + "; sleep 0.3; exit 3";
// Crashes the first time only: the marker file is in the worker's cwd.
const std::string kCrashesOnce = std::string("if [ -e crashed ]; then ") + kServes + "; fi; touch crashed; " + kCrashesAfterReady;
const std::string kCrashesBeforeReadyOnce = std::string("if [ -e crashed ]; then ") + kServes + "; fi; touch crashed; exit 1";
const std::string kIgnoresTerm = std::string("trap '' TERM; ") + kReady + "; while :; do sleep 0.05; done";

// Health checks of the worker's port, where nothing listens unless answer_health(true).
void checked(config::App& a, int fails, config::Duration interval) {
    a.health_check.enabled = true;
    a.health_check.path = "/health";
    a.health_check.fails = fails;
    a.health_check.interval = interval;
    a.health_check.timeout = 1s;
}

struct Row {
    const char* name;
    std::string body;                               // the worker's `sh -c` script
    std::function<void(config::App&)> setup;        // changes to the app's config
    std::vector<Step> steps;
    std::vector<State> states;                      // every state it went through, in order
    std::vector<std::string> seen;                  // what the host saw (see FakeHost)
    int restarts = 0;
    std::string error = "";                         // in last_error(); "" = none
    bool accept_replace = true;
};

config::App app_for(const Row& row, const std::string& cwd) {
    config::App a;
    a.name = "w";
    a.interpreter = "/bin/sh";
    a.node_args = {"-c"};
    a.script = row.body;
    a.cwd = cwd;
    a.wait_ready = true;
    a.listen_timeout = 5s;
    a.kill_timeout = 2s;
    a.exp_backoff_restart_delay = 10ms;
    if (row.setup) row.setup(a);
    return a;
}

class WorkerTable : public ::testing::Test {
protected:
    void SetUp() override {
        ::signal(SIGPIPE, SIG_IGN);
        std::string tmpl = (std::filesystem::temp_directory_path() / "ne-worker-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
        std::filesystem::remove(WorkerRun::log_path(), ec);
    }

    void check(const Row& row) {
        SCOPED_TRACE(row.name);
        std::filesystem::remove(dir_ + "/crashed");
        WorkerRun world(app_for(row, dir_), row.accept_replace);
        for (const auto& step : row.steps)
            ASSERT_TRUE(step.run(world)) << step.what << " failed; state " << to_string(world.worker().state())
                                       << "; events:\n" << ::testing::PrintToString(world.host().details);
        std::vector<std::string> states;
        for (State s : world.host().states) states.push_back(to_string(s));
        std::vector<std::string> want_states;
        for (State s : row.states) want_states.push_back(to_string(s));
        EXPECT_EQ(states, want_states);
        EXPECT_EQ(world.host().seen, row.seen) << ::testing::PrintToString(world.host().details);
        EXPECT_EQ(world.worker().restarts(), row.restarts);
        if (row.error.empty()) EXPECT_EQ(world.worker().last_error(), "");
        else EXPECT_NE(world.worker().last_error().find(row.error), std::string::npos) << world.worker().last_error();
    }

    std::string dir_;
};

using S = State;

std::vector<Row> rows() {
    return {
        {"spawn failure: the interpreter does not exist", kServes,
         [](config::App& a) { a.interpreter = "/nonexistent/node"; },
         {start(), wait_state(S::Errored)},
         {S::Launching, S::Errored},
         {"errored"}, 0, "w:0: exec /nonexistent/node: No such file or directory"},
        {"spawn failure: the cwd does not exist", kServes,
         [](config::App& a) { a.cwd = "/nonexistent/dir"; },
         {start(), wait_state(S::Errored)},
         {S::Launching, S::Errored},
         {"errored"}, 0, "chdir /nonexistent/dir"},
        {"ready on the IPC channel: online and in the pool", kServes, {},
         {start(), wait_state(S::Online)},
         {S::Launching, S::Online},
         {"start", "pool_add"}},
        {"crash before ready, every time: retried up to max_restarts, then errored", "exit 1",
         [](config::App& a) { a.max_restarts = 2; },
         {start(), wait_state(S::Errored)},
         {S::Launching, S::Errored},
         {"start", "exit", "restart", "start", "exit", "restart", "start", "exit", "errored"}, 2,
         "w:0 exited with code 1 before becoming ready, after 2 restarts (max_restarts 2)"},
        {"crash before ready once (a database not up yet): online after one restart", kCrashesBeforeReadyOnce, {},
         {start(), wait_restarted(1, S::Online)},
         {S::Launching, S::Online},
         {"start", "exit", "restart", "start", "pool_add"}, 1},
        {"crash before ready with --no-retry: errored at once", "exit 1", {},
         {no_retry(), start(), wait_state(S::Errored)},
         {S::Launching, S::Errored},
         {"start", "exit", "errored"}, 0, "w:0 exited with code 1 before becoming ready"},
        {"killed before ready, max_restarts 0: errored at once", "kill -9 $$",
         [](config::App& a) { a.max_restarts = 0; },
         {start(), wait_state(S::Errored)},
         {S::Launching, S::Errored},
         {"start", "exit", "errored"}, 0, "w:0 killed by SIGKILL before becoming ready, after 0 restarts"},
        {"not ready within listen_timeout: stopped, then errored", kNeverReady,
         [](config::App& a) { a.listen_timeout = 200ms; },
         {start(), wait_state(S::Errored)},
         {S::Launching, S::Stopping, S::Stopped, S::Errored},
         {"start", "errored", "exit"}, 0, "w:0 did not become ready within listen_timeout (200 ms)"},
        {"crash after ready: out of the pool, restarted after the backoff, back in", kCrashesOnce, {},
         {start(), wait_state(S::Online), wait_restarted(1, S::Online)},
         {S::Launching, S::Online, S::Launching, S::Online},
         {"start", "pool_add", "exit", "pool_remove", "restart", "start", "pool_add"}, 1},
        {"crash after ready, every time: errored after max_restarts", kCrashesAfterReady,
         [](config::App& a) { a.max_restarts = 2; },
         {start(), wait_state(S::Errored)},
         {S::Launching, S::Online, S::Launching, S::Online, S::Launching, S::Online, S::Launching, S::Errored},
         {"start", "pool_add", "exit", "pool_remove", "restart", "start", "pool_add", "exit", "pool_remove", "restart",
          "start", "pool_add", "exit", "pool_remove", "errored"},
         2, "w:0: giving up after 2 restarts, the last 2 unstable (errored)"},
        {"max_restarts 0: the first crash after ready is the last", kCrashesAfterReady,
         [](config::App& a) { a.max_restarts = 0; },
         {start(), wait_state(S::Online), wait_state(S::Errored)},
         {S::Launching, S::Online, S::Launching, S::Errored},
         {"start", "pool_add", "exit", "pool_remove", "errored"}, 0, "giving up after 0 restarts"},
        {"killed from outside while online: restarted", kServes, {},
         {start(), wait_state(S::Online), signal_process(SIGKILL), wait_restarted(1, S::Online)},
         {S::Launching, S::Online, S::Launching, S::Online},
         {"start", "pool_add", "exit", "pool_remove", "restart", "start", "pool_add"}, 1},
        {"drain, drained: removed, SIGTERM, stopped", kServes, {},
         {start(), wait_state(S::Online), send(Event::Drain), send(Event::DrainDone), wait_state(S::Stopped)},
         {S::Launching, S::Online, S::Draining, S::Stopping, S::Stopped},
         {"start", "pool_add", "pool_drain", "pool_remove", "exit"}},
        {"exit during drain: stopped and removed, not restarted", kServes, {},
         {start(), wait_state(S::Online), send(Event::Drain), signal_process(SIGKILL), wait_state(S::Stopped)},
         {S::Launching, S::Online, S::Draining, S::Stopped},
         {"start", "pool_add", "pool_drain", "exit", "pool_remove"}},
        {"stop while online: removed at once, SIGTERM", kServes, {},
         {start(), wait_state(S::Online), send(Event::Stop), wait_state(S::Stopped)},
         {S::Launching, S::Online, S::Stopping, S::Stopped},
         {"start", "pool_add", "pool_remove", "exit"}},
        {"stop while launching: never in the pool", kNeverReady, {},
         {start(), idle(100ms), send(Event::Stop), wait_state(S::Stopped)},
         {S::Launching, S::Stopping, S::Stopped},
         {"start", "exit"}},
        {"drain while launching: stopped, nothing to drain", kNeverReady, {},
         {start(), idle(100ms), send(Event::Drain), wait_state(S::Stopped)},
         {S::Launching, S::Stopping, S::Stopped},
         {"start", "exit"}},
        {"SIGTERM ignored: SIGKILL after kill_timeout", kIgnoresTerm,
         [](config::App& a) { a.kill_timeout = 200ms; },
         {start(), wait_state(S::Online), send(Event::Stop), wait_state(S::Stopped)},
         {S::Launching, S::Online, S::Stopping, S::Stopped},
         {"start", "pool_add", "pool_remove", "kill", "exit"}},
        {"started again after a stop: a new process, no restart counted", kServes, {},
         {start(), wait_state(S::Online), send(Event::Stop), wait_state(S::Stopped), start(), wait_state(S::Online)},
         {S::Launching, S::Online, S::Stopping, S::Stopped, S::Launching, S::Online},
         {"start", "pool_add", "pool_remove", "exit", "start", "pool_add"}},
        {"started again after errored", "exit 1",
         [](config::App& a) { a.max_restarts = 0; },
         {start(), wait_state(S::Errored), start(), wait_state(S::Errored)},
         {S::Launching, S::Errored, S::Launching, S::Errored},
         {"start", "exit", "errored", "start", "exit", "errored"}, 0, "before becoming ready"},
        {"memory over the limit while online: a replacement is requested", kServes,
         [](config::App& a) { a.max_memory_restart = 1; },
         {start(), wait_state(S::Online), sample()},
         {S::Launching, S::Online},
         {"start", "pool_add", "replace(memory limit)", "memory"}},
        {"memory over the limit during a reload: the replacement under way serves", kServes,
         [](config::App& a) { a.max_memory_restart = 1; },
         {start(), wait_state(S::Online), sample()},
         {S::Launching, S::Online},
         {"start", "pool_add", "replace(memory limit)"}, 0, "", false},
        {"memory under the limit: nothing", kServes,
         [](config::App& a) { a.max_memory_restart = 1ull << 40; },
         {start(), wait_state(S::Online), sample()},
         {S::Launching, S::Online},
         {"start", "pool_add"}},
        {"memory over the limit while launching: not yet its business", kNeverReady,
         [](config::App& a) { a.max_memory_restart = 1; },
         {start(), idle(100ms), sample()},
         {S::Launching},
         {"start"}},
        {"health checks fail: unhealthy, out of the pool", kServes,
         [](config::App& a) { checked(a, 2, 50ms); },
         {start(), wait_state(S::Online), wait_state(S::Unhealthy)},
         {S::Launching, S::Online, S::Unhealthy},
         {"start", "pool_add", "pool_remove", "health"}},
        {"unhealthy, then a check passes: online and back in the pool", kServes,
         [](config::App& a) { checked(a, 2, 100ms); },
         {start(), wait_state(S::Online), wait_state(S::Unhealthy), answer_health(true), wait_state(S::Online)},
         {S::Launching, S::Online, S::Unhealthy, S::Online},
         {"start", "pool_add", "pool_remove", "health", "pool_add", "health"}},
        {"unhealthy for fails x 3 checks: a replacement is requested", kServes,
         [](config::App& a) { checked(a, 1, 50ms); },
         {start(), wait_state(S::Online), wait_seen("replace(health check)")},
         {S::Launching, S::Online, S::Unhealthy},
         {"start", "pool_add", "pool_remove", "health", "replace(health check)", "health"}},
        {"unhealthy, a replacement already under way: no second one", kServes,
         [](config::App& a) { checked(a, 1, 50ms); },
         {start(), wait_state(S::Online), wait_seen("replace(health check)")},
         {S::Launching, S::Online, S::Unhealthy},
         {"start", "pool_add", "pool_remove", "health", "replace(health check)"}, 0, "", false},
        {"unhealthy and drained (reload, stop): leaves as an online worker does", kServes,
         [](config::App& a) { checked(a, 1, 100ms); },
         {start(), wait_state(S::Unhealthy), send(Event::Drain), send(Event::DrainDone), wait_state(S::Stopped)},
         {S::Launching, S::Online, S::Unhealthy, S::Draining, S::Stopping, S::Stopped},
         {"start", "pool_add", "pool_remove", "health", "pool_drain", "pool_remove", "exit"}},
        {"unhealthy and crashed: restarted, online again", kServes,
         [](config::App& a) { checked(a, 1, 300ms); },
         {start(), wait_state(S::Unhealthy), signal_process(SIGKILL), wait_restarted(1, S::Online)},
         {S::Launching, S::Online, S::Unhealthy, S::Launching, S::Online},
         {"start", "pool_add", "pool_remove", "health", "exit", "pool_remove", "restart", "start", "pool_add"}, 1},
        {"memory over the limit while unhealthy: a replacement is requested", kServes,
         [](config::App& a) { checked(a, 1, 100ms); a.max_memory_restart = 1; },
         {start(), wait_state(S::Unhealthy), sample()},
         {S::Launching, S::Online, S::Unhealthy},
         {"start", "pool_add", "pool_remove", "health", "replace(memory limit)", "memory"}},
        {"no health checks while launching", kNeverReady,
         [](config::App& a) { checked(a, 1, 50ms); },
         {start(), idle(300ms)},
         {S::Launching},
         {"start"}},
        {"memory over the limit while draining: it is leaving anyway", kServes,
         [](config::App& a) { a.max_memory_restart = 1; },
         {start(), wait_state(S::Online), send(Event::Drain), sample()},
         {S::Launching, S::Online, S::Draining},
         {"start", "pool_add", "pool_drain"}},
    };
}

TEST_F(WorkerTable, Rows) {
    auto table = rows();
    EXPECT_GE(table.size(), 20u);
    for (const auto& row : table) check(row);
}

}  // namespace worker_table
}  // namespace ne::supervisor
