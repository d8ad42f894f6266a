// Upgraded connections across a config reload: one applied in place (the proxy workers take
// the new config; an open tunnel is not touched) and one that forks new proxy workers (new
// listen addresses): the old worker stops accepting but keeps its tunnel, which echoes on,
// and exits once the tunnel ends, or closes it once [proxy] worker_shutdown_timeout passed.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "integration/proxied_app_test.h"

namespace ne::itest {
namespace {

// An Upgrade gets a 101 and an echo tunnel.
constexpr const char* kTunnelEchoApp = R"(const { serve } = require('${APPS}/serve');
const server = serve();
server.on('upgrade', (req, socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  socket.pipe(socket);
});
)";

constexpr const char* kTunnelConfig = R"([proxy]
workers = 1
worker_shutdown_timeout = "${SHUTDOWN}"

[[apps]]
name = "app"
script = "${DIR}/app.js"
port = ${PORT}

[[servers]]
listen = [${LISTENS}]
headers = { X-Version = "${VERSION}" }

[[servers.locations]]
path = "/"
app = "app"
)";

class TunnelReloadTest : public ProxiedAppTest {
protected:
    std::string config(const std::string& listens, const std::string& version, const std::string& shutdown = "1h") {
        return write_file("ecosystem.toml", kTunnelConfig,
                          {{"DIR", dir()}, {"PORT", std::to_string(app_port_)}, {"LISTENS", listens},
                           {"VERSION", version}, {"SHUTDOWN", shutdown}});
    }

    // A socket through the proxy on `port`, upgraded; invalid on failure.
    UniqueFd open_tunnel(int port) {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
        if (!connect_loopback(fd.get(), port)) return {};
        const std::string upgrade = "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        if (::write(fd.get(), upgrade.data(), upgrade.size()) != static_cast<ssize_t>(upgrade.size())) return {};
        if (!read_until(fd.get(), "\r\n\r\n")) return {};
        return fd;
    }

    // Whether the peer closes `fd` within `within`.
    static bool closed_within(int fd, std::chrono::milliseconds within) {
        const auto until = std::chrono::steady_clock::now() + within;
        while (std::chrono::steady_clock::now() < until) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            char buf[256];
            if (::read(fd, buf, sizeof buf) <= 0) return true;
        }
        return false;
    }

    // X-Version of a GET on a connection of its own; "" when it fails.
    static std::string version_at(int port) {
        auto r = http_get(port, "/");
        return r ? r->header("x-version") : "";
    }

    // Sends `text` into the tunnel and reads until it came back (or 5 s passed).
    bool echoes(int fd, const std::string& text) {
        if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) return false;
        return read_until(fd, text);
    }
    bool read_until(int fd, const std::string& want) {
        std::string got;
        const auto until = std::chrono::steady_clock::now() + 5s;
        while (got.find(want) == std::string::npos && std::chrono::steady_clock::now() < until) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            char buf[4096];
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0) return false;
            got.append(buf, static_cast<size_t>(n));
        }
        return got.find(want) != std::string::npos;
    }
};

TEST_F(TunnelReloadTest, AWebSocketOpenedBeforeAReloadStillEchoesAfterIt) {
    write_file("app.js", kTunnelEchoApp);
    app_port_ = free_port();
    listen_ = free_port();
    const std::string first = "\"127.0.0.1:" + std::to_string(listen_) + "\"";
    RunResult r = run("start", config(first, "1"));
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    ASSERT_EQ(proxy_worker_processes().size(), 1u);

    UniqueFd ws = open_tunnel(listen_);
    ASSERT_TRUE(ws);
    ASSERT_TRUE(echoes(ws.get(), "before"));

    // In place: the same proxy worker, the new headers, the tunnel untouched.
    r = run("reload", config(first, "2"));
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(echoes(ws.get(), "after-in-place"));
    EXPECT_EQ(version_at(listen_), "2");

    // New listen addresses fork a new generation: the old worker keeps the tunnel.
    const int second = free_port();
    r = run("reload", config(first + ", \"127.0.0.1:" + std::to_string(second) + "\"", "3"));
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(wait_until([&] { return version_at(second) == "3"; }, 5s));
    EXPECT_EQ(version_at(listen_), "3") << "new connections: new workers";
    EXPECT_EQ(proxy_worker_processes().size(), 2u) << "the old worker waits for its tunnel";
    EXPECT_TRUE(echoes(ws.get(), "after-new-workers"));

    // The tunnel ends: the old worker goes.
    ws.reset();
    EXPECT_TRUE(wait_until([&] { return proxy_worker_processes().size() == 1; }, 5s));

    // worker_shutdown_timeout bounds the wait: a tunnel left open is closed once it passes.
    UniqueFd held = open_tunnel(listen_);
    ASSERT_TRUE(held);
    r = run("reload", config(first, "4", "1s"));
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(echoes(held.get(), "still-open"));
    EXPECT_TRUE(closed_within(held.get(), 5s));
    EXPECT_TRUE(wait_until([&] { return proxy_worker_processes().size() == 1; }, 5s));
}

}  // namespace
}  // namespace ne::itest
