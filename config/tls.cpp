#include "config/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <memory>

namespace ne::config {

namespace {

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct PkeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct CtxFree { void operator()(SSL_CTX* c) const { SSL_CTX_free(c); } };
struct OcspFree { void operator()(OCSP_RESPONSE* r) const { OCSP_RESPONSE_free(r); } };

// OpenSSL's reason for the last failure ("no start line", "key values mismatch"), and the
// error queue emptied so the next check starts clean.
std::string ssl_reason(const std::string& fallback) {
    unsigned long e = ERR_peek_last_error();
    std::string why = e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : fallback : fallback;
    ERR_clear_error();
    return why;
}

Result<std::unique_ptr<BIO, BioFree>> open_file(const std::string& what, const std::string& path) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
    if (!bio) {
        ERR_clear_error();
        return Error::from_errno("tls " + what + " " + path);
    }
    return bio;
}

Status check_cert_and_key(const Tls& tls) {
    auto cert_bio = open_file("cert", tls.cert);
    if (!cert_bio) return cert_bio.error();
    std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(cert_bio->get(), nullptr, nullptr, nullptr));
    if (!cert)
        return Error{"tls cert " + tls.cert + ": not a PEM certificate (" + ssl_reason("unreadable") + ")"};
    auto key_bio = open_file("key", tls.key);
    if (!key_bio) return key_bio.error();
    std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(key_bio->get(), nullptr, nullptr, nullptr));
    if (!key)
        return Error{"tls key " + tls.key + ": not an unencrypted PEM private key (" +
                     ssl_reason("unreadable") + ")"};
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
        ERR_clear_error();
        return Error{"tls key " + tls.key + " does not belong to the certificate in " + tls.cert};
    }
    return {};
}

Status check_ciphers(const Tls& tls) {
    if (tls.ciphers.empty()) return {};
    std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) return Error{"tls: cannot create an OpenSSL context (" + ssl_reason("out of memory") + ")"};
    if (SSL_CTX_set_cipher_list(ctx.get(), tls.ciphers.c_str()) != 1) {
        ERR_clear_error();
        return Error{"tls ciphers \"" + tls.ciphers + "\": no cipher OpenSSL knows"};
    }
    return {};
}

Status check_ocsp(const Tls& tls) {
    if (tls.ocsp.empty()) return {};
    std::ifstream f(tls.ocsp, std::ios::binary);
    if (!f) return Error::from_errno("tls ocsp " + tls.ocsp);
    const std::string der{std::istreambuf_iterator<char>(f), {}};
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<OCSP_RESPONSE, OcspFree> resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
    if (!resp) {
        ERR_clear_error();
        return Error{"tls ocsp " + tls.ocsp + ": not a DER OCSP response"};
    }
    return {};
}

}  // namespace

const char* const kIntermediateCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

Result<ProtocolRange> tls_protocol_range(const std::vector<std::string>& protocols) {
    // In version order, so that a hole shows as a gap in indexes.
    static constexpr struct { const char* name; int version; } kKnown[] = {
        {"TLSv1", TLS1_VERSION}, {"TLSv1.1", TLS1_1_VERSION}, {"TLSv1.2", TLS1_2_VERSION}, {"TLSv1.3", TLS1_3_VERSION}};
    constexpr int kCount = static_cast<int>(std::size(kKnown));
    int lo = kCount, hi = -1;
    bool seen[kCount] = {};
    for (const auto& p : protocols) {
        int i = 0;
        while (i < kCount && p != kKnown[i].name) ++i;
        if (i == kCount) return Error{"tls protocols: unknown protocol \"" + p + "\""};
        seen[i] = true;
        lo = std::min(lo, i);
        hi = std::max(hi, i);
    }
    if (hi < 0) return Error{"tls protocols: the list is empty"};
    for (int i = lo; i <= hi; ++i)
        if (!seen[i])
            return Error{"tls protocols: " + std::string(kKnown[i].name) +
                         " is missing between the lowest and the highest listed (OpenSSL takes a range)"};
    return ProtocolRange{kKnown[lo].version, kKnown[hi].version};
}

Result<TlsFiles> read_tls_files(const Config& cfg) {
    TlsFiles files;
    for (const auto& s : cfg.servers) {
        if (!s.tls.enabled) continue;
        for (const auto& [what, path] : {std::pair{"cert", &s.tls.cert}, {"key", &s.tls.key}, {"ocsp", &s.tls.ocsp}}) {
            if (path->empty() || files.count(*path)) continue;
            std::ifstream f(*path, std::ios::binary);
            // An ACME certificate not issued yet: the proxy serves its stand-in meanwhile.
            if (!f && s.tls.acme && errno == ENOENT) continue;
            if (!f) return Error::from_errno(s.tls.where.str() + ": tls " + what + " " + *path);
            std::string bytes{std::istreambuf_iterator<char>(f), {}};
            if (f.bad()) return Error::from_errno(s.tls.where.str() + ": tls " + what + " " + *path);
            files.emplace(*path, std::move(bytes));
        }
    }
    return files;
}

Status check_tls(const Tls& tls) {
    if (auto r = tls_protocol_range(tls.protocols); !r) return r.error();
    if (tls.acme) return check_ciphers(tls);   // the certificate does not exist yet
    if (auto st = check_cert_and_key(tls); !st) return st;
    if (auto st = check_ciphers(tls); !st) return st;
    return check_ocsp(tls);
}

}  // namespace ne::config
