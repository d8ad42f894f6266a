#include "proxy/tls/stand_in.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace ne::proxy {

Status use_stand_in(SSL_CTX* ctx, const std::vector<std::string>& names) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
    if (!key || !x) return Error{"self-signed stand-in: cannot create a key"};
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 24 * 3600);
    const std::string cn = names.empty() ? "nodeedge" : names.front();
    X509_NAME* subject = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("nodeedge stand-in, ACME certificate pending"), -1, -1, 0);
    X509_set_issuer_name(x.get(), subject);
    X509_set_pubkey(x.get(), key.get());
    std::string san;
    for (const auto& n : names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
    if (!san.empty()) {
        X509V3_CTX v3;
        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
        std::unique_ptr<X509_EXTENSION, decltype(&X509_EXTENSION_free)> ext(
            X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str()), X509_EXTENSION_free);
        if (ext) X509_add_ext(x.get(), ext.get(), -1);
    }
    if (X509_sign(x.get(), key.get(), EVP_sha256()) <= 0 || SSL_CTX_use_certificate(ctx, x.get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
        ERR_clear_error();
        return Error{"self-signed stand-in: OpenSSL refused it"};
    }
    return {};
}

}  // namespace ne::proxy
