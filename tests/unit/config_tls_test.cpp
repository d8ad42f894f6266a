#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "config/tls.h"
#include "unit/config_test_dir.h"
#include "unit/tls_test_cert.h"

namespace ne::config {
namespace {

using testing::TestDir;
using ne::tls_testing::write_test_cert;

TEST(TlsProtocolRange, ListsBecomeAContiguousRange) {
    auto r = tls_protocol_range({"TLSv1.2", "TLSv1.3"});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->min, TLS1_2_VERSION);
    EXPECT_EQ(r->max, TLS1_3_VERSION);
    r = tls_protocol_range({"TLSv1.3"});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->min, TLS1_3_VERSION);
    EXPECT_EQ(r->max, TLS1_3_VERSION);
    r = tls_protocol_range({"TLSv1.2", "TLSv1.1", "TLSv1"});  // order does not matter
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->min, TLS1_VERSION);
    EXPECT_EQ(r->max, TLS1_2_VERSION);
}

TEST(TlsProtocolRange, HolesEmptyListsAndUnknownNamesAreRefused) {
    auto hole = tls_protocol_range({"TLSv1", "TLSv1.2"});
    ASSERT_FALSE(hole.ok());
    EXPECT_NE(hole.error().message.find("TLSv1.1 is missing"), std::string::npos) << hole.error().message;
    EXPECT_FALSE(tls_protocol_range({}).ok());
    EXPECT_FALSE(tls_protocol_range({"SSLv3"}).ok());
}

class CheckTls : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(write_test_cert(dir.file("cert.pem"), dir.file("key.pem")));
        ASSERT_TRUE(write_test_cert(dir.file("other.pem"), dir.file("other.key")));
        tls.enabled = true;
        tls.cert = dir.file("cert.pem");
        tls.key = dir.file("key.pem");
    }
    std::string error() {
        auto st = check_tls(tls);
        return st.ok() ? "" : st.error().message;
    }
    TestDir dir;
    Tls tls;
};

TEST_F(CheckTls, AMatchingPairPasses) { EXPECT_EQ(error(), ""); }

TEST_F(CheckTls, AKeyOfAnotherCertificateIsRefused) {
    tls.key = dir.file("other.key");
    EXPECT_NE(error().find("does not belong to the certificate in " + tls.cert), std::string::npos) << error();
}

TEST_F(CheckTls, MissingAndMalformedFilesSayWhichAndWhy) {
    tls.cert = dir.file("absent.pem");
    EXPECT_NE(error().find("tls cert " + tls.cert + ": No such file or directory"), std::string::npos) << error();
    tls.cert = dir.write("junk.pem", "not a certificate\n");
    EXPECT_NE(error().find("not a PEM certificate"), std::string::npos) << error();
    tls.cert = dir.file("cert.pem");
    tls.key = dir.file("cert.pem");  // a certificate where the key should be
    EXPECT_NE(error().find("tls key " + tls.key + ": not an unencrypted PEM private key"), std::string::npos) << error();
}

TEST_F(CheckTls, CiphersAndOcspAreChecked) {
    tls.ciphers = "NO-SUCH-CIPHER";
    EXPECT_NE(error().find("no cipher OpenSSL knows"), std::string::npos) << error();
    tls.ciphers = "ECDHE-RSA-AES128-GCM-SHA256";
    EXPECT_EQ(error(), "");
    tls.ocsp = dir.write("ocsp.der", "not DER");
    EXPECT_NE(error().find("not a DER OCSP response"), std::string::npos) << error();
    tls.ocsp = dir.write("ocsp.der", std::string("\x30\x03\x0a\x01\x06", 5));
    EXPECT_EQ(error(), "");
}

}  // namespace
}  // namespace ne::config
