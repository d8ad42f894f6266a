// A self-signed P-256 certificate and its key as PEM files, for tests of code that loads TLS
// files (config validation checks that the key belongs to the certificate).
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <memory>
#include <string>

namespace ne::tls_testing {

// False when OpenSSL or the files failed.
inline bool write_test_cert(const std::string& cert_path, const std::string& key_path,
                            const std::string& common_name = "test.example") {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    if (!key || !cert) return false;
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return false;
    std::unique_ptr<FILE, decltype(&fclose)> c(fopen(cert_path.c_str(), "w"), fclose);
    std::unique_ptr<FILE, decltype(&fclose)> k(fopen(key_path.c_str(), "w"), fclose);
    return c && k && PEM_write_X509(c.get(), cert.get()) == 1 &&
           PEM_write_PrivateKey(k.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
}

}  // namespace ne::tls_testing
