// End to end: a forked child runs run_proxy_worker() on a socketpair channel and a listener on
// 127.0.0.1:0; small Node backends (written to a temp dir) answer; curl and raw sockets are
// the clients. Every child is killed and reaped by the fixture.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "config/json.h"
#include "ipc/channel.h"
#include "ipc/messages.h"
#include "ipc/net.h"
#include "proxy/proxy_worker.h"

namespace ne::proxy {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// ---- helpers -------------------------------------------------------------------------------

constexpr const char* kBackendJs = R"JS(
const http = require('http');
const name = process.argv[2];
let held = [];
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const route = '/' + url.pathname.split('/').pop();  // "/short/slow" -> "/slow"
  if (route === '/pipe') { req.pipe(res); return; }
  const chunks = [];
  req.on('data', c => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    switch (route) {
      case '/chunked':
        res.write('part1-');
        setTimeout(() => { res.write('part2-'); res.end('part3'); }, 5);
        return;
      case '/hold':
        held.push(res);
        console.log('held');
        return;
      case '/release':
        held.forEach(r => r.end(name));
        held = [];
        res.end('released');
        return;
      case '/slow':
        setTimeout(() => res.end(name), Number(url.searchParams.get('ms')));
        return;
      case '/big': {
        // n MiB of a known pattern, written with Node's own back-pressure.
        const chunk = Buffer.alloc(65536, 'abcdefgh');
        let left = Number(url.searchParams.get('mb')) * 16;
        res.setHeader('content-length', left * chunk.length);
        const more = () => { while (left > 0) { left--; if (!res.write(chunk)) return res.once('drain', more); } res.end(); };
        more();
        return;
      }
      default:
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({name, method: req.method, url: req.url, headers: req.headers,
                                body: body.toString('latin1'), httpVersion: req.httpVersion,
                                remotePort: req.socket.remotePort}));
    }
  });
});
server.on('upgrade', (req, socket, head) => {
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  if (head.length) socket.write(head);
  socket.pipe(socket);
});
server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
)JS";

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/ne-proxy-test-XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
    std::string file(const std::string& name, const std::string& content) const {
        std::string p = path_ + "/" + name;
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// Reads one line from fd within timeout; "" on timeout or EOF.
std::string read_line(int fd, std::chrono::milliseconds timeout) {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return "";
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char c;
        if (::read(fd, &c, 1) != 1) return "";
        if (c == '\n') return line;
        line += c;
    }
}

// A Node backend on a free port; prints "listening PORT", and "held" for each /hold.
class NodeBackend {
public:
    NodeBackend(const std::string& script, const std::string& name) {
        int out[2];
        EXPECT_EQ(pipe(out), 0);
        pid_ = fork();
        if (pid_ == 0) {
            dup2(out[1], 1);
            close(out[0]);
            close(out[1]);
            execlp("node", "node", script.c_str(), name.c_str(), nullptr);
            _exit(127);
        }
        close(out[1]);
        out_ = out[0];
        std::string line = read_line(out_, 10s);
        EXPECT_EQ(line.rfind("listening ", 0), 0u) << "node backend did not start: '" << line << "'";
        if (line.size() > 10) port_ = std::stoi(line.substr(10));
    }
    ~NodeBackend() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (out_ >= 0) close(out_);
    }
    int port() const { return port_; }
    std::string next_line(std::chrono::milliseconds t = 10s) { return read_line(out_, t); }

private:
    pid_t pid_ = -1;
    int out_ = -1;
    int port_ = 0;
};

struct HttpResult {
    int status = 0;
    std::string head;   // the final response's head
    std::string body;
    bool has_header(const std::string& line) const { return head.find("\r\n" + line + "\r\n") != std::string::npos; }
    std::string header(const std::string& name) const {
        std::string lower_head = head;
        for (auto& c : lower_head) c = static_cast<char>(tolower(c));
        std::string key = "\r\n" + name + ": ";
        for (auto& c : key) c = static_cast<char>(tolower(c));
        auto at = lower_head.find(key);
        if (at == std::string::npos) return "";
        auto start = at + key.size();
        return head.substr(start, head.find("\r\n", start) - start);
    }
};

// Splits a raw HTTP/1.1 reply, skipping interim (1xx other than 101) heads.
HttpResult split_reply(const std::string& raw) {
    HttpResult r;
    size_t at = 0;
    while (true) {
        size_t end = raw.find("\r\n\r\n", at);
        if (end == std::string::npos || raw.compare(at, 5, "HTTP/") != 0) return r;
        r.head = raw.substr(at, end + 2 - at);
        r.status = std::atoi(raw.c_str() + at + 9);
        at = end + 4;
        if (r.status >= 200 || r.status == 101) break;
    }
    r.body = raw.substr(at);
    return r;
}

// curl with -i; args are passed to the shell as written.
HttpResult curl(const std::string& args) {
    std::string cmd = "curl -s -S -i --max-time 20 " + args + " 2>&1";
    FILE* f = popen(cmd.c_str(), "r");
    std::string out;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    pclose(f);
    return split_reply(out);
}

int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
}

bool can_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return ok;
}

void send_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

// Reads until the peer closes, `until` appears, or timeout. `closed` tells which.
std::string recv_some(int fd, std::chrono::milliseconds timeout, const std::string& until = "", bool* closed = nullptr) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    if (closed) *closed = false;
    while (until.empty() || out.find(until) == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[65536];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            if (closed) *closed = true;
            break;
        }
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

// Exactly n bytes (fewer on timeout or close).
std::string recv_n(int fd, size_t n, std::chrono::milliseconds timeout) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[65536];
        ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
        if (got <= 0) break;
        out.append(buf, static_cast<size_t>(got));
    }
    return out;
}

// One request on a fresh connection; returns the reply and whether the proxy closed.
std::string raw_exchange(int port, const std::string& request, bool* closed = nullptr) {
    int fd = connect_to(port);
    send_all(fd, request);
    bool c = false;
    std::string reply = recv_some(fd, 5s, "", &c);
    close(fd);
    if (closed) *closed = c;
    return reply;
}

int dead_port() {
    auto fd = net::listen_tcp("127.0.0.1", 0);
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(fd->get(), reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);  // closed again when fd goes: nothing listens there
}

// ---- the fixture ---------------------------------------------------------------------------

class ProxyRelayTest : public ::testing::Test {
protected:
    void SetUp() override {
        script_ = dir_.file("backend.js", kBackendJs);
        auto lfd = net::listen_tcp("127.0.0.1", 0);
        ASSERT_TRUE(lfd.ok()) << lfd.error().message;
        sockaddr_in a{};
        socklen_t len = sizeof a;
        getsockname(lfd->get(), reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        address_ = "127.0.0.1:" + std::to_string(port_);

        int sv[2];
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        pid_ = fork();
        if (pid_ == 0) {
            close(sv[0]);
            spdlog::set_level(spdlog::level::warn);
            ipc::ProxyLaunch launch;
            launch.channel_fd = sv[1];
            launch.listeners = {{address_, lfd->release()}};
            int rc = run_proxy_worker(launch);
            _exit(rc);
        }
        close(sv[1]);
        channel_ = sv[0];
        send(ipc::ProxyConfig{config::to_json(make_config())});
    }

    void TearDown() override {
        if (pid_ > 0) {
            send(ipc::Quit{});
            auto status = wait_exit(10s);
            EXPECT_TRUE(status.has_value()) << "the proxy worker did not exit after Quit";
            if (status) EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status;
        }
        if (channel_ >= 0) close(channel_);
    }

    // The worker's wait status once it exited within `timeout`; killed (and nullopt) if not.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
        int status = 0;
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (waitpid(pid_, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                kill(pid_, SIGKILL);
                waitpid(pid_, &status, 0);
                pid_ = -1;
                return std::nullopt;
            }
            std::this_thread::sleep_for(20ms);
        }
        pid_ = -1;
        return status;
    }

    config::Config make_config() const {
        config::Config c;
        config::Server big;
        big.listen.push_back({"127.0.0.1", port_, {}});
        big.headers = {{"X-Content-Type-Options", "nosniff"}};
        big.client_max_body_size = 64ull << 20;
        config::Location root;
        root.path = "/";
        root.app = "api";
        root.queue_timeout = 5s;
        config::Location ghost;
        ghost.path = "/ghost/";
        ghost.app = "ghost";
        ghost.queue_timeout = 200ms;
        config::Location impatient;
        impatient.path = "/short/";
        impatient.app = "api";
        impatient.read_timeout = 300ms;
        big.locations = {root, ghost, impatient};
        config::Server small = big;
        small.server_name = {"small.test"};
        small.client_max_body_size = 1024;
        small.locations = {root};
        c.servers = {big, small};
        return c;
    }

    void send(const ipc::Message& m) { ASSERT_TRUE(ipc::write_frame(channel_, ipc::encode(m)).ok()); }

    // Announces backends (of app "api", instances 0, 1, ...) in one write, so the proxy
    // applies them together, before it reads any request sent afterwards.
    std::vector<uint64_t> add_backends(const std::vector<int>& ports) {
        std::string batch;
        std::vector<uint64_t> ids;
        for (size_t i = 0; i < ports.size(); ++i) {
            ids.push_back(next_id_++);
            std::string frame = ipc::encode(ipc::BackendAdd{ids.back(), "api", static_cast<int>(i), "127.0.0.1", ports[i]});
            uint32_t len = htonl(static_cast<uint32_t>(frame.size()));
            batch.append(reinterpret_cast<const char*>(&len), sizeof len).append(frame);
        }
        send_all(channel_, batch);
        return ids;
    }
    uint64_t add_backend(int port) { return add_backends({port})[0]; }

    // The next message other than Stats, or nullopt after `timeout`.
    std::optional<ipc::Message> next_message(std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (true) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            auto frame = ipc::read_frame(channel_, static_cast<int>(left.count()));
            if (!frame) return std::nullopt;
            auto msg = ipc::decode(*frame);
            EXPECT_TRUE(msg.ok());
            if (!msg) return std::nullopt;
            if (auto* s = std::get_if<ipc::Stats>(&*msg)) {
                last_stats_ = *s;
                continue;
            }
            return *msg;
        }
    }

    // Waits for a Stats report satisfying pred.
    bool wait_stats(const std::function<bool(const ipc::Stats&)>& pred, std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            auto frame = ipc::read_frame(channel_, 1500);
            if (!frame) continue;
            auto msg = ipc::decode(*frame);
            if (msg && std::holds_alternative<ipc::Stats>(*msg) && pred(std::get<ipc::Stats>(*msg))) return true;
        }
        return false;
    }

    std::string url(const std::string& path) const { return "'http://" + address_ + path + "'"; }

    // A GET through the proxy that is known to have been served by a backend: proves the
    // BackendAdd sent before it has been applied.
    json get_json(const std::string& path, const std::string& extra = "") {
        auto r = curl(extra + " " + url(path));
        EXPECT_EQ(r.status, 200) << r.head << r.body;
        auto j = json::parse(r.body, nullptr, false);
        EXPECT_FALSE(j.is_discarded()) << r.body;
        return j;
    }

    TempDir dir_;
    std::string script_;
    int port_ = 0;
    std::string address_;
    pid_t pid_ = -1;
    int channel_ = -1;
    uint64_t next_id_ = 1;
    ipc::Stats last_stats_;
};

// ---- tests ---------------------------------------------------------------------------------

TEST_F(ProxyRelayTest, RoundRobinAcrossTwoBackends) {
    NodeBackend a(script_, "A"), b(script_, "B");
    add_backends({a.port(), b.port()});
    std::vector<std::string> names;
    for (int i = 0; i < 4; ++i) names.push_back(get_json("/echo")["name"]);
    EXPECT_EQ(names, (std::vector<std::string>{"A", "B", "A", "B"}));
}

TEST_F(ProxyRelayTest, HeadersAreForwardedAndRequestIdEchoed) {
    NodeBackend a(script_, "A");
    add_backend(a.port());
    auto r = curl("-H 'X-Forwarded-For: 1.2.3.4' -H 'Connection: keep-alive, X-Secret' -H 'X-Secret: s' "
                  "-H 'Keep-Alive: timeout=5' -H 'X-Real-IP: 6.6.6.6' " + url("/echo?q=1"));
    ASSERT_EQ(r.status, 200) << r.head;
    auto j = json::parse(r.body);
    auto h = j["headers"];
    EXPECT_EQ(j["url"], "/echo?q=1");
    EXPECT_EQ(h["host"], address_);
    EXPECT_EQ(h["x-forwarded-for"], "1.2.3.4, 127.0.0.1");
    EXPECT_EQ(h["x-real-ip"], "127.0.0.1");
    EXPECT_EQ(h["x-forwarded-proto"], "http");
    EXPECT_FALSE(h.contains("x-secret"));
    EXPECT_FALSE(h.contains("keep-alive"));
    std::string id = h["x-request-id"];
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(r.header("X-Request-ID"), id);
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");

    auto mine = curl("-H 'X-Request-ID: my-id-42' " + url("/echo"));
    EXPECT_EQ(json::parse(mine.body)["headers"]["x-request-id"], "my-id-42");
    EXPECT_EQ(mine.header("X-Request-ID"), "my-id-42");
}

TEST_F(ProxyRelayTest, ChunkedBodiesRelayedBothWays) {
    NodeBackend a(script_, "A");
    add_backend(a.port());
    std::string payload;
    for (int i = 0; i < 300; ++i) payload += "line " + std::to_string(i) + "\n";
    std::string file = dir_.file("payload.txt", payload);
    auto up = curl("-H 'Transfer-Encoding: chunked' --data-binary @" + file + " " + url("/echo"));
    ASSERT_EQ(up.status, 200) << up.head;
    auto j = json::parse(up.body);
    EXPECT_EQ(j["headers"]["transfer-encoding"], "chunked");
    EXPECT_EQ(j["body"], payload);

    auto down = curl(url("/chunked"));
    EXPECT_EQ(down.status, 200);
    EXPECT_EQ(down.header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(down.body, "part1-part2-part3");

    // An HTTP/1.0 client cannot take chunks: the body ends with the connection.
    bool closed = false;
    auto old = split_reply(raw_exchange(port_, "GET /chunked HTTP/1.0\r\n\r\n", &closed));
    EXPECT_EQ(old.status, 200);
    EXPECT_EQ(old.body, "part1-part2-part3");
    EXPECT_EQ(old.header("Transfer-Encoding"), "");
    EXPECT_TRUE(closed);

    // Without a Host of its own, the upstream still gets one (Node refuses HTTP/1.1 without).
    auto no_host = split_reply(raw_exchange(port_, "GET /echo HTTP/1.0\r\n\r\n"));
    ASSERT_EQ(no_host.status, 200);
    EXPECT_EQ(json::parse(no_host.body)["headers"]["host"], address_);
}

TEST_F(ProxyRelayTest, LargeBodiesStreamBothWaysAtOnce) {
    NodeBackend a(script_, "A");
    add_backend(a.port());
    std::string big(8u << 20, '\0');
    std::mt19937 rng(7);
    for (auto& c : big) c = static_cast<char>(rng());
    std::string in = dir_.file("big.bin", big);
    std::string out = dir_.path() + "/big.out";
    // /pipe answers while it is still reading: both directions flow at the same time.
    FILE* f = popen(("curl -s -S --max-time 60 -o " + out + " -w '%{http_code}' --data-binary @" + in + " " +
                     url("/pipe")).c_str(), "r");
    char code[8] = {};
    ASSERT_TRUE(fgets(code, sizeof code, f));
    pclose(f);
    EXPECT_STREQ(code, "200");
    std::ifstream got(out, std::ios::binary);
    std::string echoed((std::istreambuf_iterator<char>(got)), std::istreambuf_iterator<char>());
    EXPECT_EQ(echoed.size(), big.size());
    EXPECT_TRUE(echoed == big);
}

TEST_F(ProxyRelayTest, NoBackendGets503AfterQueueTimeout) {
    auto r = curl(url("/ghost/x"));
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(r.header("X-Request-ID").size(), 32u);
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_NE(r.body.find("503"), std::string::npos);
}

TEST_F(ProxyRelayTest, QueuedRequestIsServedWhenABackendArrives) {
    NodeBackend a(script_, "A");
    int fd = connect_to(port_);
    send_all(fd, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    // The proxy reports the connection: the request is inside, waiting for "api".
    ASSERT_TRUE(wait_stats([](const ipc::Stats& s) { return s.connections >= 1; }, 5s));
    EXPECT_EQ(recv_some(fd, 200ms), "");  // nothing answered yet
    add_backend(a.port());
    auto r = split_reply(recv_some(fd, 5s, "}"));
    close(fd);
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("\"name\":\"A\""), std::string::npos) << r.body;
}

TEST_F(ProxyRelayTest, DrainDoneOnlyAfterInFlightRequestFinished) {
    NodeBackend a(script_, "A"), b(script_, "B");
    uint64_t ida = add_backends({a.port(), b.port()})[0];
    EXPECT_EQ(get_json("/echo")["name"], "A");  // the next pick is B
    EXPECT_EQ(get_json("/echo")["name"], "B");  // ... and then A: the held one

    auto held = std::async(std::launch::async, [&] { return curl(url("/hold")); });
    ASSERT_EQ(a.next_line(), "held");
    send(ipc::BackendDrain{ida});
    // A request is in flight to A: no DrainDone yet.
    EXPECT_FALSE(next_message(500ms).has_value());
    // New requests avoid the draining backend.
    for (int i = 0; i < 3; ++i) EXPECT_EQ(get_json("/echo")["name"], "B");
    EXPECT_FALSE(next_message(100ms).has_value());

    // Let the held request finish (asking A directly, not through the proxy).
    auto release = curl("'http://127.0.0.1:" + std::to_string(a.port()) + "/release'");
    EXPECT_EQ(release.status, 200);
    auto r = held.get();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "A");
    auto msg = next_message(5s);
    ASSERT_TRUE(msg.has_value());
    ASSERT_TRUE(std::holds_alternative<ipc::DrainDone>(*msg));
    EXPECT_EQ(std::get<ipc::DrainDone>(*msg).id, ida);
}

TEST_F(ProxyRelayTest, DrainOfIdleBackendIsDoneAtOnce) {
    NodeBackend a(script_, "A");
    uint64_t ida = add_backend(a.port());
    get_json("/echo");  // leaves an idle keep-alive connection to A behind
    send(ipc::BackendDrain{ida});
    auto msg = next_message(5s);
    ASSERT_TRUE(msg.has_value());
    ASSERT_TRUE(std::holds_alternative<ipc::DrainDone>(*msg));
    EXPECT_EQ(std::get<ipc::DrainDone>(*msg).id, ida);
}

TEST_F(ProxyRelayTest, GetIsRetriedWhenABackendRefuses) {
    NodeBackend b(script_, "B");
    add_backends({dead_port(), b.port()});
    for (int i = 0; i < 4; ++i) EXPECT_EQ(get_json("/echo")["name"], "B");
}

TEST_F(ProxyRelayTest, AllBackendsRefusing502) {
    add_backends({dead_port(), dead_port()});
    auto r = curl(url("/echo"));
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.header("X-Request-ID").size(), 32u);
}

TEST_F(ProxyRelayTest, ReadTimeoutIs504) {
    NodeBackend a(script_, "A");
    add_backend(a.port());
    auto r = curl(url("/short/slow?ms=3000"));
    EXPECT_EQ(r.status, 504);
}

TEST_F(ProxyRelayTest, ContentLengthWithTransferEncodingIs400AndCloses) {
    bool closed = false;
    auto r = split_reply(raw_exchange(
        port_, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        &closed));
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(r.has_header("Connection: close"));
    EXPECT_TRUE(closed);
}

TEST_F(ProxyRelayTest, OversizedRequestsAreRefused) {
    bool closed = false;
    std::string many = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 101; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
    EXPECT_EQ(split_reply(raw_exchange(port_, many + "\r\n", &closed)).status, 431);
    EXPECT_TRUE(closed);
    std::string fat = "GET / HTTP/1.1\r\nHost: x\r\nX-Fat: " + std::string(17000, 'f') + "\r\n\r\n";
    EXPECT_EQ(split_reply(raw_exchange(port_, fat)).status, 431);
    std::string long_uri = "GET /" + std::string(9000, 'u') + " HTTP/1.1\r\nHost: x\r\n\r\n";
    EXPECT_EQ(split_reply(raw_exchange(port_, long_uri)).status, 414);

    // small.test takes 1 KiB bodies: known up front from Content-Length ...
    auto cl = curl("-H 'Host: small.test' --data-binary @" + dir_.file("2k", std::string(2048, 'x')) + " " +
                   url("/echo"));
    EXPECT_EQ(cl.status, 413);
    // ... or found while streaming a chunked one.
    NodeBackend a(script_, "A");
    add_backend(a.port());
    auto chunked = curl("-H 'Host: small.test' -H 'Transfer-Encoding: chunked' --data-binary @" +
                        dir_.file("4k", std::string(4096, 'y')) + " " + url("/echo"));
    EXPECT_EQ(chunked.status, 413);
    // Under the limit it passes.
    auto fine = curl("-H 'Host: small.test' --data-binary 'small body' " + url("/echo"));
    EXPECT_EQ(fine.status, 200);
    EXPECT_EQ(json::parse(fine.body)["body"], "small body");
}

TEST_F(ProxyRelayTest, PipelinedRequestsAnsweredInOrder) {
    NodeBackend a(script_, "A");
    add_backend(a.port());
    int fd = connect_to(port_);
    send_all(fd, "GET /echo?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /nope-but-fine?n=2 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /echo?n=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    bool closed = false;
    std::string all = recv_some(fd, 10s, "", &closed);
    close(fd);
    EXPECT_TRUE(closed);
    auto p1 = all.find("\"url\":\"/echo?n=1\"");
    auto p2 = all.find("\"url\":\"/nope-but-fine?n=2\"");
    auto p3 = all.find("\"url\":\"/echo?n=3\"");
    ASSERT_NE(p1, std::string::npos) << all;
    ASSERT_NE(p2, std::string::npos) << all;
    ASSERT_NE(p3, std::string::npos) << all;
    EXPECT_LT(p1, p2);
    EXPECT_LT(p2, p3);
}

TEST_F(ProxyRelayTest, WebSocketUpgradeBecomesATunnel) {
    NodeBackend a(script_, "A");
    add_backend(a.port());
    int fd = connect_to(port_);
    send_all(fd, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    std::string head = recv_some(fd, 5s, "\r\n\r\n");
    auto r = split_reply(head);
    ASSERT_EQ(r.status, 101) << head;
    EXPECT_EQ(r.header("Upgrade"), "websocket");
    EXPECT_TRUE(r.has_header("Connection: upgrade"));
    EXPECT_EQ(r.body, "");
    for (std::string msg : {std::string("hello"), std::string(300000, 'w')}) {
        // Big enough to pass the watermarks: the echo comes back while we still send.
        auto sender = std::async(std::launch::async, [&] { send_all(fd, msg); });
        std::string back = recv_n(fd, msg.size(), 10s);
        sender.get();
        EXPECT_EQ(back.size(), msg.size());
        EXPECT_TRUE(back == msg);
    }
    // Closing one side closes the other.
    shutdown(fd, SHUT_WR);
    bool closed = false;
    recv_some(fd, 5s, "", &closed);
    EXPECT_TRUE(closed);
    close(fd);
}

TEST_F(ProxyRelayTest, UpstreamConnectionsAreReused) {
    NodeBackend a(script_, "A");
    add_backend(a.port());
    // Separate client connections, one after the other: the second request rides the
    // idle keep-alive connection the first one left behind.
    int first = get_json("/echo")["remotePort"];
    int second = get_json("/echo")["remotePort"];
    EXPECT_EQ(first, second);
}

TEST_F(ProxyRelayTest, SlowReaderGetsTheWholeBody) {
    NodeBackend a(script_, "A");
    add_backend(a.port());
    int fd = connect_to(port_);
    send_all(fd, "GET /big?mb=8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    std::string head = recv_some(fd, 5s, "\r\n\r\n");
    auto r = split_reply(head);
    ASSERT_EQ(r.status, 200);
    const size_t total = 8u << 20;
    EXPECT_EQ(r.header("Content-Length"), std::to_string(total));
    // Stop reading for a while: the proxy's output to us fills past its watermark and it
    // must stop reading the backend, then resume once we read again.
    std::this_thread::sleep_for(300ms);
    std::string body = r.body + recv_n(fd, total - r.body.size(), 30s);
    close(fd);
    ASSERT_EQ(body.size(), total);
    bool pattern_ok = true;
    for (size_t i = 0; i < body.size() && pattern_ok; i += 4099) pattern_ok = body[i] == "abcdefgh"[i % 8];
    EXPECT_TRUE(pattern_ok);
}

TEST_F(ProxyRelayTest, NewConfigAppliesToNewRequests) {
    NodeBackend a(script_, "A");
    add_backend(a.port());
    EXPECT_EQ(curl(url("/ghost/x")).status, 503);
    auto c = make_config();
    c.servers[0].locations[1].app = "api";  // /ghost/ now goes to the app
    send(ipc::ProxyConfig{config::to_json(c)});
    // The channel is read before the next connection's request: the new routing applies.
    EXPECT_EQ(get_json("/ghost/x")["name"], "A");
}

TEST_F(ProxyRelayTest, QuitLetsTheRequestInFlightFinish) {
    NodeBackend a(script_, "A");
    add_backend(a.port());
    auto held = std::async(std::launch::async, [&] { return curl(url("/hold")); });
    ASSERT_EQ(a.next_line(), "held");
    send(ipc::Quit{});
    // Listening stops: the worker held the only copy of the socket, so connecting fails.
    bool refused = false;
    for (int i = 0; i < 250 && !refused; ++i) {
        refused = !can_connect(port_);
        if (!refused) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(refused);
    EXPECT_EQ(curl("'http://127.0.0.1:" + std::to_string(a.port()) + "/release'").status, 200);
    auto r = held.get();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "A");
    EXPECT_TRUE(r.has_header("Connection: close"));
    auto status = wait_exit(10s);
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST_F(ProxyRelayTest, ExitsWhenTheMasterGoesAway) {
    close(channel_);
    channel_ = -1;
    auto status = wait_exit(10s);
    ASSERT_TRUE(status.has_value()) << "still running without its master";
    EXPECT_TRUE(WIFEXITED(*status));
}

}  // namespace
}  // namespace ne::proxy
