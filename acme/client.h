// An ACME (RFC 8555) account session: the directory, nonces, signed requests (with the one
// retry on badNonce the RFC asks for), the account, and one order from new-order to the
// downloaded chain. Problem documents become Errors: "<step>: <detail> (<type>)".
#pragma once

#include <openssl/evp.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "acme/http_client.h"
#include "ipc/messages.h"
#include "ipc/result.h"

namespace ne::acme {

struct SignedResponse {
    long status = 0;
    std::string location;
    std::string retry_after;
    std::string body;
    nlohmann::json json() const;
};

// What an order asks of the world: have the proxy workers answer these challenges (returns
// once they do), and stop answering them.
struct ChallengePublisher {
    std::function<Status(const ipc::AcmeChallenges&)> publish;
    std::function<void()> withdraw;
};

class AcmeClient {
public:
    AcmeClient(HttpClient& http, EVP_PKEY* account_key);

    Status open(const std::string& directory_url);
    // The directory's renewalInfo URL (RFC 9773); "" when it offers none.
    std::string renewal_info_url() const;
    // Creates the account, or finds the one of this key (new-account answers 200 for it).
    Status account(const std::string& email);
    // Orders a certificate for `names` with challenge `type` ("http-01" / "tls-alpn-01"),
    // finalizes with a CSR of `cert_key` and returns the PEM chain. `replaces`: the ARI id of
    // the certificate this one renews ("" for none).
    Result<std::string> order(const std::vector<std::string>& names, const std::string& type, EVP_PKEY* cert_key,
                              const std::string& replaces, const ChallengePublisher& challenges);

    // The names whose validation failed in the last order() (all are tried, not just the first).
    const std::vector<std::string>& refused() const { return refused_; }

    // A signed POST (`payload` null: POST-as-GET).
    Result<SignedResponse> post(const std::string& url, const nlohmann::json* payload);

private:
    Result<std::string> nonce();
    Result<nlohmann::json> poll(const std::string& url, const std::string& what, const char* pending_a,
                                const char* pending_b);
    Status authorize(const nlohmann::json& order, const std::string& type, const ChallengePublisher& challenges);

    HttpClient& http_;
    EVP_PKEY* key_;
    nlohmann::json directory_;
    std::string kid_;
    std::string nonce_;
    std::vector<std::string> refused_;
};

// "detail (type)" of a problem document, else the body as received.
std::string problem_text(const std::string& body);

}  // namespace ne::acme
