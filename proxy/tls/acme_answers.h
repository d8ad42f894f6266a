// The ACME challenges this proxy worker answers now, as the daemon last sent them
// (ipc::AcmeChallenges): http-01 key authorizations by token, served on plain listeners
// before any redirect or location; tls-alpn-01 contexts by name, whose RFC 8737 certificate
// goes only to a ClientHello that offers ALPN "acme-tls/1" and nothing else (the CA's
// validation), never to a browser.
#pragma once

#include <openssl/ssl.h>

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "ipc/messages.h"
#include "ipc/result.h"
#include "proxy/tls/context.h"

namespace ne::proxy {

inline constexpr std::string_view kAcmeTlsAlpn = "acme-tls/1";
inline constexpr std::string_view kAcmeHttpPrefix = "/.well-known/acme-challenge/";

class AcmeAnswers {
public:
    // Replaces the whole set. A certificate that does not load is an Error naming its name;
    // the previous set is kept then.
    Status set(const ipc::AcmeChallenges& challenges);

    // The key authorization for `token`; "" when there is no such challenge.
    std::string_view http01(std::string_view token) const;
    // The challenge context for `name`; null when there is none.
    SSL_CTX* alpn_context(std::string_view name) const;
    bool empty() const { return http_.empty() && alpn_.empty(); }

private:
    std::map<std::string, std::string, std::less<>> http_;
    std::map<std::string, SslCtxPtr, std::less<>> alpn_;
};

// True when an ALPN extension body (u16 length, then the protocols) lists "acme-tls/1" alone,
// as RFC 8737 3 has the CA send it.
bool offers_only_acme_tls(std::string_view alpn_extension);

}  // namespace ne::proxy
