#include "acme/keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <array>

namespace ne::acme {

using nlohmann::json;

namespace {

std::string openssl_reason() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    return e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown OpenSSL error" : "unknown OpenSSL error";
}

struct BnFree { void operator()(BIGNUM* b) const { BN_free(b); } };
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

// A big-endian unsigned integer of `width` bytes (0: as short as it goes).
std::string bn_param(EVP_PKEY* key, const char* name, int width) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return {};
    BnPtr bn(raw);
    std::string out(static_cast<size_t>(width ? width : BN_num_bytes(bn.get())), '\0');
    BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
    return out;
}

bool is_ec(EVP_PKEY* key) { return EVP_PKEY_get_base_id(key) == EVP_PKEY_EC; }

}  // namespace

std::string base64url(std::string_view bytes) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(kAlphabet[(acc >> bits) & 63]);
        }
    }
    if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
    return out;
}

Result<PkeyPtr> generate_key(const std::string& type) {
    EVP_PKEY* k = nullptr;
    if (type == "P-256") k = EVP_EC_gen("P-256");
    else if (type == "RSA-2048") k = EVP_RSA_gen(2048);
    else return Error{"key type \"" + type + "\": expected \"P-256\" or \"RSA-2048\""};
    if (!k) return Error{"generate a " + type + " key: " + openssl_reason()};
    return PkeyPtr(k);
}

Result<PkeyPtr> read_key_pem(const std::string& pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    EVP_PKEY* k = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (!k) return Error{"not a PEM private key: " + openssl_reason()};
    return PkeyPtr(k);
}

std::string key_pem(EVP_PKEY* key) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
}

json jwk(EVP_PKEY* key) {
    if (is_ec(key))
        return {{"crv", "P-256"}, {"kty", "EC"},
                {"x", base64url(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
                {"y", base64url(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
    return {{"e", base64url(bn_param(key, OSSL_PKEY_PARAM_RSA_E, 0))}, {"kty", "RSA"},
            {"n", base64url(bn_param(key, OSSL_PKEY_PARAM_RSA_N, 0))}};
}

std::string thumbprint(EVP_PKEY* key) {
    const std::string canonical = jwk(key).dump();
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    EVP_Digest(canonical.data(), canonical.size(), md.data(), &len, EVP_sha256(), nullptr);
    return base64url({reinterpret_cast<const char*>(md.data()), len});
}

Result<std::string> sign_jws(EVP_PKEY* key, json header, const std::string& payload) {
    header["alg"] = is_ec(key) ? "ES256" : "RS256";
    const std::string protected64 = base64url(header.dump());
    const std::string payload64 = base64url(payload);
    const std::string input = protected64 + "." + payload64;

    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
        return Error{"sign an ACME request: " + openssl_reason()};
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
        return Error{"sign an ACME request: " + openssl_reason()};
    sig.resize(len);
    if (is_ec(key)) {
        // OpenSSL signs ECDSA as DER; JWS wants r and s, 32 bytes each (RFC 7518 3.4).
        const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
        std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> der(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())),
                                                                 ECDSA_SIG_free);
        if (!der) return Error{"sign an ACME request: malformed ECDSA signature"};
        std::string raw(64, '\0');
        BN_bn2binpad(ECDSA_SIG_get0_r(der.get()), reinterpret_cast<unsigned char*>(raw.data()), 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(der.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
        sig = std::move(raw);
    }
    return json{{"protected", protected64}, {"payload", payload64}, {"signature", base64url(sig)}}.dump();
}

}  // namespace ne::acme
