// The access log through the real daemon: one line per answer of every kind (proxied,
// static, `return`, a 400 before routing, a WebSocket tunnel when it closes), none for a
// location with access_log = false; json and combined formats carry request time, upstream
// address and time and the request id; on SIGUSR1 the master reopens the file for every proxy
// worker.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "integration/proxied_app_test.h"

namespace ne::itest {
namespace {

// serve.js's description for plain requests; an Upgrade gets a 101 and an echo tunnel.
constexpr const char* kAccessLogApp = R"(const { serve } = require('${APPS}/serve');
const server = serve();
server.on('upgrade', (req, socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
  socket.pipe(socket);
});
)";

constexpr const char* kAccessLogConfig = R"([proxy]
workers = ${WORKERS}
access_log_format = "${FORMAT}"

[[apps]]
name = "app"
script = "${DIR}/app.js"
port = ${PORT}

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "app"

[[servers.locations]]
path = "/quiet/"
app = "app"
access_log = false

[[servers.locations]]
path = "/static/"
root = "${DIR}/site"

[[servers.locations]]
path = "= /r"
return = "204"
)";

std::vector<std::string> lines_of(const std::string& path) {
    std::vector<std::string> out;
    std::istringstream in(read_file(path));
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// Sends raw bytes on a connection of its own and reads until the server closes.
std::string raw_exchange(int port, const std::string& bytes) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
    if (!connect_loopback(fd.get(), port)) return "";
    timeval tv{10, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::write(fd.get(), bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) return "";
    std::string got;
    char buf[4096];
    // A tunnel: once the 101 and the echo of "ping" arrived, close from our side.
    for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) > 0;) {
        got.append(buf, static_cast<size_t>(n));
        if (got.find("\r\n\r\nping") != std::string::npos) break;
    }
    return got;
}

class AccessLogTest : public ProxiedAppTest {
protected:
    void start(const std::string& format, int workers) {
        ASSERT_EQ(::mkdir((dir() + "/site").c_str(), 0755), 0);
        ASSERT_EQ(::mkdir((dir() + "/site/static").c_str(), 0755), 0);
        std::ofstream(dir() + "/site/static/f.txt") << "file\n";
        write_file("app.js", kAccessLogApp);
        ProxiedAppTest::start(kAccessLogConfig, {{"WORKERS", std::to_string(workers)}, {"FORMAT", format}, {"DIR", dir()}});
        log = home() + "/logs/access.log";
    }

    std::string log;
};

TEST_F(AccessLogTest, JsonLinesForEveryKindOfAnswer) {
    start("json", 1);
    auto proxied = http_get(listen_, "/a?x=1", {{"User-Agent", "itest/1"}, {"Referer", "http://ref/"},
                                               {"X-Request-ID", "req-proxied"}});
    ASSERT_TRUE(proxied && proxied->status == 200);
    ASSERT_EQ(http_get(listen_, "/static/f.txt", {{"X-Request-ID", "req-static"}})->status, 200);
    ASSERT_EQ(http_get(listen_, "/r", {{"X-Request-ID", "req-return"}})->status, 204);
    ASSERT_EQ(http_get(listen_, "/quiet/x", {{"X-Request-ID", "req-quiet"}})->status, 200);
    const std::string bad = raw_exchange(listen_, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    ASSERT_EQ(bad.rfind("HTTP/1.1 400", 0), 0u) << bad;
    const std::string tunnel = raw_exchange(listen_, "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: echo\r\n"
                                                    "Connection: upgrade\r\nX-Request-ID: req-ws\r\n\r\nping");
    ASSERT_EQ(tunnel.rfind("HTTP/1.1 101", 0), 0u) << tunnel;

    // Lines reach the file within a second of their request (the batch's flush).
    ASSERT_TRUE(wait_until([&] { return lines_of(log).size() >= 5; }, 10s)) << read_file(log);
    std::map<std::string, json> by_id;
    for (const auto& line : lines_of(log)) {
        json j = json::parse(line);  // every line is one JSON object
        by_id[j["request_id"].get<std::string>()] = j;
    }
    EXPECT_EQ(by_id.count("req-quiet"), 0u) << "access_log = false";
    ASSERT_EQ(by_id.size(), 5u) << read_file(log);

    const json& p = by_id["req-proxied"];
    EXPECT_EQ(p["status"], 200);
    EXPECT_EQ(p["method"], "GET");
    EXPECT_EQ(p["uri"], "/a?x=1");
    EXPECT_EQ(p["protocol"], "HTTP/1.1");
    EXPECT_EQ(p["remote_addr"], "127.0.0.1");
    EXPECT_EQ(p["user_agent"], "itest/1");
    EXPECT_EQ(p["referer"], "http://ref/");
    EXPECT_EQ(p["location"], "/");
    EXPECT_EQ(p["body_bytes_sent"], proxied->body.size());
    EXPECT_GT(p["bytes_sent"].get<uint64_t>(), proxied->body.size());
    EXPECT_EQ(p["upstream_addr"], "127.0.0.1:" + std::to_string(workers_of("app")[0]["port"].get<int>()));
    EXPECT_GE(p["upstream_response_time"].get<double>(), 0.0);
    EXPECT_GE(p["request_time"].get<double>(), p["upstream_response_time"].get<double>());

    const json& s = by_id["req-static"];
    EXPECT_EQ(s["status"], 200);
    EXPECT_EQ(s["body_bytes_sent"], 5);
    EXPECT_EQ(s["upstream_addr"], "");
    EXPECT_TRUE(s["upstream_response_time"].is_null());

    EXPECT_EQ(by_id["req-return"]["status"], 204);
    EXPECT_EQ(by_id["req-ws"]["status"], 101);
    EXPECT_EQ(by_id["req-ws"]["body_bytes_sent"], 4);  // "ping", echoed through the tunnel

    // The 400 came before any routing: no request id was given, one was made up.
    int bad_requests = 0;
    for (const auto& [id, j] : by_id)
        if (j["status"] == 400) {
            ++bad_requests;
            EXPECT_EQ(j["method"], "");  // refused by the parser: the line reads "-" in combined
            EXPECT_TRUE(j["location"].is_null());
        }
    EXPECT_EQ(bad_requests, 1);
}

TEST_F(AccessLogTest, CombinedLinesAndReopenOnSigusr1) {
    start("combined", 2);
    auto r = http_get(listen_, "/c?q=\"x\"", {{"User-Agent", "itest/2"}, {"X-Request-ID", "req-c1"}});
    ASSERT_TRUE(r && r->status == 200);
    ASSERT_TRUE(wait_until([&] { return !lines_of(log).empty(); }, 10s));
    const std::string line = lines_of(log).at(0);
    const std::regex combined(
        R"(127\.0\.0\.1 - - \[\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /c\?q=\\x22x\\x22 HTTP/1\.1" 200 \d+ )"
        R"("-" "itest/2" rt=\d+\.\d{3} uaddr="127\.0\.0\.1:\d+" urt=\d+\.\d{3} rid="req-c1")");
    EXPECT_TRUE(std::regex_match(line, combined)) << line;

    // logrotate's way: move the file, then SIGUSR1 to the daemon, which reopens it for the workers.
    ASSERT_EQ(::rename(log.c_str(), (log + ".1").c_str()), 0);
    ASSERT_EQ(::kill(daemon_pid(), SIGUSR1), 0);
    int sent = 0;
    ASSERT_TRUE(wait_until([&] {
        ++sent;
        (void)http_get(listen_, "/after");
        return !lines_of(log).empty();
    }, 10s)) << "no new access.log after SIGUSR1";
    // Both proxy workers write to the new file: fresh connections reach each of them.
    for (int i = 0; i < 20; ++i) (void)http_get(listen_, "/more");
    ASSERT_TRUE(wait_until([&] { return lines_of(log).size() + lines_of(log + ".1").size() >= 1u + sent + 20u; }, 10s));
    EXPECT_EQ(lines_of(log + ".1").at(0), line);
    EXPECT_GE(lines_of(log).size(), 20u);
}

}  // namespace
}  // namespace ne::itest
