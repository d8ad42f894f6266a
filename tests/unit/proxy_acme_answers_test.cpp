// The proxy's ACME answers: the tls-alpn-01 context only for a ClientHello offering
// "acme-tls/1" alone, http-01 by token, and a set replaced whole.
#include <gtest/gtest.h>

#include "proxy/tls/acme_answers.h"

namespace ne::proxy {
namespace {

TEST(AcmeAnswers, OnlyTheCasAlpnListSelectsTheChallenge) {
    EXPECT_TRUE(offers_only_acme_tls(std::string("\x00\x0b\x0a", 3) + "acme-tls/1"));
    EXPECT_FALSE(offers_only_acme_tls(std::string("\x00\x14\x0a", 3) + "acme-tls/1" + "\x08" + "http/1.1"));
    EXPECT_FALSE(offers_only_acme_tls(std::string("\x00\x03\x02", 3) + "h2"));
    EXPECT_FALSE(offers_only_acme_tls(""));
}

TEST(AcmeAnswers, HttpTokensAndABadCertificateKeepsThePreviousSet) {
    AcmeAnswers a;
    EXPECT_TRUE(a.empty());
    ASSERT_TRUE(a.set(ipc::AcmeChallenges{1, {{"tok", "tok.thumb"}}, {}}));
    EXPECT_EQ(a.http01("tok"), "tok.thumb");
    EXPECT_EQ(a.http01("other"), "");
    EXPECT_EQ(a.alpn_context("a.test"), nullptr);
    EXPECT_FALSE(a.set(ipc::AcmeChallenges{2, {}, {{"a.test", "not pem", "not pem"}}}));
    EXPECT_EQ(a.http01("tok"), "tok.thumb");
    ASSERT_TRUE(a.set(ipc::AcmeChallenges{3, {}, {}}));
    EXPECT_TRUE(a.empty());
}

}  // namespace
}  // namespace ne::proxy
