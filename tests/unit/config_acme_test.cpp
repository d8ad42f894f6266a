// tls = "auto" and [acme]: what loads, its defaults, and what is refused at its line.
#include "unit/config_load_fixture.h"

namespace ne::config::testing {
namespace {

class AcmeConfig : public LoadTest {};

TEST_F(AcmeConfig, TlsAutoAndTheAcmeTable) {
    auto c = load(R"([acme]
email = "ops@a.test"
renew_before = "30d"

[[servers]]
listen = ["127.0.0.1:8443"]
server_name = ["a.test", "www.a.test"]
tls = "auto"

[[servers]]
listen = ["127.0.0.1:9443"]
server_name = ["b.test"]
tls = { acme = true, protocols = ["TLSv1.3"] }
)");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_TRUE(c->servers[0].tls.enabled);
    EXPECT_TRUE(c->servers[0].tls.acme);
    EXPECT_EQ(c->servers[0].tls.cert, "");
    EXPECT_TRUE(c->servers[1].tls.acme);
    EXPECT_EQ(c->servers[1].tls.protocols, std::vector<std::string>{"TLSv1.3"});
    EXPECT_EQ(c->acme.email, "ops@a.test");
    EXPECT_EQ(c->acme.directory, Acme::kLetsEncrypt);
    EXPECT_EQ(c->acme.renew_before, std::chrono::hours(24 * 30));
    EXPECT_EQ(c->acme.key_type, "P-256");
    EXPECT_EQ(c->acme.challenge, "");
}

TEST_F(AcmeConfig, RefusedWithTheirPlace) {
    expect_error("[[servers]]\nlisten = [\"127.0.0.1:8443\"]\ntls = \"auto\"\n", 3, 7, "needs server_name");
    expect_error("[[servers]]\nlisten = [\"127.0.0.1:8443\"]\nserver_name = [\"*.a.test\"]\ntls = \"auto\"\n", 4, 7,
                 "not a host name a CA can validate");
    expect_error("[[servers]]\nlisten = [\"127.0.0.1:8443\"]\nserver_name = [\"a.test\"]\ntls = \"manual\"\n", 4, 7,
                 "a table or \"auto\"");
    expect_error("[[servers]]\nlisten = [\"127.0.0.1:8443\"]\nserver_name = [\"a.test\"]\n"
                 "tls = { acme = true, cert = \"cert.pem\" }\n", 4, 29, "not with acme = true");
    expect_error("[acme]\nchallenge = \"dns-01\"\n", 2, 13, "http-01");
}

TEST_F(AcmeConfig, AMissingCaBundleIsRefused) {
    auto c = load("[acme]\nca_bundle = \"missing.pem\"\n");
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("[acme] ca_bundle"), std::string::npos) << c.error().message;
}

}  // namespace
}  // namespace ne::config::testing
