// Active health checks as a user sees them: a worker whose /health starts failing stops
// getting requests through the proxy, gets them again once it answers 200, and is replaced
// (without a failed request) when it stays unhealthy; `describe` lists each step.
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "integration/proxied_app_test.h"

namespace ne::itest {
namespace {

// /health answers 503 while ${DIR}/sick-<pid> exists: the test makes one process sick, and a
// replacement (another pid) starts healthy.
constexpr const char* kHealthCheckApp = R"('use strict';
const fs = require('fs');
const { serve, sendJson } = require('${APPS}/serve.js');
serve((req, res, url) => {
  if (url.pathname !== '/health') return false;
  const sick = fs.existsSync(process.env.SICK_DIR + '/sick-' + process.pid);
  sendJson(res, sick ? 503 : 200, { pid: process.pid, sick });
  return true;
});
)";

constexpr const char* kHealthCheckConfig = R"([[apps]]
name = "web"
script = "${SCRIPT}"
instances = 2
port = ${PORT}
kill_timeout = "3s"
env = { SICK_DIR = "${DIR}" }
health_check = { path = "/health", interval = "100ms", timeout = "1s", fails = ${FAILS} }

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "web"
)";

class HealthCheckTest : public ProxiedAppTest {
protected:
    // Starts two workers checked every 100 ms; returns their pids by instance.
    std::vector<int> start(int fails) {
        ProxiedAppTest::start(
            kHealthCheckConfig,
            {{"SCRIPT", write_file("web.js", kHealthCheckApp)}, {"DIR", dir()}, {"FAILS", std::to_string(fails)}}, 2);
        std::vector<int> pids;
        for (auto& row : workers_of("web")) pids.push_back(row.value("pid", 0));
        EXPECT_EQ(pids.size(), 2u) << status_json().dump(2);
        return pids;
    }

    std::string sick_file(int pid) const { return dir() + "/sick-" + std::to_string(pid); }

    // The pid that answered a GET through the proxy; 0 (and a failure) for anything but a 200.
    int answered_by() {
        auto r = http_get(listen_, "/work");
        if (!r) {
            ADD_FAILURE() << r.error().message;
            return 0;
        }
        EXPECT_EQ(r->status, 200) << r->body;
        json body = json::parse(r->body, nullptr, false);
        return body.is_object() ? body.value("pid", 0) : 0;
    }

    // `describe web`'s lines for worker `label` that contain `text`.
    std::vector<std::string> describe_lines(const std::string& label, const std::string& text) {
        RunResult r = run("describe", "web");
        EXPECT_EQ(r.code, 0) << r.err;
        std::vector<std::string> out;
        std::istringstream lines(r.out);
        for (std::string line; std::getline(lines, line);)
            if (line.find(label) != std::string::npos && line.find(" health ") != std::string::npos &&
                line.find(text) != std::string::npos)
                out.push_back(line);
        return out;
    }
};

TEST_F(HealthCheckTest, UnhealthyWorkerGetsNoRequestsUntilItAnswersAgain) {
    // 20 failures at 100 ms take it out after ~2 s and would replace it after ~6 s: the
    // test does its part in between.
    auto pids = start(20);
    ASSERT_EQ(pids.size(), 2u);
    const int well = pids[0];
    const int sick = pids[1];
    ASSERT_TRUE(wait_until([&] { return answered_by() == sick; }, 20s)) << "both workers serve at first";

    std::ofstream(sick_file(sick)) << "x";
    ASSERT_TRUE(wait_until([&] { return !describe_lines("web:1", "taken out of the pool").empty(); }, 30s))
        << run("describe", "web").out;
    for (int i = 0; i < 20; ++i) EXPECT_EQ(answered_by(), well) << "request " << i << " reached the unhealthy worker";

    ASSERT_EQ(::unlink(sick_file(sick).c_str()), 0);
    ASSERT_TRUE(wait_until([&] { return !describe_lines("web:1", "back in the pool").empty(); }, 30s))
        << run("describe", "web").out;
    EXPECT_TRUE(wait_until([&] { return answered_by() == sick; }, 20s)) << "it serves again";

    auto out = describe_lines("web:1", "taken out of the pool");
    ASSERT_EQ(out.size(), 1u) << run("describe", "web").out;
    EXPECT_NE(out[0].find("20 checks of /health failed in a row (last: answered 503)"), std::string::npos) << out[0];
    EXPECT_EQ(describe_lines("web:1", "back in the pool").size(), 1u);
    EXPECT_TRUE(describe_lines("web:0", "").empty()) << "the healthy worker has no health events";
    EXPECT_TRUE(describe_lines("web:1", "replacing it").empty()) << "it recovered before being replaced";
    std::vector<int> now;
    for (auto& row : workers_of("web")) {
        EXPECT_EQ(row.value("status", ""), "online");
        now.push_back(row.value("pid", 0));
    }
    EXPECT_EQ(now, pids) << "no worker was restarted";
}

TEST_F(HealthCheckTest, WorkerThatStaysUnhealthyIsReplacedWithoutAFailedRequest) {
    // Out after 2 failures, replaced after 6.
    auto pids = start(2);
    ASSERT_EQ(pids.size(), 2u);
    const int sick = pids[1];
    LoadLoop load(listen_, "/under-load");
    load.start();
    ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= 20; }, 20s)) << load.snapshot().describe();

    std::ofstream(sick_file(sick)) << "x";
    ASSERT_TRUE(wait_until(
        [&] {
            auto rows = workers_of("web");
            return rows.size() == 2 && rows[1].value("pid", 0) != sick && rows[1].value("status", "") == "online";
        },
        30s))
        << status_json().dump(2);
    const int ok_now = load.snapshot().ok;
    ASSERT_TRUE(wait_until([&] { return load.snapshot().ok >= ok_now + 20; }, 20s)) << load.snapshot().describe();
    auto stats = load.stop();
    EXPECT_EQ(stats.failed, 0) << stats.describe();

    auto rows = workers_of("web");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].value("pid", 0), pids[0]) << "the healthy worker was left alone";
    const int replacement = rows[1].value("pid", 0);
    EXPECT_TRUE(wait_until([&] { return answered_by() == replacement; }, 20s)) << "the replacement serves";
    EXPECT_EQ(describe_lines("web:1", "taken out of the pool").size(), 1u) << run("describe", "web").out;
    auto replacing = describe_lines("web:1", "replacing it");
    ASSERT_EQ(replacing.size(), 1u) << run("describe", "web").out;
    EXPECT_NE(replacing[0].find("unhealthy for 6 checks in a row"), std::string::npos) << replacing[0];
}

}  // namespace
}  // namespace ne::itest
