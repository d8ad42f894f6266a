#include "acme/certs.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <memory>

#include "acme/keys.h"

namespace ne::acme {

namespace {

template <typename T, void (*F)(T*)>
struct Free { void operator()(T* p) const { F(p); } };
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Free<X509_REQ, X509_REQ_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES, GENERAL_NAMES_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION, X509_EXTENSION_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;

Error openssl_error(const std::string& what) {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    const char* why = e ? ERR_reason_error_string(e) : nullptr;
    return Error{what + ": " + (why ? why : "unknown OpenSSL error")};
}

NamesPtr dns_names(const std::vector<std::string>& names) {
    NamesPtr out(GENERAL_NAMES_new());
    for (const auto& n : names) {
        GENERAL_NAME* g = GENERAL_NAME_new();
        ASN1_IA5STRING* s = ASN1_IA5STRING_new();
        ASN1_STRING_set(s, n.data(), static_cast<int>(n.size()));
        GENERAL_NAME_set0_value(g, GEN_DNS, s);
        sk_GENERAL_NAME_push(out.get(), g);
    }
    return out;
}

int64_t unix_time(const ASN1_TIME* t) {
    struct tm tm{};
    if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return static_cast<int64_t>(timegm(&tm));
}

std::string pem_of(X509* x) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), x);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
}

}  // namespace

Result<std::string> make_csr(EVP_PKEY* key, const std::vector<std::string>& names) {
    ReqPtr req(X509_REQ_new());
    X509_NAME* subject = X509_REQ_get_subject_name(req.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(names.front().c_str()),
                               -1, -1, 0);
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    NamesPtr san = dns_names(names);
    X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, san.get());
    sk_X509_EXTENSION_push(exts, ext);
    const bool ok = X509_REQ_add_extensions(req.get(), exts) == 1 && X509_REQ_set_pubkey(req.get(), key) == 1 &&
                    X509_REQ_sign(req.get(), key, EVP_sha256()) > 0;
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    if (!ok) return openssl_error("CSR for " + names.front());
    unsigned char* der = nullptr;
    int len = i2d_X509_REQ(req.get(), &der);
    if (len <= 0) return openssl_error("CSR for " + names.front());
    std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    return out;
}

Result<AlpnCertificate> make_alpn_certificate(const std::string& name, const std::string& key_authorization) {
    auto key = generate_key("P-256");
    if (!key) return key.error();
    X509Ptr x(X509_new());
    X509_set_version(x.get(), 2);
    std::array<unsigned char, 16> serial{};
    RAND_bytes(serial.data(), serial.size());
    serial[0] &= 0x7f;
    BIGNUM* bn = BN_bin2bn(serial.data(), serial.size(), nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 7 * 24 * 3600);
    X509_NAME* subject = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
    X509_set_issuer_name(x.get(), subject);
    X509_set_pubkey(x.get(), key->get());

    NamesPtr san = dns_names({name});
    X509_add1_ext_i2d(x.get(), NID_subject_alt_name, san.get(), 0, 0);
    // id-pe-acmeIdentifier: critical, its value the DER OCTET STRING of the SHA-256 digest.
    std::array<unsigned char, 34> value{0x04, 0x20};
    unsigned int len = 0;
    EVP_Digest(key_authorization.data(), key_authorization.size(), value.data() + 2, &len, EVP_sha256(), nullptr);
    std::unique_ptr<ASN1_OBJECT, Free<ASN1_OBJECT, ASN1_OBJECT_free>> oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1));
    std::unique_ptr<ASN1_OCTET_STRING, Free<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>> octets(ASN1_OCTET_STRING_new());
    ASN1_OCTET_STRING_set(octets.get(), value.data(), static_cast<int>(value.size()));
    ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 1, octets.get()));
    if (!ext || X509_add_ext(x.get(), ext.get(), -1) != 1 || X509_sign(x.get(), key->get(), EVP_sha256()) <= 0)
        return openssl_error("tls-alpn-01 certificate for " + name);
    return AlpnCertificate{pem_of(x.get()), key_pem(key->get())};
}

Result<CertificateInfo> read_certificate_info(const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!x) return openssl_error("not a PEM certificate");
    CertificateInfo info;
    info.not_before = unix_time(X509_get0_notBefore(x.get()));
    info.not_after = unix_time(X509_get0_notAfter(x.get()));
    const X509_NAME* issuer = X509_get_issuer_name(x.get());
    std::array<char, 256> cn{};
    if (X509_NAME_get_text_by_NID(const_cast<X509_NAME*>(issuer), NID_commonName, cn.data(), cn.size()) > 0) {
        info.issuer = cn.data();
    } else {
        char* line = X509_NAME_oneline(issuer, nullptr, 0);
        info.issuer = line ? line : "";
        OPENSSL_free(line);
    }
    if (auto* san = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x.get(), NID_subject_alt_name, nullptr, nullptr))) {
        for (int i = 0; i < sk_GENERAL_NAME_num(san); ++i) {
            const GENERAL_NAME* g = sk_GENERAL_NAME_value(san, i);
            if (g->type == GEN_DNS)
                info.names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                                        static_cast<size_t>(ASN1_STRING_length(g->d.dNSName)));
        }
        GENERAL_NAMES_free(san);
    }
    const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(x.get());
    const ASN1_INTEGER* serial = X509_get0_serialNumber(x.get());
    if (aki && serial) {
        // The serial's DER content octets, leading zero included (RFC 9773 4.1).
        unsigned char* der = nullptr;
        int len = i2d_ASN1_INTEGER(serial, &der);
        std::string s(reinterpret_cast<char*>(der), static_cast<size_t>(len > 0 ? len : 0));
        OPENSSL_free(der);
        if (s.size() > 2) s.erase(0, 2);   // tag and (short-form) length
        info.ari_id = base64url({reinterpret_cast<const char*>(ASN1_STRING_get0_data(aki)),
                                 static_cast<size_t>(ASN1_STRING_length(aki))}) + "." + base64url(s);
    }
    return info;
}

}  // namespace ne::acme
