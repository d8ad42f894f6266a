// TLS termination through the real daemon, with curl and openssl s_client as clients and
// certificates the test makes with `openssl req`: two servers on one TLS address chosen by
// SNI, X-Forwarded-Proto, TLS 1.1 refused and 1.2/1.3 served, no session tickets but session
// resumption through the cache every proxy worker shares, session tickets when asked for,
// OCSP stapling from a file, redirect_https from a plain server, a reload that swaps the
// certificate, a mismatched key refused at `check`, and testssl.sh finding nothing HIGH or
// CRITICAL on a server with the defaults.
#include <signal.h>

#include <cstdlib>
#include <fstream>


#include "integration/harness.h"
#include "integration/tls_support.h"

namespace ne::itest {
namespace {

constexpr const char* kTlsConfig = R"([proxy]
workers = 2

[[apps]]
name = "echo"
script = "${APPS}/echo.js"
port = ${PORT}

[[servers]]
listen = ["127.0.0.1:${TLS}"]
server_name = ["a.test"]
tls = { cert = "a.pem", key = "a.key", ocsp = "ocsp.der" }
http2 = true

[[servers.locations]]
path = "/"
app = "echo"

[[servers]]
listen = ["127.0.0.1:${TLS}"]
server_name = ["b.test"]
tls = { cert = "b.pem", key = "b.key" }

[[servers.locations]]
path = "/"
app = "echo"

[[servers]]
listen = ["127.0.0.1:${PLAIN}"]
server_name = ["a.test"]
redirect_https = true

[[servers.locations]]
path = "/"
app = "echo"
)";

// An OCSP response whose status is "unauthorized": enough to see it stapled as configured.
constexpr char kOcspUnauthorized[] = "\x30\x03\x0a\x01\x06";

class TlsTest : public IntegrationTest {
protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        make_cert(dir(), "a", "a.test");
        make_cert(dir(), "b", "b.test");
        std::ofstream(dir() + "/ocsp.der", std::ios::binary).write(kOcspUnauthorized, sizeof kOcspUnauthorized - 1);
        tls_port = free_port();
        plain_port = free_port();
        config = write_file("ecosystem.toml", kTlsConfig,
                            {{"PORT", std::to_string(free_port())},
                             {"TLS", std::to_string(tls_port)},
                             {"PLAIN", std::to_string(plain_port)}});
        RunResult r = run("start", config);
        ASSERT_EQ(r.code, 0) << r.out << r.err;
    }

    std::string resolve(const std::string& host) const {
        return curl_resolve(host, tls_port);
    }
    std::string url(const std::string& host, const std::string& path = "/") const {
        return "https://" + host + ":" + std::to_string(tls_port) + path;
    }

    // openssl s_client's whole output for one handshake (and `input` sent after it).
    std::string s_client(const std::string& args, const std::string& input = "") {
        return shell_output("printf '" + input + "' | timeout 10 openssl s_client -connect 127.0.0.1:" +
                  std::to_string(tls_port) + " " + args + " 2>&1");
    }

    // One handshake for `name` offering the session saved in `in` ("": none) and saving the
    // new one in `out` (s_client writes nothing when a TLS 1.2 session is reused); a request
    // keeps s_client until the answer, so TLS 1.3's ticket arrives.
    std::string session(const std::string& version, const std::string& name, const std::string& in,
                        const std::string& out) {
        return s_client(version + " -ign_eof -servername " + name + (in.empty() ? "" : " -sess_in " + in) +
                            " -sess_out " + out,
                        "GET / HTTP/1.1\\r\\nHost: " + name + "\\r\\nConnection: close\\r\\n\\r\\n");
    }

    int tls_port = 0;
    int plain_port = 0;
    std::string config;
};

// "-tls1_2" -> "TLSv1.2", as s_client reports the protocol.
std::string protocol_of(const std::string& version) {
    return "TLSv1." + version.substr(version.size() - 1);
}

TEST_F(TlsTest, ProxiesHttpsAndTellsTheAppTheScheme) {
    const std::string body = curl("-k" + resolve("a.test") + url("a.test", "/x?y=1"));
    auto j = json::parse(body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << body;
    EXPECT_EQ(j["url"], "/x?y=1");
    EXPECT_EQ(j["headers"]["x-forwarded-proto"], "https");
    EXPECT_EQ(j["headers"]["host"], "a.test:" + std::to_string(tls_port));
}

TEST_F(TlsTest, SniChoosesTheCertificateAndNoNameGetsTheDefaultServer) {
    EXPECT_NE(curl("-kv" + resolve("b.test") + url("b.test") + " -o /dev/null 2>&1").find("CN=b.test"),
              std::string::npos);
    EXPECT_NE(curl("-kv" + resolve("a.test") + url("a.test") + " -o /dev/null 2>&1").find("CN=a.test"),
              std::string::npos);
    // An IP address sends no SNI; an unknown name matches no server: both get the first.
    EXPECT_NE(s_client("-noservername").find("CN = a.test"), std::string::npos);
    EXPECT_NE(s_client("-servername nobody.test").find("CN = a.test"), std::string::npos);
}

TEST_F(TlsTest, OnlyTls12And13AreServed) {
    const std::string refused = s_client("-tls1_1 -cipher DEFAULT@SECLEVEL=0");
    EXPECT_NE(refused.find("alert protocol version"), std::string::npos) << refused;
    EXPECT_NE(curl("-k --tlsv1.1 --tls-max 1.1 -o /dev/null -w '%{http_code}'" + resolve("a.test") +
                   url("a.test") + " 2>&1"),
              "200");
    EXPECT_EQ(curl("-k --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}'" + resolve("a.test") + url("a.test")),
              "200");
    EXPECT_EQ(curl("-k --tlsv1.3 -o /dev/null -w '%{http_code}'" + resolve("a.test") + url("a.test")), "200");
    // Mozilla intermediate for 1.2: forward secrecy and AEAD only.
    const std::string cbc = s_client("-tls1_2 -cipher AES128-SHA");
    EXPECT_EQ(cbc.find("Cipher is AES128-SHA"), std::string::npos) << cbc;
}

TEST_F(TlsTest, SessionsResumeWithoutTickets) {
    const std::string out = s_client("-tls1_2 -reconnect -servername a.test");
    EXPECT_EQ(out.find("TLS session ticket:"), std::string::npos) << out;
    EXPECT_NE(out.find("Reused, TLSv1.2"), std::string::npos) << out;
}

TEST_F(TlsTest, SessionsAreSharedByEveryProxyWorkerAndOutliveThem) {
    for (const std::string version : {"-tls1_2", "-tls1_3"}) {
        SCOPED_TRACE(version);
        const std::string saved = dir() + "/session" + version;
        std::string out = session(version, "a.test", "", saved);
        ASSERT_NE(out.find("New, " + protocol_of(version)), std::string::npos) << out;
        // The kernel hands connections to either proxy worker: every one resumes.
        for (int i = 0; i < 4; ++i) {
            out = session(version, "a.test", saved, saved);
            EXPECT_NE(out.find("Reused, " + protocol_of(version)), std::string::npos) << out;
        }
        // Proxy workers re-forked after a crash never saw the session: only the shared cache has it.
        const auto before = proxy_worker_processes();
        ASSERT_EQ(before.size(), 2u);
        for (const auto& p : before) ::kill(p.pid, SIGKILL);
        ASSERT_TRUE(wait_until([&] {
            auto now = proxy_worker_processes();
            return now.size() == 2 && !alive(before[0]) && !alive(before[1]);
        }, 10s));
        out = session(version, "a.test", saved, saved);
        EXPECT_NE(out.find("Reused, " + protocol_of(version)), std::string::npos) << out;
    }
}

TEST_F(TlsTest, ASessionResumesOnlyOnTheServerThatMadeIt) {
    for (const std::string version : {"-tls1_2", "-tls1_3"}) {
        SCOPED_TRACE(version);
        const std::string a_session = dir() + "/a" + version;
        std::string out = session(version, "a.test", "", a_session);
        ASSERT_NE(out.find("New, " + protocol_of(version)), std::string::npos) << out;
        // Offered to b.test, a.test's session would skip b.test's certificate: a full handshake.
        out = session(version, "b.test", a_session, dir() + "/b" + version);
        EXPECT_NE(out.find("New, " + protocol_of(version)), std::string::npos) << out;
        EXPECT_NE(out.find("CN = b.test"), std::string::npos) << out;
        out = session(version, "a.test", a_session, dir() + "/a-again" + version);
        EXPECT_NE(out.find("Reused, " + protocol_of(version)), std::string::npos) << out;
    }
}

TEST_F(TlsTest, StaplesTheConfiguredOcspResponse) {
    EXPECT_NE(s_client("-status -servername a.test").find("OCSP Response Status: unauthorized"),
              std::string::npos);
    EXPECT_NE(s_client("-status -servername b.test").find("OCSP response: no response sent"), std::string::npos);
}

TEST_F(TlsTest, RedirectHttpsSendsPlainClientsToTheTlsPort) {
    const std::string out = curl("-s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: a.test' "
                                 "'http://127.0.0.1:" + std::to_string(plain_port) + "/p/q?x=1'");
    EXPECT_EQ(out, "301 https://a.test:" + std::to_string(tls_port) + "/p/q?x=1");
}

TEST_F(TlsTest, ReloadServesTheNewCertificateToNewConnections) {
    make_cert(dir(), "a", "a.test", "renewed");
    RunResult r = run("reload", config);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(wait_until([&] { return s_client("-servername a.test").find("O = renewed") != std::string::npos; },
                           10s));
    EXPECT_EQ(curl("-k -o /dev/null -w '%{http_code}'" + resolve("a.test") + url("a.test")), "200");
}

TEST_F(TlsTest, CheckRefusesAKeyThatIsNotTheCertificates) {
    make_cert(dir(), "other", "a.test");
    const std::string bad = write_file("bad.toml", R"([[servers]]
listen = ["127.0.0.1:${TLS}"]
tls = { cert = "a.pem", key = "other.key" }
)", {{"TLS", std::to_string(free_port())}});
    RunResult r = run("check", bad);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("bad.toml:3:7: tls key"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("does not belong to the certificate"), std::string::npos) << r.err;
}

TEST_F(TlsTest, TestsslFindsNothingHighOrCritical) {
    if (std::system("command -v testssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "testssl (Debian package testssl.sh) is not installed";
    // A server with the shipped defaults only, from a second file beside the fixture's.
    const int port = free_port();
    const std::string defaults = write_file("defaults.toml", R"([[servers]]
listen = ["127.0.0.1:${TLS}"]
tls = { cert = "b.pem", key = "b.key" }

[[servers.locations]]
path = "/"
return = "200 ok"
)", {{"TLS", std::to_string(port)}});
    RunResult r = run("start", defaults);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    const std::string json_file = dir() + "/testssl.json";
    // Offered protocols (SSLv2 through TLS 1.3), the server's cipher order, Heartbleed and
    // renegotiation: the checks whose findings are about the server's TLS setup. Certificate
    // checks (-S) would report the test's own self-signed, short-lived certificate as
    // HIGH/CRITICAL, and the full -U set takes minutes on a loaded 2-core machine.
    const std::string out = shell_output("testssl --quiet --color 0 --warnings off --ip one --nodns min -p -P -H -R --jsonfile " +
                                         json_file + " 127.0.0.1:" + std::to_string(port) + " 2>&1");
    auto findings = json::parse(read_file(json_file), nullptr, false);
    ASSERT_TRUE(findings.is_array()) << out;
    std::map<std::string, std::string> by_id;  // so that an empty or failed run cannot pass
    for (const auto& f : findings) {
        const std::string severity = f.value("severity", "");
        EXPECT_TRUE(severity != "HIGH" && severity != "CRITICAL") << f.dump();
        by_id[f.value("id", "")] = f.value("finding", "");
    }
    EXPECT_EQ(by_id["SSLv3"], "not offered") << out;
    EXPECT_EQ(by_id["TLS1_1"], "not offered") << out;
    EXPECT_EQ(by_id["TLS1_2"], "offered") << out;
    EXPECT_NE(by_id["TLS1_3"].find("offered"), std::string::npos) << out;
    EXPECT_TRUE(by_id.count("heartbleed")) << out;
    EXPECT_EQ(by_id["cipher_order"], "server") << out;
}

TEST_F(TlsTest, SessionTicketsWhenAskedForResumeOnEveryProxyWorker) {
    const int port = free_port();
    // The address's default server issues none; the one SNI picks does.
    const std::string tickets = write_file("tickets.toml", R"([[servers]]
listen = ["127.0.0.1:${TLS}"]
server_name = ["a.test"]
tls = { cert = "a.pem", key = "a.key" }

[[servers.locations]]
path = "/"
return = "200 ok"

[[servers]]
listen = ["127.0.0.1:${TLS}"]
server_name = ["b.test"]
tls = { cert = "b.pem", key = "b.key", session_tickets = true, session_timeout = "1d" }

[[servers.locations]]
path = "/"
return = "200 ok"
)", {{"TLS", std::to_string(port)}});
    RunResult r = run("start", tickets);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    const std::string connect = "timeout 20 openssl s_client -tls1_2 -reconnect -connect 127.0.0.1:" + std::to_string(port);
    const std::string none = shell_output(connect + " -servername a.test </dev/null 2>&1");
    EXPECT_EQ(none.find("TLS session ticket lifetime hint"), std::string::npos) << none;
    const std::string out = shell_output(connect + " -servername b.test </dev/null 2>&1");
    EXPECT_NE(out.find("TLS session ticket lifetime hint: 86400"), std::string::npos) << out;
    // -reconnect makes five more connections, which the kernel spreads over both workers.
    size_t reused = 0;
    for (size_t at = out.find("Reused, TLSv1.2"); at != std::string::npos; at = out.find("Reused, TLSv1.2", at + 1))
        ++reused;
    EXPECT_EQ(reused, 5u) << out;
}

}  // namespace
}  // namespace ne::itest
