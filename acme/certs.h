// The ACME client's X.509 work: the CSR sent to finalize an order, the tls-alpn-01 challenge
// certificate (RFC 8737), and what the daemon reports of an issued certificate (validity,
// issuer, and its ARI identifier, RFC 9773 4.1).
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ipc/result.h"

namespace ne::acme {

// DER CertificationRequest for `names` (first is the subject CN, all are SANs), signed by `key`.
Result<std::string> make_csr(EVP_PKEY* key, const std::vector<std::string>& names);

struct AlpnCertificate {
    std::string cert_pem;
    std::string key_pem;
};
// Self-signed, for `name` alone, with the critical acmeIdentifier extension holding
// SHA-256(key_authorization).
Result<AlpnCertificate> make_alpn_certificate(const std::string& name, const std::string& key_authorization);

struct CertificateInfo {
    int64_t not_before = 0;      // unix seconds
    int64_t not_after = 0;
    std::string issuer;          // the issuer's CN (else its one-line name)
    std::vector<std::string> names;   // its DNS subjectAltNames
    std::string ari_id;          // base64url(authority key id) "." base64url(serial); "" without an AKI
};
// The first certificate of a PEM chain.
Result<CertificateInfo> read_certificate_info(const std::string& pem);

}  // namespace ne::acme
