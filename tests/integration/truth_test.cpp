// What `start` and `status` report is what is: a program already listening on an app's port is
// refused by name and pid, never taken for a ready worker or sent the proxy's clients.
#include <sys/socket.h>
#include <unistd.h>

#include "integration/harness.h"
#include "ipc/unique_fd.h"

namespace ne::itest {
namespace {

constexpr const char* kProxiedEcho = R"([[apps]]
name = "echo"
script = "${APPS}/echo.js"
instances = 2
port = ${PORT}
listen_timeout = "5s"

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "echo"
)";

class TruthTest : public IntegrationTest {};

TEST_F(TruthTest, AForeignListenerOnAnAppsPortIsRefusedByPidAndNeverServed) {
    const int port = free_port_range(2);
    const int listen = free_port();
    // The foreign program is this test process: a listener on instance 1's port that never
    // accepts, so any connection that reached it stays in its backlog.
    UniqueFd foreign(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    ASSERT_TRUE(bind_loopback(foreign.get(), port + 1));
    ASSERT_EQ(::listen(foreign.get(), 16), 0);

    const auto file = write_file("eco.toml", kProxiedEcho,
                                 {{"PORT", std::to_string(port)}, {"LISTEN", std::to_string(listen)}});
    const RunResult r = run("start", file);
    track_processes();
    EXPECT_NE(r.code, 0) << r.out << r.err;
    const std::string said = r.out + r.err;
    EXPECT_NE(said.find("port " + std::to_string(port + 1) + " is already in use by pid " +
                        std::to_string(::getpid())),
              std::string::npos)
        << said;

    const auto rows = workers_of("echo");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].value("status", ""), "online");
    EXPECT_EQ(rows[1].value("status", ""), "errored");

    // Clients of the proxy reach instance 0 only; nothing ever connected to the foreign port.
    HttpConnection client(listen);
    for (int i = 0; i < 6; ++i) {
        const auto resp = client.get("/");
        ASSERT_TRUE(resp.ok()) << resp.error().message;
        EXPECT_EQ(resp->status, 200);
        EXPECT_EQ(json::parse(resp->body).value("port", 0), port) << resp->body;
    }
    EXPECT_LT(::accept4(foreign.get(), nullptr, nullptr, SOCK_CLOEXEC), 0);
    EXPECT_EQ(errno, EAGAIN);
}

}  // namespace
}  // namespace ne::itest
