// IPv6 through the real daemon: a server listening on [::] beside 127.0.0.1 on the same port
// (ipv6only, as nginx binds [::]), an IPv6 client reaching the app with its address in
// X-Forwarded-For, X-Real-IP and the access log, and ip_hash keeping an IPv6 client on one
// worker.
#include <set>

#include "integration/harness.h"

namespace ne::itest {
namespace {

constexpr const char* kIpv6Config = R"([proxy]
workers = 1

[[apps]]
name = "echo"
script = "${APPS}/echo.js"
port = ${PORT}
instances = 3

[[servers]]
listen = ["[::]:${LISTEN}", "127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "echo"
balance = "ip_hash"
)";

class Ipv6Test : public IntegrationTest {
protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        listen_ = free_port();
        RunResult r = run("start", write_file("ecosystem.toml", kIpv6Config,
                                              {{"PORT", std::to_string(free_port_range(3))},
                                               {"LISTEN", std::to_string(listen_)}}));
        ASSERT_EQ(r.code, 0) << r.out << r.err;
    }

    // The app's description of a GET sent to `host` ("[::1]" or "127.0.0.1").
    json get(const std::string& host, const std::string& path) {
        const std::string body = curl("-g 'http://" + host + ":" + std::to_string(listen_) + path + "'");
        auto j = json::parse(body, nullptr, false);
        EXPECT_FALSE(j.is_discarded()) << body;
        return j.is_discarded() ? json::object() : j;
    }

    int listen_ = 0;
};

TEST_F(Ipv6Test, AnIpv6ClientReachesTheAppAndIsLoggedAndForwardedAsItself) {
    const json v6 = get("[::1]", "/from-v6");
    EXPECT_EQ(v6["url"], "/from-v6");
    EXPECT_EQ(v6["headers"]["x-forwarded-for"], "::1");
    EXPECT_EQ(v6["headers"]["x-real-ip"], "::1");
    // The IPv4 socket on the same port is a listener of its own ([::] is IPv6 only).
    const json v4 = get("127.0.0.1", "/from-v4");
    EXPECT_EQ(v4["headers"]["x-forwarded-for"], "127.0.0.1");
    const std::string log = home() + "/logs/access.log";
    EXPECT_TRUE(wait_until([&] { return read_file(log).find("::1 - - [") != std::string::npos; }, 5s)) << read_file(log);
    EXPECT_NE(read_file(log).find("\"GET /from-v6 HTTP/1.1\" 200"), std::string::npos) << read_file(log);
}

TEST_F(Ipv6Test, IpHashKeepsAnIpv6ClientOnOneWorker) {
    std::set<int> ports;
    for (int i = 0; i < 10; ++i) ports.insert(get("[::1]", "/hash").value("port", 0));
    EXPECT_EQ(ports.size(), 1u);
    EXPECT_NE(*ports.begin(), 0);
}

}  // namespace
}  // namespace ne::itest
