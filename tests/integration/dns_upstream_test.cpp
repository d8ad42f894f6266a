// [[upstreams]] by DNS name: a dnsmasq started by the test on a free loopback port answers
// for backend.test from a hosts file the test rewrites (and SIGHUPs dnsmasq to reload); the
// proxy follows the record as backends come and go, without a reload of nodeedge.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <set>

#include "integration/foreground_daemon.h"
#include "integration/harness.h"

namespace ne::itest {
namespace {

constexpr const char* kDnsmasq = "/usr/sbin/dnsmasq";

// One plain Node server on 127.0.0.2 and 127.0.0.3 (same port): it answers the address it
// was reached on, so the test sees which backend the proxy chose.
constexpr const char* kBackend = R"('use strict';
const http = require('http');
for (const host of ['127.0.0.2', '127.0.0.3']) {
  http.createServer((req, res) => res.end(req.socket.localAddress))
      .listen(Number(process.env.PORT), host, () => console.log('listening on ' + host));
}
)";

constexpr const char* kDnsUpstreamConfig = R"([[upstreams]]
name = "remote"
servers = [ { address = "backend.test:${BACKEND}" } ]
resolve = "200ms"
resolver = "127.0.0.1:${DNS}"

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
upstream = "remote"
)";

class DnsUpstreamTest : public IntegrationTest {
protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        struct stat st{};
        if (::stat(kDnsmasq, &st) != 0) GTEST_SKIP() << "dnsmasq is not installed (Debian dnsmasq-base; .ci/setup.sh --test)";
    }

    void set_hosts(const std::string& lines) {
        std::ofstream(dir() + "/hosts.tmp") << lines;
        ::rename((dir() + "/hosts.tmp").c_str(), (dir() + "/hosts").c_str());
    }

    // The backends that answered `n` requests in a row (fresh connections each).
    std::set<std::string> answering(int n) {
        std::set<std::string> seen;
        for (int i = 0; i < n; ++i) {
            auto r = http_get(listen_port, "/");
            if (!r.ok() || r->status != 200) seen.insert(r.ok() ? "status " + std::to_string(r->status) : r.error().message);
            else seen.insert(r->body);
        }
        return seen;
    }

    int listen_port = 0;
};

TEST_F(DnsUpstreamTest, FollowsTheRecordAsBackendsComeAndGo) {
    const int dns_port = free_port();
    const int backend_port = free_port();
    listen_port = free_port();
    set_hosts("127.0.0.2 backend.test\n");
    // --user=root: the test's folder is private to us. Answers from the hosts file get a 1 s TTL.
    ForegroundProcess dns({kDnsmasq, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                           "--listen-address=127.0.0.1", "--bind-interfaces", "--port=" + std::to_string(dns_port),
                           "--addn-hosts=" + dir() + "/hosts", "--local-ttl=1", "--user=root",
                           "--pid-file=" + dir() + "/dnsmasq.pid", "--log-facility=-"},
                          {}, dir() + "/dnsmasq.log");
    ForegroundProcess backend({"node", write_file("backend.js", kBackend)}, {"PORT=" + std::to_string(backend_port)},
                              dir() + "/backend.log");
    ASSERT_TRUE(wait_until([&] {
        std::string log = read_file(dir() + "/backend.log");
        return log.find("127.0.0.2") != std::string::npos && log.find("127.0.0.3") != std::string::npos;
    }, 10s)) << read_file(dir() + "/backend.log");
    ASSERT_FALSE(dns.exited()) << read_file(dir() + "/dnsmasq.log");

    std::string file = write_file("ecosystem.toml", kDnsUpstreamConfig,
                                  {{"BACKEND", std::to_string(backend_port)},
                                   {"DNS", std::to_string(dns_port)},
                                   {"LISTEN", std::to_string(listen_port)}});
    RunResult r = run("start", file);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    std::set<std::string> seen;
    EXPECT_TRUE(wait_until([&] { return (seen = answering(4)) == std::set<std::string>{"127.0.0.2"}; }, 10s))
        << ::testing::PrintToString(seen) << read_file(dir() + "/dnsmasq.log");

    // The record moves: new requests go to the new address only.
    set_hosts("127.0.0.3 backend.test\n");
    ASSERT_EQ(::kill(dns.pid(), SIGHUP), 0);
    EXPECT_TRUE(wait_until([&] { return (seen = answering(4)) == std::set<std::string>{"127.0.0.3"}; }, 10s))
        << ::testing::PrintToString(seen);

    // A second address joins: both serve (round robin).
    set_hosts("127.0.0.2 backend.test\n127.0.0.3 backend.test\n");
    ASSERT_EQ(::kill(dns.pid(), SIGHUP), 0);
    EXPECT_TRUE(wait_until([&] { return (seen = answering(4)) == std::set<std::string>{"127.0.0.2", "127.0.0.3"}; }, 10s))
        << ::testing::PrintToString(seen);
}

// A name with only an AAAA record (resolve_family "both", the default): the backend on ::1 is
// found and connected to over IPv6.
TEST_F(DnsUpstreamTest, AnAaaaOnlyNameIsResolvedAndUsed) {
    const int dns_port = free_port();
    const int backend_port = free_port();
    listen_port = free_port();
    set_hosts("::1 backend.test\n");
    ForegroundProcess dns({kDnsmasq, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                           "--listen-address=127.0.0.1", "--bind-interfaces", "--port=" + std::to_string(dns_port),
                           "--addn-hosts=" + dir() + "/hosts", "--local-ttl=1", "--user=root",
                           "--pid-file=" + dir() + "/dnsmasq.pid", "--log-facility=-"},
                          {}, dir() + "/dnsmasq.log");
    const std::string v6_backend = R"('use strict';
require('http').createServer((req, res) => res.end(req.socket.localAddress))
    .listen(Number(process.env.PORT), '::1', () => console.log('listening on ::1'));
)";
    ForegroundProcess backend({"node", write_file("backend6.js", v6_backend)}, {"PORT=" + std::to_string(backend_port)},
                              dir() + "/backend.log");
    ASSERT_TRUE(wait_until([&] { return read_file(dir() + "/backend.log").find("::1") != std::string::npos; }, 10s))
        << read_file(dir() + "/backend.log");
    ASSERT_FALSE(dns.exited()) << read_file(dir() + "/dnsmasq.log");
    RunResult r = run("start", write_file("ecosystem.toml", kDnsUpstreamConfig,
                                          {{"BACKEND", std::to_string(backend_port)},
                                           {"DNS", std::to_string(dns_port)},
                                           {"LISTEN", std::to_string(listen_port)}}));
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    std::set<std::string> seen;
    EXPECT_TRUE(wait_until([&] { return (seen = answering(3)) == std::set<std::string>{"::1"}; }, 10s))
        << ::testing::PrintToString(seen) << read_file(dir() + "/dnsmasq.log") << read_file(home() + "/daemon.log");
}

}  // namespace
}  // namespace ne::itest
