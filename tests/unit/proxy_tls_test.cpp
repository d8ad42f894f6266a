#include <gtest/gtest.h>

#include "config/load.h"
#include "proxy/tls/context.h"
#include "unit/config_test_dir.h"
#include "unit/tls_test_cert.h"

namespace ne::proxy {
namespace {

using namespace std::string_view_literals;

TEST(ChooseAlpn, H2OnlyWhenTheServerHasHttp2) {
    const auto both = "\x02h2\x08http/1.1"sv;
    EXPECT_EQ(choose_alpn(both, true), "h2");
    EXPECT_EQ(choose_alpn(both, false), "http/1.1");
    EXPECT_EQ(choose_alpn("\x08http/1.1\x02h2"sv, true), "h2");  // ours is the preference
    EXPECT_EQ(choose_alpn("\x02h2"sv, false), "");               // no common protocol: no answer
    EXPECT_EQ(choose_alpn("\x08http/1.0"sv, true), "");
}

TEST(ChooseAlpn, MalformedListsStopWhereTheyBreak) {
    EXPECT_EQ(choose_alpn("\x08http/1.1\x09h2"sv, true), "http/1.1");  // second length overruns
    EXPECT_EQ(choose_alpn("\x00\x02h2"sv, true), "");
    EXPECT_EQ(choose_alpn(""sv, true), "");
}

TEST(SniHostName, TheHostNameOfAServerNameExtension) {
    EXPECT_EQ(sni_host_name("\x00\x09\x00\x00\x06" "a.test"sv), "a.test");
    EXPECT_EQ(sni_host_name(""sv), "");
    EXPECT_EQ(sni_host_name("\x00\x09\x01\x00\x06" "a.test"sv), "");   // not a host_name
    EXPECT_EQ(sni_host_name("\x00\x09\x00\x00\x07" "a.test"sv), "");   // name overruns
    EXPECT_EQ(sni_host_name("\x00\x08\x00\x00\x06" "a.test"sv), "");   // list length lies
    EXPECT_EQ(sni_host_name("\x00\x03\x00\x00\x00"sv), "");            // empty name
}

class TlsContextsTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(tls_testing::write_test_cert(dir.file("a.pem"), dir.file("a.key"), "a.test"));
        dir.write("app.js", "");
    }
    config::Config load(const std::string& text) {
        auto c = config::load_string(text, dir.file("ecosystem.toml"));
        EXPECT_TRUE(c.ok()) << c.error().message;
        return c.ok() ? *c : config::Config{};
    }
    static config::TlsFiles files(const config::Config& cfg) {
        auto k = config::read_tls_files(cfg);
        EXPECT_TRUE(k.ok()) << k.error().message;
        return k.ok() ? *k : config::TlsFiles{};
    }
    config::testing::TestDir dir;
};

TEST_F(TlsContextsTest, OneContextPerTlsServerAndTheRedirectPort) {
    auto cfg = load(R"([[servers]]
listen = ["127.0.0.1:8443", "127.0.0.1:9443"]
server_name = ["a.test"]
tls = { cert = "a.pem", key = "a.key" }

[[servers]]
listen = ["127.0.0.1:8080"]
server_name = ["a.test"]
redirect_https = true

[[servers]]
listen = ["127.0.0.1:8081"]
server_name = ["other.test"]
redirect_https = true
)");
    auto tls = TlsContexts::build(cfg, files(cfg));
    ASSERT_TRUE(tls.ok()) << tls.error().message;
    EXPECT_NE(tls->context(0), nullptr);
    EXPECT_EQ(tls->context(1), nullptr);
    EXPECT_EQ(tls->context(-1), nullptr);
    EXPECT_EQ(tls->context(7), nullptr);
    EXPECT_EQ(tls->https_port(1), 8443);   // shares a.test with the TLS server
    EXPECT_EQ(tls->https_port(2), 443);    // nobody serves other.test over TLS
    EXPECT_EQ(SSL_CTX_get_min_proto_version(tls->context(0)), TLS1_2_VERSION);
    EXPECT_NE(SSL_CTX_get_options(tls->context(0)) & SSL_OP_NO_TICKET, 0u);
    EXPECT_NE(SSL_CTX_get_options(tls->context(0)) & SSL_OP_CIPHER_SERVER_PREFERENCE, 0u);
    EXPECT_EQ(SSL_CTX_get_timeout(tls->context(0)), 300);
}

TEST_F(TlsContextsTest, TheClientsCipherOrderWhenAskedFor) {
    auto cfg = load(R"([[servers]]
listen = ["127.0.0.1:8443"]
tls = { cert = "a.pem", key = "a.key", prefer_server_ciphers = false }
)");
    auto tls = TlsContexts::build(cfg, files(cfg));
    ASSERT_TRUE(tls.ok()) << tls.error().message;
    EXPECT_EQ(SSL_CTX_get_options(tls->context(0)) & SSL_OP_CIPHER_SERVER_PREFERENCE, 0u);
}

// The files come from the master's message only: a worker never opens them, so one it could
// read is still refused when the master did not pass it, and what was passed is what is used.
TEST_F(TlsContextsTest, TlsFilesComeFromTheMastersMessageOnly) {
    auto cfg = load(R"([[servers]]
listen = ["127.0.0.1:8443"]
tls = { cert = "a.pem", key = "a.key" }
)");
    auto none = TlsContexts::build(cfg, {});
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.error().message.find("ecosystem.toml:3:7: " + dir.file("a.pem") + ": not passed by the master"),
              std::string::npos)
        << none.error().message;
    config::TlsFiles passed = files(cfg);
    EXPECT_EQ(passed.size(), 2u);
    std::remove(dir.file("a.key").c_str());
    std::remove(dir.file("a.pem").c_str());
    EXPECT_TRUE(TlsContexts::build(cfg, passed).ok());
    passed[dir.file("a.key")] = "not a key";
    auto bad = TlsContexts::build(cfg, passed);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("ecosystem.toml:3:7: key " + dir.file("a.key")), std::string::npos)
        << bad.error().message;
}

TEST_F(TlsContextsTest, ACertificateChainIsReadWholeFromMemory) {
    auto cfg = load(R"([[servers]]
listen = ["127.0.0.1:8443"]
tls = { cert = "a.pem", key = "a.key" }
)");
    config::TlsFiles passed = files(cfg);
    const std::string leaf = passed[dir.file("a.pem")];
    passed[dir.file("a.pem")] = leaf + leaf;   // the leaf again, standing in for an intermediate
    auto tls = TlsContexts::build(cfg, passed);
    ASSERT_TRUE(tls.ok()) << tls.error().message;
    STACK_OF(X509)* chain = nullptr;
    ASSERT_EQ(SSL_CTX_get0_chain_certs(tls->context(0), &chain), 1);
    EXPECT_EQ(sk_X509_num(chain), 1);
    passed[dir.file("a.pem")] = leaf + "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
    EXPECT_FALSE(TlsContexts::build(cfg, passed).ok());
}

}  // namespace
}  // namespace ne::proxy
