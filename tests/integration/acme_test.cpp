// Automatic HTTPS against a real ACME server: Debian's pebble, with pebble-challtestsrv as its
// DNS (every name resolves to 127.0.0.1 unless the test says otherwise), pebble's http-01 and
// tls-alpn-01 ports pointed at nodeedge's plain and TLS listeners. PEBBLE_VA_NOSLEEP and no
// nonce rejection keep orders quick and deterministic; no authorization reuse, so that every
// order is validated. Pebble 2.4 offers no renewalInfo: renewal here follows renew_before
// (ARI is covered by the unit tests of acme/renewal).
#include <sys/stat.h>

#include <future>
#include <regex>

#include "integration/foreground_daemon.h"
#include "integration/harness.h"
#include "integration/tls_support.h"

namespace ne::itest {
namespace {

constexpr const char* kPebble = "/usr/bin/pebble";

constexpr const char* kAcmeConfig = R"([acme]
email = "ops@a.test"
directory = "https://127.0.0.1:${PEBBLE}/dir"
ca_bundle = "pebble.pem"
challenge = "${CHALLENGE}"

[metrics]
listen = "127.0.0.1:${METRICS}"

[[apps]]
name = "echo"
script = "${APPS}/echo.js"
port = ${PORT}

[[servers]]
listen = ["127.0.0.1:${TLS}"]
server_name = ["a.test", "www.a.test"]
tls = "auto"

[[servers.locations]]
path = "/"
app = "echo"
${PLAIN_SERVER}
)";

constexpr const char* kPlainServer = R"(
[[servers]]
listen = ["127.0.0.1:${PLAIN}"]
server_name = ["a.test", "www.a.test"]
redirect_https = true
)";

class AcmeTest : public IntegrationTest {
protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        struct stat st{};
        if (::stat(kPebble, &st) != 0) GTEST_SKIP() << "pebble is not installed (Debian pebble; .ci/setup.sh --test)";
        tls_port = free_port();
        plain_port = free_port();
        pebble_port = free_port();
        dns_port = free_port();
        challtest_port = free_port();
        pebble_admin_port = free_port();
        metrics_port = free_port();
        // Pebble's own HTTPS certificate (the Debian package ships none), trusted as ca_bundle.
        const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                                "-keyout " + dir() + "/pebble.key -out " + dir() + "/pebble.pem -subj /CN=pebble "
                                "-addext subjectAltName=IP:127.0.0.1 2>/dev/null";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
        write_file("pebble.json", R"({"pebble": {"listenAddress": "127.0.0.1:${PEBBLE}",
            "managementListenAddress": "127.0.0.1:${ADMIN}", "certificate": "${DIR}/pebble.pem",
            "privateKey": "${DIR}/pebble.key", "httpPort": ${PLAIN}, "tlsPort": ${TLS},
            "ocspResponderURL": "", "externalAccountBindingRequired": false}})",
                   {{"PEBBLE", std::to_string(pebble_port)}, {"ADMIN", std::to_string(pebble_admin_port)},
                    {"DIR", dir()}, {"PLAIN", std::to_string(plain_port)}, {"TLS", std::to_string(tls_port)}});
        dns.emplace(std::vector<std::string>{"pebble-challtestsrv", "-dns01", "127.0.0.1:" + std::to_string(dns_port),
                                             "-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv6", "",
                                             "-management", "127.0.0.1:" + std::to_string(challtest_port)},
                    std::vector<std::string>{}, dir() + "/challtestsrv.log");
    }

    void start_pebble() {
        pebble.emplace(std::vector<std::string>{kPebble, "-config", dir() + "/pebble.json", "-dnsserver",
                                                "127.0.0.1:" + std::to_string(dns_port)},
                       std::vector<std::string>{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
                       dir() + "/pebble.log");
        ASSERT_TRUE(wait_until([&] { return !curl("-k https://127.0.0.1:" + std::to_string(pebble_port) + "/dir 2>/dev/null").empty(); }, 10s))
            << read_file(dir() + "/pebble.log");
        // The roots pebble made at start: what a client of the issued certificates trusts.
        write_bytes(dir() + "/root.pem", curl("-k https://127.0.0.1:" + std::to_string(pebble_admin_port) + "/roots/0"));
    }

    std::string start_nodeedge(const std::string& challenge, bool plain) {
        std::string config = write_file(
            "ecosystem.toml", kAcmeConfig,
            {{"PEBBLE", std::to_string(pebble_port)}, {"CHALLENGE", challenge}, {"METRICS", std::to_string(metrics_port)},
             {"PORT", std::to_string(free_port())}, {"TLS", std::to_string(tls_port)},
             {"PLAIN_SERVER", plain ? std::regex_replace(kPlainServer, std::regex("\\$\\{PLAIN\\}"), std::to_string(plain_port)) : ""}});
        RunResult r = run("start", config);
        EXPECT_EQ(r.code, 0) << r.out << r.err;
        return config;
    }

    // `certs` once it shows `state` for a.test (the table, as a user reads it).
    std::string certs_when(const std::string& state) {
        std::string out;
        wait_until([&] {
            out = run("certs").out;
            return out.find(state) != std::string::npos;
        }, 20s);
        return out;
    }

    // The served certificate's serial for `name` (as openssl prints it), "" when none.
    std::string served_serial(const std::string& name) {
        return shell_output("timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(tls_port) +
                            " -servername " + name + " </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null");
    }

    // curl with pebble's root as the only trust: "200" when the chain verifies for `name`.
    std::string verified_status(const std::string& name) {
        return curl("--cacert " + dir() + "/root.pem" + curl_resolve(name, tls_port) + "-o /dev/null -w '%{http_code}' https://" +
                    name + ":" + std::to_string(tls_port) + "/ 2>&1");
    }

    int orders() {
        const std::string log = read_file(dir() + "/pebble.log");
        int n = 0;
        for (size_t at = log.find("POST /order-plz"); at != std::string::npos; at = log.find("POST /order-plz", at + 1)) ++n;
        return n;
    }

    int tls_port = 0, plain_port = 0, pebble_port = 0, dns_port = 0, challtest_port = 0, pebble_admin_port = 0,
        metrics_port = 0;
    std::optional<ForegroundProcess> dns;
    std::optional<ForegroundProcess> pebble;
};

TEST_F(AcmeTest, Http01IssuesRenewsUnderLoadKeepsTheOldCertificateOnRefusalAndSurvivesARestart) {
    start_pebble();
    const std::string config = start_nodeedge("http-01", true);
    std::string certs = certs_when("valid");
    ASSERT_NE(certs.find("Pebble Intermediate"), std::string::npos) << certs << read_file(dir() + "/pebble.log");
    EXPECT_EQ(verified_status("a.test"), "200");
    EXPECT_EQ(verified_status("www.a.test"), "200");
    EXPECT_EQ(orders(), 1);
    // The challenge path is not an open door: an unknown token is redirected like any path.
    EXPECT_EQ(curl("-o /dev/null -w '%{http_code}' http://127.0.0.1:" + std::to_string(plain_port) +
                   "/.well-known/acme-challenge/unknown"), "301");
    struct stat st{};
    ASSERT_EQ(::stat((home() + "/acme/account.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((home() + "/acme/certs/a.test.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    // A forced renewal under load: a new certificate, and not one request lost.
    const std::string first = served_serial("a.test");
    ASSERT_FALSE(first.empty());
    auto wrk = std::async(std::launch::async, [&] {
        return shell_output("wrk -t1 -c8 -d3s --timeout 5s -s " + std::string(NODEEDGE_SOURCE_DIR) +
                            "/bench/count_failures.lua https://127.0.0.1:" + std::to_string(tls_port) + "/ 2>&1");
    });
    std::this_thread::sleep_for(1s);   // wrk is connected and busy
    RunResult renew = run("certs", "renew", "a.test");
    EXPECT_EQ(renew.code, 0) << renew.out << renew.err;
    const std::string load = wrk.get();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(load, m, std::regex("RESULT total=(\\d+) failed=(\\d+)"))) << load;
    EXPECT_GT(std::stoi(m[1]), 0) << load;
    EXPECT_EQ(m[2], "0") << load;
    const std::string second = served_serial("a.test");
    EXPECT_NE(second, first);
    EXPECT_EQ(verified_status("a.test"), "200");
    EXPECT_EQ(orders(), 2);

    // A refused order: a.test now resolves where nothing answers the CA's http-01 request.
    curl("-d '{\"host\":\"a.test\",\"addresses\":[\"127.0.0.2\"]}' http://127.0.0.1:" + std::to_string(challtest_port) + "/add-a");
    RunResult refused = run("certs", "renew", "a.test");
    EXPECT_EQ(refused.code, 1) << refused.out << refused.err;
    EXPECT_NE(refused.err.find("http-01 failed"), std::string::npos) << refused.err;
    EXPECT_EQ(served_serial("a.test"), second);
    EXPECT_EQ(verified_status("a.test"), "200");
    certs = run("certs").out;
    EXPECT_NE(certs.find("failing"), std::string::npos) << certs;
    EXPECT_NE(certs.find("http-01 failed"), std::string::npos) << certs;
    EXPECT_NE(run("describe", "a.test").out.find("renew-failed"), std::string::npos);
    const std::string metrics = curl("http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics");
    EXPECT_TRUE(std::regex_search(metrics, std::regex("nodeedge_certificate_expiry_seconds\\{name=\"a.test\"\\} \\d+"))) << metrics;
    EXPECT_NE(metrics.find("nodeedge_certificate_renewal_failures{name=\"a.test\"} 1"), std::string::npos) << metrics;

    // A restarted daemon serves the stored certificate and orders nothing.
    curl("-d '{\"host\":\"a.test\"}' http://127.0.0.1:" + std::to_string(challtest_port) + "/clear-a");
    ASSERT_EQ(run("kill").code, 0);
    ASSERT_EQ(run("start", config).code, 0);
    certs = certs_when("valid");
    EXPECT_EQ(served_serial("a.test"), second);
    EXPECT_EQ(verified_status("a.test"), "200");
    EXPECT_EQ(orders(), 3) << "the refused order was the third; a restart makes none";
}

TEST_F(AcmeTest, TlsAlpn01IssuesWithoutAPlainListenerOnceTheCaAnswersAndAFailingNameHoldsNoOtherBack) {
    // No CA yet: the first check fails, says why, and a self-signed stand-in serves meanwhile.
    start_nodeedge("tls-alpn-01", false);
    std::string certs = certs_when("failing");
    EXPECT_NE(certs.find("ACME directory"), std::string::npos) << certs;
    const std::string stand_in = shell_output("timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(tls_port) +
                                              " -servername a.test </dev/null 2>/dev/null | openssl x509 -noout -subject");
    EXPECT_NE(stand_in.find("ACME certificate pending"), std::string::npos) << stand_in;

    // The CA answers, but www.a.test resolves where nothing listens: a first certificate still
    // comes for a.test, the order says why www.a.test is missing, ...
    start_pebble();
    curl("-d '{\"host\":\"www.a.test\",\"addresses\":[\"127.0.0.2\"]}' http://127.0.0.1:" + std::to_string(challtest_port) + "/add-a");
    RunResult partial = run("certs", "renew", "a.test");
    EXPECT_EQ(partial.code, 1) << partial.out << partial.err;
    EXPECT_NE(partial.err.find("www.a.test: tls-alpn-01 failed"), std::string::npos) << partial.err;
    EXPECT_EQ(verified_status("a.test"), "200");
    EXPECT_NE(verified_status("www.a.test"), "200");
    // ... and once it resolves, the next order covers both.
    curl("-d '{\"host\":\"www.a.test\"}' http://127.0.0.1:" + std::to_string(challtest_port) + "/clear-a");
    RunResult renew = run("certs", "renew", "a.test");
    EXPECT_EQ(renew.code, 0) << renew.out << renew.err;
    certs = certs_when("valid");
    ASSERT_NE(certs.find("Pebble Intermediate"), std::string::npos) << certs << read_file(dir() + "/pebble.log");
    EXPECT_EQ(verified_status("a.test"), "200");
    EXPECT_EQ(verified_status("www.a.test"), "200");
}

}  // namespace
}  // namespace ne::itest
