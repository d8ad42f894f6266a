#include "proxy/tls/pem.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <memory>

namespace ne::proxy {

namespace {

struct PemBioFree { void operator()(BIO* b) const { BIO_free(b); } };
using PemBio = std::unique_ptr<BIO, PemBioFree>;

PemBio read_only(std::string_view pem) { return PemBio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))); }

}  // namespace

bool use_certificate_chain(SSL_CTX* ctx, std::string_view pem) {
    PemBio bio = read_only(pem);
    if (!bio) return false;
    X509* leaf = PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr);
    const bool used = leaf && SSL_CTX_use_certificate(ctx, leaf) == 1;
    X509_free(leaf);
    if (!used || SSL_CTX_clear_chain_certs(ctx) != 1) return false;
    while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
        if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
            X509_free(ca);
            return false;
        }
    }
    // The loop ends on "no start line" after the last certificate: the end, not an error.
    const unsigned long last = ERR_peek_last_error();
    if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
        return true;
    }
    return last == 0;
}

bool use_private_key(SSL_CTX* ctx, std::string_view pem) {
    PemBio bio = read_only(pem);
    if (!bio) return false;
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    const bool used = key && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    return used;
}

}  // namespace ne::proxy
