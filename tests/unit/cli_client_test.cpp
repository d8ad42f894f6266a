// The client against a fake daemon: a thread that answers one request on the control socket.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "ipc/version.h"
#include "cli/client.h"
#include "ipc/channel.h"
#include "ipc/control.h"
#include "unit/cli_test_support.h"

namespace ne::cli {
namespace {

using nlohmann::json;
using testing::TempDir;

// Binds $home/daemon.sock; listens only when asked, so a bound-but-dead socket can be faked.
UniqueFd bind_socket(const std::string& home) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = ipc::control::socket_path(home);
    path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    return fd;
}

// Accepts one connection, records the request, sends `reply` (a raw frame payload).
class FakeDaemon {
public:
    FakeDaemon(const std::string& home, std::string reply) : listener_(bind_socket(home)) {
        EXPECT_EQ(::listen(listener_.get(), 4), 0);
        thread_ = std::thread([this, reply = std::move(reply)] {
            UniqueFd conn(::accept(listener_.get(), nullptr, nullptr));
            if (!conn) return;
            auto frame = ipc::read_frame(conn.get(), 10'000);
            if (frame) request_ = *frame;
            (void)ipc::write_frame(conn.get(), reply);
        });
    }
    ~FakeDaemon() {
        if (thread_.joinable()) thread_.join();
    }
    // The request as received; valid once the client has its reply.
    json request() {
        thread_.join();
        return json::parse(request_);
    }

private:
    UniqueFd listener_;
    std::string request_;
    std::thread thread_;
};

TEST(CliClient, NoSocketMeansNoDaemon) {
    TempDir home;
    Client client(home.path().string());
    auto r = client.call_if_running(ipc::control::request("status"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_FALSE(r->has_value());

    auto strict = client.call(ipc::control::request("stop", {{"target", "all"}}));
    ASSERT_FALSE(strict.ok());
    EXPECT_EQ(strict.error().message.rfind("no daemon running", 0), 0u) << strict.error().message;
    EXPECT_TRUE(client.wait_until_gone(std::chrono::milliseconds(0)).ok());
}

TEST(CliClient, StaleSocketMeansNoDaemon) {
    TempDir home;
    UniqueFd dead = bind_socket(home.path().string());  // bound, never listening: refused
    auto r = Client(home.path().string()).call_if_running(ipc::control::request("status"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_FALSE(r->has_value());
}

TEST(CliClient, SendsTheRequestAndReturnsTheReply) {
    TempDir home;
    FakeDaemon daemon(home.path().string(), R"({"ok":true,"workers":[]})");
    auto r = Client(home.path().string()).call(ipc::control::request("scale", {{"app", "api"}, {"instances", 2}}));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ((*r)["workers"], json::array());
    EXPECT_EQ(daemon.request(), (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "scale"}, {"app", "api"}, {"instances", 2}}));
}

TEST(CliClient, DaemonRefusalCarriesItsReason) {
    TempDir home;
    FakeDaemon daemon(home.path().string(), R"({"ok":false,"error":"api:1: exited with code 1 before ready"})");
    auto r = Client(home.path().string()).call_if_running(ipc::control::request("reload", {{"target", "api"}}));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "api:1: exited with code 1 before ready");
}

TEST(CliClient, MalformedRepliesAreErrors) {
    TempDir home;
    {
        FakeDaemon daemon(home.path().string(), "not json");
        auto r = Client(home.path().string()).call(ipc::control::request("status"));
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().message, "the daemon's reply is not a JSON object");
    }
    ::unlink(ipc::control::socket_path(home.path().string()).c_str());
    {
        FakeDaemon daemon(home.path().string(), R"({"ok":false})");
        auto r = Client(home.path().string()).call(ipc::control::request("status"));
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().message, "the daemon refused without a reason");
    }
}

TEST(CliClient, HomeIsAbsolute) {
    const char* before = std::getenv("NODEEDGE_HOME");
    std::string saved = before ? before : "";
    setenv("NODEEDGE_HOME", "relative/home/", 1);
    std::string home = resolve_home();
    if (before) setenv("NODEEDGE_HOME", saved.c_str(), 1);
    else unsetenv("NODEEDGE_HOME");
    EXPECT_EQ(home, (std::filesystem::current_path() / "relative/home").string());
}

}  // namespace
}  // namespace ne::cli
