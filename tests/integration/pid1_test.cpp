// `nodeedge daemon --foreground` as a container's PID 1, in a new PID namespace
// (`unshare --pid --fork --mount-proc`, as `docker run` would start it): a process an app
// leaves behind is reparented to nodeedge and reaped when it exits (no zombie); SIGTERM drains
// (the request in flight completes) and the daemon exits 0; --log-format json makes every
// line on stdout a JSON object.
//
// Never ask this daemon for `status`: its pids are the namespace's, and the harness would
// take them for host pids.
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "integration/foreground_daemon.h"
#include "integration/proxied_app_test.h"

namespace ne::itest {
namespace {

// GET /orphan: a shell backgrounds a `sleep` and exits at once, so the sleep is orphaned;
// answers its pid (in the namespace). GET /slow: touches ${DIR}/slow-started, answers 1.5 s later.
constexpr const char* kPid1App = R"('use strict';
const fs = require('fs');
const { execFileSync } = require('child_process');
const { serve, sendJson } = require('${APPS}/serve.js');
serve((req, res, url) => {
  if (url.pathname === '/orphan') {
    const pid = Number(execFileSync('sh', ['-c', 'sleep 1 >/dev/null 2>&1 & echo $!']).toString().trim());
    sendJson(res, 200, { orphan: pid });
    return true;
  }
  if (url.pathname === '/slow') {
    fs.writeFileSync('${DIR}/slow-started', '');
    setTimeout(() => sendJson(res, 200, { done: true }), 1500);
    return true;
  }
  return false;
});
)";

constexpr const char* kPid1Config = R"([[apps]]
name = "web"
script = "${SCRIPT}"
port = ${PORT}
kill_timeout = "5s"

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "web"
)";

struct ProcStatus {
    pid_t ppid = 0;
    char state = '?';
    std::vector<pid_t> nspid;   // outermost first
};

std::optional<ProcStatus> proc_status(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    if (!f) return std::nullopt;
    ProcStatus s;
    std::string line;
    while (std::getline(f, line)) {
        std::istringstream in(line.substr(line.find(':') + 1));
        if (line.rfind("PPid:", 0) == 0) in >> s.ppid;
        else if (line.rfind("State:", 0) == 0) in >> s.state;
        else if (line.rfind("NSpid:", 0) == 0)
            for (pid_t p; in >> p;) s.nspid.push_back(p);
    }
    return s;
}

class Pid1Test : public ProxiedAppTest {
protected:
    void SetUp() override {
        ProxiedAppTest::SetUp();
        if (run_command({"unshare", "--pid", "--fork", "--mount-proc", "true"}).code != 0)
            GTEST_SKIP() << "cannot create a PID namespace here (unshare needs CAP_SYS_ADMIN)";
    }
    void TearDown() override {
        daemon_.reset();
        // The pid file holds the namespace's pid (1): the harness must not act on it.
        ::unlink((home() + "/daemon.pid").c_str());
        ProxiedAppTest::TearDown();
    }

    std::unique_ptr<ForegroundProcess> daemon_;
};

TEST_F(Pid1Test, ReapsOrphansAndDrainsOnSigterm) {
    const std::string out = dir() + "/stdout.log";
    daemon_ = std::make_unique<ForegroundProcess>(
        std::vector<std::string>{"unshare", "--pid", "--fork", "--mount-proc", NODEEDGE_BIN, "daemon", "--foreground",
                                 "--log-format", "json"},
        std::vector<std::string>{"NODEEDGE_HOME=" + home()}, out);
    // unshare forks nodeedge: the namespace's PID 1 is unshare's only child.
    pid_t pid1 = 0;
    ASSERT_TRUE(wait_until([&] {
        auto kids = children_of(daemon_->pid());
        if (kids.size() == 1) pid1 = kids[0].pid;
        struct stat st{};
        return pid1 > 0 && ::stat((home() + "/daemon.sock").c_str(), &st) == 0;
    }, 15s)) << read_file(out);
    auto ps = proc_status(pid1);
    ASSERT_TRUE(ps && ps->nspid.size() == 2 && ps->nspid[1] == 1) << "nodeedge is not PID 1 of a new namespace";

    start(kPid1Config, {{"SCRIPT", write_file("web.js", kPid1App, {{"DIR", dir()}})}});

    // The orphan: reparented to nodeedge, then reaped by it when it exits.
    auto o = get_json(listen_, "/orphan");
    const pid_t ns_orphan = o.value("orphan", 0);
    ASSERT_GT(ns_orphan, 1) << o.dump();
    pid_t orphan = 0;
    ASSERT_TRUE(wait_until([&] {
        for (const auto& c : children_of(pid1))
            if (auto s = proc_status(c.pid); s && !s->nspid.empty() && s->nspid.back() == ns_orphan) orphan = c.pid;
        return orphan > 0;
    }, 5s)) << "the orphaned sleep was not reparented to nodeedge";
    EXPECT_TRUE(wait_until([&] { return !proc_status(orphan).has_value(); }, 10s))
        << "pid " << orphan << " left as state " << (proc_status(orphan) ? proc_status(orphan)->state : '?');
    for (const auto& c : children_of(pid1)) EXPECT_NE(c.state, 'Z') << "zombie " << c.pid;

    // SIGTERM with a request in flight: it completes, then everything stops and PID 1 exits 0.
    Result<HttpResponse> slow = Error{"not sent"};
    std::thread client([&] { slow = http_get(listen_, "/slow"); });
    ASSERT_TRUE(wait_until([&] { return ::access((dir() + "/slow-started").c_str(), F_OK) == 0; }, 10s));
    ASSERT_EQ(::kill(pid1, SIGTERM), 0);
    client.join();
    ASSERT_TRUE(slow.ok()) << slow.error().message;
    EXPECT_EQ(slow->status, 200);
    EXPECT_NE(slow->body.find("\"done\":true"), std::string::npos) << slow->body;
    EXPECT_TRUE(wait_until([&] { return daemon_->exited(); }, 30s));
    EXPECT_EQ(daemon_->code(), 0) << read_file(out);

    // Every line on stdout (master and proxy workers) is one JSON object.
    std::istringstream lines(read_file(out));
    int n = 0;
    for (std::string line; std::getline(lines, line);) {
        if (line.empty()) continue;
        ++n;
        json j = json::parse(line, nullptr, false);
        EXPECT_TRUE(j.is_object() && j.contains("msg") && j.contains("level")) << line;
    }
    EXPECT_GT(n, 3);
}

}  // namespace
}  // namespace ne::itest
