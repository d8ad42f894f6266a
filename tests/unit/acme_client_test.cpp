// The ACME client's pure parts: base64url, JWK and JWS (verified back with OpenSSL), the
// RFC 8737 challenge certificate, a CSR's names, certificate facts with their ARI id, and when
// to renew (ARI window, renew_before).
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <nlohmann/json.hpp>

#include "acme/certs.h"
#include "acme/keys.h"
#include "acme/renewal.h"

namespace ne::acme {
namespace {

using nlohmann::json;

std::string unbase64url(const std::string& in) {
    std::string b64 = in;
    for (char& c : b64) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (b64.size() % 4) b64 += '=';
    std::string out(b64.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(b64.data()),
                            static_cast<int>(b64.size()));
    out.resize(static_cast<size_t>(n) - (in.size() % 4 == 2 ? 2 : in.size() % 4 == 3 ? 1 : 0));
    return out;
}

TEST(AcmeKeys, Base64urlHasNoPaddingAndTheUrlAlphabet) {
    EXPECT_EQ(base64url(""), "");
    EXPECT_EQ(base64url("f"), "Zg");
    EXPECT_EQ(base64url("fo"), "Zm8");
    EXPECT_EQ(base64url("foo"), "Zm9v");
    EXPECT_EQ(base64url("\xfb\xff"), "-_8");
}

TEST(AcmeKeys, Es256JwsVerifiesWithTheJwkAndTheThumbprintIsStable) {
    auto key = generate_key("P-256");
    ASSERT_TRUE(key) << key.error().message;
    const json jwk_ = jwk(key->get());
    EXPECT_EQ(jwk_.dump().substr(0, 25), R"({"crv":"P-256","kty":"EC")");   // RFC 7638 member order
    EXPECT_EQ(unbase64url(jwk_["x"]).size(), 32u);
    auto again = read_key_pem(key_pem(key->get()));
    ASSERT_TRUE(again);
    EXPECT_EQ(thumbprint(again->get()), thumbprint(key->get()));

    auto jws = sign_jws(key->get(), {{"nonce", "n1"}, {"url", "https://ca/x"}}, R"({"a":1})");
    ASSERT_TRUE(jws) << jws.error().message;
    const json j = json::parse(*jws);
    EXPECT_EQ(json::parse(unbase64url(j["protected"]))["alg"], "ES256");
    EXPECT_EQ(unbase64url(j["payload"]), R"({"a":1})");
    const std::string sig = unbase64url(j["signature"]);
    ASSERT_EQ(sig.size(), 64u);
    // r || s back to DER, verified against the signing input.
    ECDSA_SIG* der = ECDSA_SIG_new();
    ECDSA_SIG_set0(der, BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr),
                   BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr));
    unsigned char* der_bytes = nullptr;
    const int der_len = i2d_ECDSA_SIG(der, &der_bytes);
    const std::string input = j["protected"].get<std::string>() + "." + j["payload"].get<std::string>();
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key->get()), 1);
    EXPECT_EQ(EVP_DigestVerify(ctx, der_bytes, static_cast<size_t>(der_len),
                               reinterpret_cast<const unsigned char*>(input.data()), input.size()), 1);
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der_bytes);
    ECDSA_SIG_free(der);
}

TEST(AcmeKeys, Rs256ForRsaKeysAndUnknownTypesRefused) {
    auto key = generate_key("RSA-2048");
    ASSERT_TRUE(key);
    EXPECT_EQ(jwk(key->get())["kty"], "RSA");
    EXPECT_EQ(jwk(key->get())["e"], "AQAB");
    auto jws = sign_jws(key->get(), {{"nonce", "n"}}, "");
    ASSERT_TRUE(jws);
    EXPECT_EQ(json::parse(unbase64url(json::parse(*jws)["protected"]))["alg"], "RS256");
    auto bad = generate_key("ed25519");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("P-256"), std::string::npos);
}

TEST(AcmeCerts, TheAlpnCertificateCarriesTheDigestInACriticalAcmeIdentifier) {
    auto cert = make_alpn_certificate("a.test", "tok.thumb");
    ASSERT_TRUE(cert) << cert.error().message;
    BIO* bio = BIO_new_mem_buf(cert->cert_pem.data(), static_cast<int>(cert->cert_pem.size()));
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ASSERT_NE(x, nullptr);
    ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    const int at = X509_get_ext_by_OBJ(x, oid, -1);
    ASSERT_GE(at, 0);
    X509_EXTENSION* ext = X509_get_ext(x, at);
    EXPECT_EQ(X509_EXTENSION_get_critical(ext), 1);
    const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_Digest("tok.thumb", 9, digest, &len, EVP_sha256(), nullptr);
    const std::string expected = std::string("\x04\x20", 2) + std::string(reinterpret_cast<char*>(digest), 32);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)), static_cast<size_t>(ASN1_STRING_length(value))),
              expected);
    EXPECT_EQ(X509_check_host(x, "a.test", 0, 0, nullptr), 1);
    ASN1_OBJECT_free(oid);
    X509_free(x);
}

TEST(AcmeCerts, TheCsrNamesEveryHost) {
    auto key = generate_key("P-256");
    auto der = make_csr(key->get(), {"a.test", "www.a.test"});
    ASSERT_TRUE(der) << der.error().message;
    const auto* p = reinterpret_cast<const unsigned char*>(der->data());
    X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der->size()));
    ASSERT_NE(req, nullptr);
    EXPECT_EQ(X509_REQ_verify(req, key->get()), 1);
    STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
    auto* san = static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr));
    ASSERT_NE(san, nullptr);
    ASSERT_EQ(sk_GENERAL_NAME_num(san), 2);
    const ASN1_IA5STRING* second = sk_GENERAL_NAME_value(san, 1)->d.dNSName;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(second))), "www.a.test");
    GENERAL_NAMES_free(san);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
}

TEST(AcmeCerts, FactsOfACertificate) {
    auto cert = make_alpn_certificate("a.test", "k");
    auto info = read_certificate_info(cert->cert_pem);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->issuer, "a.test");
    EXPECT_EQ(info->names, std::vector<std::string>{"a.test"});
    EXPECT_EQ(info->not_after - info->not_before, 7 * 24 * 3600 + 3600);
    EXPECT_EQ(info->ari_id, "");   // self-signed without an authority key id
    EXPECT_FALSE(read_certificate_info("not a certificate"));
}

TEST(AcmeRenewal, RenewBeforeOrAThirdOfTheLifetime) {
    EXPECT_EQ(renew_at_by_lifetime(0, 90 * 86400, 0), 60 * 86400);
    EXPECT_EQ(renew_at_by_lifetime(0, 90 * 86400, 10 * 86400), 80 * 86400);
}

TEST(AcmeRenewal, Rfc3339AndTheSuggestedWindow) {
    EXPECT_EQ(parse_rfc3339("1970-01-02T00:00:00Z"), 86400);
    EXPECT_EQ(parse_rfc3339("1970-01-02T01:00:00.250+01:00"), 86400);
    EXPECT_EQ(parse_rfc3339("2025-06-01 12:00:00"), std::nullopt);
    auto w = parse_renewal_info(R"({"suggestedWindow":{"start":"1970-01-02T00:00:00Z","end":"1970-01-03T00:00:00Z"}})");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->start, 86400);
    EXPECT_EQ(pick_in_window(*w, 0.5), 86400 + 43200);
    EXPECT_FALSE(parse_renewal_info(R"({"suggestedWindow":{"start":"1970-01-03T00:00:00Z","end":"1970-01-02T00:00:00Z"}})"));
    EXPECT_FALSE(parse_renewal_info("{}"));
}

}  // namespace
}  // namespace ne::acme
