#include "proxy/tls/acme_answers.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <memory>

namespace ne::proxy {

namespace {

int select_acme_tls(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                    void*) {
    std::string_view offered(reinterpret_cast<const char*>(in), inlen);
    if (offered.size() != 1 + kAcmeTlsAlpn.size() || offered.substr(1) != kAcmeTlsAlpn) return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = in + 1;
    *outlen = static_cast<unsigned char>(kAcmeTlsAlpn.size());
    return SSL_TLSEXT_ERR_OK;
}

Result<SslCtxPtr> challenge_context(const ipc::AcmeAlpnChallenge& c) {
    auto fail = [&](const char* what) {
        unsigned long e = ERR_get_error();
        ERR_clear_error();
        const char* why = e ? ERR_reason_error_string(e) : nullptr;
        return Error{std::string("tls-alpn-01 ") + what + " for " + c.name + ": " + (why ? why : "unknown OpenSSL error")};
    };
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) return fail("context");
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new_mem_buf(c.cert_pem.data(), static_cast<int>(c.cert_pem.size())), BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new_mem_buf(c.key_pem.data(), static_cast<int>(c.key_pem.size())), BIO_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), X509_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr),
                                                            EVP_PKEY_free);
    if (!cert || !key || SSL_CTX_use_certificate(ctx.get(), cert.get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1)
        return fail("certificate");
    SSL_CTX_set_alpn_select_cb(ctx.get(), select_acme_tls, nullptr);
    return ctx;
}

}  // namespace

Status AcmeAnswers::set(const ipc::AcmeChallenges& challenges) {
    std::map<std::string, SslCtxPtr, std::less<>> alpn;
    for (const auto& c : challenges.alpn) {
        auto ctx = challenge_context(c);
        if (!ctx) return ctx.error();
        alpn[c.name] = std::move(*ctx);
    }
    http_ = {challenges.http.begin(), challenges.http.end()};
    alpn_ = std::move(alpn);
    return {};
}

std::string_view AcmeAnswers::http01(std::string_view token) const {
    auto it = http_.find(token);
    return it == http_.end() ? std::string_view() : std::string_view(it->second);
}

SSL_CTX* AcmeAnswers::alpn_context(std::string_view name) const {
    auto it = alpn_.find(name);
    return it == alpn_.end() ? nullptr : it->second.get();
}

bool offers_only_acme_tls(std::string_view ext) {
    return ext.size() == 3 + kAcmeTlsAlpn.size() && static_cast<unsigned char>(ext[0]) == 0 &&
           static_cast<unsigned char>(ext[1]) == 1 + kAcmeTlsAlpn.size() &&
           static_cast<unsigned char>(ext[2]) == kAcmeTlsAlpn.size() && ext.substr(3) == kAcmeTlsAlpn;
}

}  // namespace ne::proxy
