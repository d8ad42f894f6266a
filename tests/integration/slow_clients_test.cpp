// Slow and abusive clients: slowloris (a head a byte at a time), a stalled body, a reader that
// stops reading, thousands of idle connections, and a flood beyond the proxy's fd limit. Each
// must be cut off by its timeout or limit while a normal client, on other connections, keeps
// getting answers. Timeouts are set short (2 s) and every cut-off is asserted within a
// generous bound (3x the timeout), never as a measured latency.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <span>
#include <sstream>

#include "integration/backend_stall.h"
#include "integration/proxied_app_test.h"

namespace ne::itest {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// client_header_timeout, client_body_timeout and keepalive_timeout in the config below.
constexpr auto kTimeout = 2s;
// A connection the proxy must cut off is closed before this much time passes.
constexpr auto kCutOff = 3 * kTimeout;

constexpr const char* kSlowClientsConfig = R"([proxy]
access_log = "off"
workers = ${WORKERS}

[[apps]]
name = "bulk"
script = "${APPS}/bulk.js"
port = ${PORT}

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]
client_header_timeout = "2s"
client_body_timeout = "2s"
keepalive_timeout = "2s"

[[servers.locations]]
path = "/"
app = "bulk"
)";

// Starts connecting a client socket to 127.0.0.1:port; with `wait`, returns once connected
// (an invalid fd, and a test failure, if that fails).
UniqueFd connect_to(int port, bool wait = true) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (wait ? 0 : SOCK_NONBLOCK), 0));
    if (!fd) {
        ADD_FAILURE() << Error::from_errno("socket").message;
        return fd;
    }
    timeval tv{10, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (!connect_loopback(fd.get(), port) && !(!wait && errno == EINPROGRESS)) {
        ADD_FAILURE() << Error::from_errno("connect 127.0.0.1:" + std::to_string(port)).message;
        fd.reset();
    }
    return fd;
}

bool send_all(int fd, std::string_view bytes) {
    for (size_t sent = 0; sent < bytes.size();) {
        ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        sent += static_cast<size_t>(n);
    }
    return true;
}

// A client connection the test expects the proxy to close, and when it did.
struct Watched {
    UniqueFd fd;
    bool connecting = false;                  // a non-blocking connect not yet done
    Clock::time_point idle_since;             // from here the proxy's timeout runs
    std::optional<Clock::time_point> closed;  // when the close (EOF or reset) was seen
    std::string received;
};

// Connections opened without waiting: under a flood the listen queue overflows and the kernel
// retries dropped SYNs a second or more later, which must not hold up the watching. Each
// connection's idle time starts when watch() sees it connected.
std::vector<Watched> open_without_waiting(int port, size_t n) {
    std::vector<Watched> conns(n);
    for (auto& c : conns) {
        c.fd = connect_to(port, false);
        c.connecting = true;
        if (!c.fd) c.closed = Clock::now();
    }
    return conns;
}

bool still_connecting(std::span<const Watched> conns) {
    return std::any_of(conns.begin(), conns.end(), [](const Watched& c) { return c.connecting && !c.closed; });
}

// Notes the connections that got connected, keeps what the others send, and notes the ones
// that closed; waits at most `slice`, never past `until`. True once all are closed.
bool watch(std::span<Watched> conns, Clock::time_point until, milliseconds slice = 100ms) {
    std::vector<pollfd> fds;
    std::vector<Watched*> open;
    for (auto& c : conns)
        if (!c.closed) {
            fds.push_back({c.fd.get(), static_cast<short>(c.connecting ? POLLOUT : POLLIN), 0});
            open.push_back(&c);
        }
    if (open.empty()) return true;
    const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now());
    if (left.count() < 0) return false;
    if (::poll(fds.data(), fds.size(), static_cast<int>(std::min(left, slice).count())) <= 0) return false;
    for (size_t i = 0; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        if (open[i]->connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) ADD_FAILURE() << Error::from_errno("connect", err).message;
            open[i]->connecting = false;
            open[i]->idle_since = Clock::now();
            if (err != 0) open[i]->closed = open[i]->idle_since;
            continue;
        }
        char buf[4096];
        ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) open[i]->received.append(buf, static_cast<size_t>(n));
        else if (n == 0 || (errno != EAGAIN && errno != EINTR)) open[i]->closed = Clock::now();
    }
    return std::all_of(conns.begin(), conns.end(), [](const Watched& c) { return c.closed.has_value(); });
}

// Watches until every connection closed or `until` passed.
void watch_until(std::span<Watched> conns, Clock::time_point until) {
    while (!watch(conns, until) && Clock::now() < until) {
    }
}

// How each connection ended, for assertion messages: "closed after 2013 ms" or "still open".
std::string ending(const Watched& c) {
    if (c.connecting) return "never connected";
    if (!c.closed) return "still open";
    return "closed after " +
           std::to_string(std::chrono::duration_cast<milliseconds>(*c.closed - c.idle_since).count()) + " ms";
}

// Every connection was closed, each within kCutOff of the moment it went idle.
void expect_all_cut_off(std::span<const Watched> conns, const std::string& what) {
    size_t late = 0;
    const Watched* example = nullptr;
    for (const auto& c : conns)
        if (c.connecting || !c.closed || *c.closed - c.idle_since >= kCutOff) {
            ++late;
            example = &c;
        }
    EXPECT_EQ(late, 0u) << late << " of " << conns.size() << " " << what << " not closed within "
                        << milliseconds(kCutOff).count() << " ms, e.g. " << (example ? ending(*example) : "");
}

// A response head and Content-Length body read from a blocking socket; the whole of it.
Result<std::string> read_response(int fd) {
    std::string got;
    char buf[4096];
    for (;;) {
        size_t head_end = got.find("\r\n\r\n");
        if (head_end != std::string::npos) {
            size_t cl = got.find("Content-Length: ");
            size_t len = 0;
            if (cl != std::string::npos && cl < head_end) std::from_chars(got.data() + cl + 16, got.data() + head_end, len);
            if (got.size() >= head_end + 4 + len) return got;
        }
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return Error::from_errno("read response (got " + std::to_string(got.size()) + " bytes)");
        got.append(buf, static_cast<size_t>(n));
    }
}

// Seconds of CPU the process has used (user + system), from /proc/<pid>/stat.
double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(in, line);
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string skip;
    for (int field = 3; field < 14; ++field) rest >> skip;  // fields 3..13
    double utime = 0, stime = 0;
    rest >> utime >> stime;
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The kernel's count of connections dropped because a listen queue was full (TcpExt
// ListenOverflows in /proc/net/netstat): machine-wide, so only a hint in failure messages.
long listen_overflows() {
    std::ifstream in("/proc/net/netstat");
    std::string names, values;
    while (std::getline(in, names) && std::getline(in, values)) {
        if (names.rfind("TcpExt:", 0) != 0) continue;
        std::istringstream n(names), v(values);
        std::string name, value;
        while (n >> name && v >> value)
            if (name == "ListenOverflows") return std::stol(value);
    }
    return -1;
}

std::string comm(pid_t pid) {
    std::string name;
    std::getline(std::ifstream("/proc/" + std::to_string(pid) + "/comm"), name);
    return name;
}

class SlowClientsTest : public ProxiedAppTest {
protected:
    void start_bulk(int proxy_workers = 2) { start(kSlowClientsConfig, {{"WORKERS", std::to_string(proxy_workers)}}); }

    // Normal traffic on its own connections, running until the returned loop is stopped.
    std::unique_ptr<LoadLoop> normal_clients() {
        auto load = std::make_unique<LoadLoop>(listen_, "/normal", 100000, 20ms);
        load->start();
        EXPECT_TRUE(wait_until([&] { return load->snapshot().ok >= 5; }, 10s)) << load->snapshot().describe();
        return load;
    }

    // The normal clients got answers while the abuse went on, and none failed.
    void expect_served_throughout(LoadLoop& load, int ok_before) {
        auto stats = load.stop();
        EXPECT_EQ(stats.failed, 0) << stats.describe();
        EXPECT_GT(stats.ok, ok_before) << "no normal request was answered during the abuse: " << stats.describe();
        std::cout << "normal clients during the abuse: " << stats.ok - ok_before << " answered, " << stats.failed
                  << " failed\n";
    }
};

TEST_F(SlowClientsTest, SlowlorisHeadsSentAByteAtATimeAreCutOffByTheHeaderTimeout) {
    ASSERT_NO_FATAL_FAILURE(start_bulk());
    auto load = normal_clients();
    const int ok_before = load->snapshot().ok;

    // A head that would take minutes at this pace: it never completes.
    const std::string head = "GET /slow HTTP/1.1\r\nHost: h.test\r\nX-Slow: " + std::string(1000, 's');
    std::vector<Watched> slow(50);
    for (auto& c : slow) {
        c.fd = connect_to(listen_);
        c.idle_since = Clock::now();
        ASSERT_TRUE(c.fd.valid());
    }
    const auto give_up = Clock::now() + kCutOff + 2s;
    for (size_t next = 0; next < head.size() && !watch(slow, give_up, 100ms) && Clock::now() < give_up; ++next)
        for (auto& c : slow)
            if (!c.closed && !send_all(c.fd.get(), head.substr(next, 1))) c.closed = Clock::now();

    expect_all_cut_off(slow, "slowloris connections");
    for (const auto& c : slow)
        if (!c.received.empty()) EXPECT_EQ(c.received.substr(0, 12), "HTTP/1.1 408") << c.received;
    expect_served_throughout(*load, ok_before);
}

TEST_F(SlowClientsTest, StalledRequestBodyIsCutOffByTheBodyTimeoutWith408) {
    ASSERT_NO_FATAL_FAILURE(start_bulk());
    auto load = normal_clients();
    const int ok_before = load->snapshot().ok;

    std::vector<Watched> slow(1);
    slow[0].fd = connect_to(listen_);
    ASSERT_TRUE(slow[0].fd.valid());
    ASSERT_TRUE(send_all(slow[0].fd.get(), "POST /upload HTTP/1.1\r\nHost: h.test\r\nContent-Length: 100000\r\n\r\n" +
                                               std::string(1000, 'b')));
    slow[0].idle_since = Clock::now();
    watch_until(slow, slow[0].idle_since + kCutOff + 2s);

    expect_all_cut_off(slow, "stalled uploads");
    EXPECT_EQ(slow[0].received.substr(0, 12), "HTTP/1.1 408") << slow[0].received;
    json progress = get_json(app_port_, "/progress");
    EXPECT_EQ(progress.value("uploads_started", 0), 1) << progress.dump();
    EXPECT_EQ(progress.value("uploads_completed", -1), 0) << "the backend got a whole body " << progress.dump();
    expect_served_throughout(*load, ok_before);
}

TEST_F(SlowClientsTest, ReaderThatStopsReadingHoldsBackTheBackendNotTheProxyMemory) {
    ASSERT_NO_FATAL_FAILURE(start_bulk());
    auto load = normal_clients();
    const int ok_before = load->snapshot().ok;

    constexpr size_t kMiB = 1 << 20;
    constexpr size_t kBodyMiB = 128;
    UniqueFd reader = connect_to(listen_);
    ASSERT_TRUE(reader.valid());
    ASSERT_TRUE(send_all(reader.get(), "GET /bulk?mb=" + std::to_string(kBodyMiB) + " HTTP/1.1\r\nHost: h.test\r\n\r\n"));

    // The backend writes only what the proxy accepts; with back-pressure that stops growing
    // at a few socket buffers, without it the whole body ends up in the proxy's memory.
    // (The proxy also cuts such a reader off after send_timeout, 60 s here: see below.)
    const BackendStall stall = wait_for_backend_stall(app_port_, "bulk_written", "bulk_done", 30s);
    ASSERT_TRUE(stall.settled) << "the backend kept writing: " << stall.written << " bytes";
    std::cout << "backend writes stalled at " << stall.written / kMiB << " MiB of " << kBodyMiB << " MiB\n";
    RecordProperty("stalled_at_bytes", std::to_string(stall.written));
    EXPECT_FALSE(stall.done) << "the proxy took the whole body from the backend while the client read nothing";
    EXPECT_LT(stall.written, kBodyMiB * kMiB / 4);
    expect_served_throughout(*load, ok_before);

    // Once the reader reads, it gets every byte.
    size_t got = 0, expected = 0;
    std::string head;
    char buf[65536];
    for (;;) {
        ssize_t n = ::recv(reader.get(), buf, sizeof buf, 0);
        if (n <= 0) break;
        if (expected == 0) {
            head.append(buf, static_cast<size_t>(n));
            size_t end = head.find("\r\n\r\n");
            if (end == std::string::npos) continue;
            expected = end + 4 + kBodyMiB * kMiB;
            got = head.size();
        } else {
            got += static_cast<size_t>(n);
        }
        if (got >= expected) break;
    }
    EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 200") << head.substr(0, 200);
    EXPECT_EQ(got, expected) << "the slow reader got a truncated body";
}

TEST_F(SlowClientsTest, AReaderThatStopsReadingIsCutOffAfterSendTimeout) {
    std::string config = kSlowClientsConfig;
    config.insert(config.find("keepalive_timeout"), "send_timeout = \"2s\"\n");
    ASSERT_NO_FATAL_FAILURE(start(config, {{"WORKERS", "1"}}));
    UniqueFd reader = connect_to(listen_);
    ASSERT_TRUE(reader.valid());
    ASSERT_TRUE(send_all(reader.get(), "GET /bulk?mb=64 HTTP/1.1\r\nHost: h.test\r\n\r\n"));
    // Nothing is read: once the proxy's writes have made no progress for 2 s it closes the
    // client, and with it the app's connection.
    EXPECT_TRUE(wait_until([&] { return get_json(app_port_, "/progress").value("bulk_cut", false); }, kCutOff))
        << get_json(app_port_, "/progress").dump();
    // What reaches the reader now is what was in flight, then the end: a truncated answer.
    const timeval bound{5, 0};   // a connection left open would block the reads below forever
    ::setsockopt(reader.get(), SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
    size_t got = 0;
    char buf[65536];
    for (ssize_t n; (n = ::recv(reader.get(), buf, sizeof buf, 0)) > 0;) got += static_cast<size_t>(n);
    EXPECT_LT(got, size_t{64} << 20);
}

TEST_F(SlowClientsTest, TwoThousandIdleConnectionsAreClosedByTheirTimeoutsWhileOthersAreServed) {
    constexpr size_t kSilent = 1800;
    constexpr size_t kKeptAlive = 200;
    rlimit lim{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
    const rlim_t needed = kSilent + kKeptAlive + 256;
    if (lim.rlim_cur < needed) {
        if (lim.rlim_max < needed) GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << lim.rlim_max << " < " << needed;
        lim.rlim_cur = needed;
        ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0) << std::strerror(errno);
    }
    ASSERT_NO_FATAL_FAILURE(start_bulk());
    auto load = normal_clients();
    const int ok_before = load->snapshot().ok;

    // Answered once, then idle on a kept-alive connection.
    std::vector<Watched> idle(kKeptAlive);
    for (size_t i = 0; i < kKeptAlive; ++i) {
        Watched& c = idle[i];
        c.fd = connect_to(listen_);
        ASSERT_TRUE(c.fd.valid()) << "connection " << i;
        ASSERT_TRUE(send_all(c.fd.get(), "GET /once HTTP/1.1\r\nHost: h.test\r\n\r\n"));
        auto r = read_response(c.fd.get());
        ASSERT_TRUE(r) << "connection " << i << ": " << r.error().message;
        ASSERT_EQ(r->substr(0, 12), "HTTP/1.1 200") << r->substr(0, 200);
        c.idle_since = Clock::now();
        watch(std::span(idle).first(i + 1), c.idle_since, 0ms);
    }
    // Never send a byte.
    const long overflows_before = listen_overflows();
    for (auto& c : open_without_waiting(listen_, kSilent)) idle.push_back(std::move(c));

    watch_until(idle, Clock::now() + 20s);
    const std::span<const Watched> all(idle);
    expect_all_cut_off(all.first(kKeptAlive), "kept-alive idle connections (keepalive_timeout)");
    // A connection the client sees as open but the proxy never accepted is one whose final
    // ACK the kernel dropped because the listen queue was full: it is accepted (and then
    // timed out) only when a retransmitted SYN-ACK finds room, seconds later.
    expect_all_cut_off(all.subspan(kKeptAlive), "silent connections (client_header_timeout)");
    if (HasFailure())
        std::cout << "listen queue overflows on this machine during the test: " << listen_overflows() - overflows_before
                  << " (a proxy listen backlog below " << kSilent << " drops connections)\n";
    expect_served_throughout(*load, ok_before);
}

TEST_F(SlowClientsTest, FloodBeyondTheProxyFdLimitIsCutOffAndServiceContinues) {
    // The daemon, and the proxy worker it forks, inherit `nodeedge start`'s fd limit: lower
    // ours only while starting it.
    // More connections than the proxy has fds, but few enough for the rest to fit in its
    // listen queue (at least 128), so the kernel drops no handshake and leaves no client
    // retrying for tens of seconds, which would test the kernel's backoff, not the proxy.
    constexpr rlim_t kProxyFds = 128;
    constexpr size_t kFlood = 200;
    rlimit saved{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    if (saved.rlim_cur < kFlood + 256) GTEST_SKIP() << "RLIMIT_NOFILE " << saved.rlim_cur << " leaves no room for the flood";
    rlimit low = saved;
    low.rlim_cur = kProxyFds;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0) << std::strerror(errno);
    start_bulk(1);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0) << std::strerror(errno);
    if (HasFatalFailure()) return;

    pid_t proxy = 0;
    for (const auto& p : descendants(daemon_pid()))
        if (comm(p.pid) == "nodeedge") proxy = p.pid;
    ASSERT_GT(proxy, 0) << "no proxy worker under the daemon " << daemon_pid();
    const auto proxy_ref = process_ref(proxy);
    ASSERT_TRUE(http_get(listen_, "/warm"));

    const double cpu_before = cpu_seconds(proxy);
    const auto flood_start = Clock::now();
    std::vector<Watched> flood = open_without_waiting(listen_, kFlood);

    // A normal client during the flood: its connection waits in the listen queue until
    // timeouts free fds, then it must be answered, not refused for lack of an upstream fd.
    HttpConnection normal(listen_, 4 * kCutOff);
    auto r = normal.get("/during-flood", {{"Connection", "close"}});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200) << r->body;
    std::cout << "a normal request during the flood was answered after "
              << std::chrono::duration_cast<milliseconds>(Clock::now() - flood_start).count() << " ms\n";

    // Connections accepted late start their timeout late: allow one cut-off per batch the
    // proxy's fd limit lets in, measured from the flood's start.
    const auto batches = (kFlood + kProxyFds - 1) / (kProxyFds / 2);
    watch_until(flood, flood_start + batches * kCutOff);
    const double wall = std::chrono::duration<double>(Clock::now() - flood_start).count();
    const double cpu = cpu_seconds(proxy) - cpu_before;
    size_t open = 0;
    for (const auto& c : flood) open += !c.closed;
    EXPECT_EQ(open, 0u) << "flood connections still open after " << wall << " s, "
                        << (still_connecting(flood) ? "some never connected" : "all connected");
    ASSERT_TRUE(proxy_ref && alive(*proxy_ref)) << "the proxy worker died";
    // Out of fds, accept() keeps failing while the listening socket stays readable; a proxy
    // that retries at once spins a core for the whole flood.
    std::cout << "proxy worker used " << cpu << " s of CPU in " << wall << " s of flood\n";
    EXPECT_LT(cpu, wall / 2) << "the proxy worker spun while out of fds";

    auto after = http_get(listen_, "/after-flood");
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_EQ(after->status, 200);
}

TEST_F(SlowClientsTest, SlowHttpTestSlowlorisAndSlowBodyLeaveServiceUp) {
    if (std::system("command -v slowhttptest >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "slowhttptest is not installed (Debian package `slowhttptest`); the hand-written "
                        "slowloris and slow-body tests above cover the same attacks";
    ASSERT_NO_FATAL_FAILURE(start_bulk());
    auto load = normal_clients();
    const int ok_before = load->snapshot().ok;
    const std::string url = "http://127.0.0.1:" + std::to_string(listen_) + "/upload";
    // -H slowloris, -B slow body: 200 connections for 10 s, a follow-up every second.
    for (const std::string mode : {"-H", "-B"}) {
        const std::string cmd = "slowhttptest " + mode + " -c 200 -r 100 -i 1 -l 10 -t POST -u " + url + " 2>&1";
        FILE* p = popen(cmd.c_str(), "r");
        ASSERT_NE(p, nullptr) << cmd;
        std::string out;
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        EXPECT_EQ(pclose(p), 0) << cmd << "\n" << out;
    }
    expect_served_throughout(*load, ok_before);
}

}  // namespace
}  // namespace ne::itest
