// The ACME client's cryptography on keys: generating and storing them (PEM), the account key
// as a JWK and its thumbprint (RFC 7638), and JWS signatures in the flattened JSON form ACME
// posts (RFC 8555 6.2: ES256 for P-256 keys, RS256 for RSA ones).
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ipc/result.h"

namespace ne::acme {

struct PkeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string base64url(std::string_view bytes);

// "P-256" or "RSA-2048".
Result<PkeyPtr> generate_key(const std::string& type);
Result<PkeyPtr> read_key_pem(const std::string& pem);
std::string key_pem(EVP_PKEY* key);

// The public key as a JWK, members in lexicographic order (so dump() is RFC 7638's input).
nlohmann::json jwk(EVP_PKEY* key);
// base64url(SHA-256(canonical JWK)): the second half of a key authorization.
std::string thumbprint(EVP_PKEY* key);

// {"protected", "payload", "signature"} for `header` (alg is added) and `payload` ("" for a
// POST-as-GET).
Result<std::string> sign_jws(EVP_PKEY* key, nlohmann::json header, const std::string& payload);

}  // namespace ne::acme
