// The daemon <-> ACME job protocol. The daemon runs ACME in a child (`nodeedge __acme-job`),
// one certificate at a time, so that HTTPS round trips to the CA never block its loop. The
// job reads one Job line on stdin and writes JSON lines on stdout:
//   {"type":"challenges", "http":{token: key_authorization}, "alpn":[{name, cert, key}]}
//       the job asks the daemon to have every proxy worker answer these; the daemon replies
//       {"type":"challenges_ready"} on stdin once each worker said it does (ipc/messages.h)
//   {"type":"outcome", ...Outcome}   the last line; the job then exits
// Its stderr is the daemon's log. Files live under $NODEEDGE_HOME/acme/ (mode 0600).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ne::ipc::acme {

struct Job {
    std::string home;                 // $NODEEDGE_HOME
    std::string name;                 // the certificate's name: its server's first server_name
    std::vector<std::string> names;   // every name of the server (the CSR's SANs)
    std::string email;
    std::string directory;
    std::string ca_bundle;            // "" = the system's
    std::string challenge;            // "http-01" or "tls-alpn-01"
    std::string key_type;             // "P-256" or "RSA-2048"
    int64_t renew_before_s = 0;       // 0: a third of the certificate's lifetime
    bool force = false;               // order even when the certificate is not due
};

struct Outcome {
    bool ok = false;
    bool ordered = false;             // a new certificate was issued and stored
    std::string error;                // why not (the CA's problem document, or ours)
    std::string issuer;
    int64_t not_before = 0;           // unix seconds; 0: no certificate
    int64_t not_after = 0;
    int64_t renew_at = 0;             // when the job should run again to renew
    bool ari = false;                 // renew_at came from the CA's renewalInfo (RFC 9773)
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Job, home, name, names, email, directory, ca_bundle, challenge,
                                                key_type, renew_before_s, force)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Outcome, ok, ordered, error, issuer, not_before, not_after, renew_at,
                                                ari)

inline std::string dir(const std::string& home) { return home + "/acme"; }
inline std::string account_key_path(const std::string& home) { return dir(home) + "/account.key"; }
inline std::string cert_path(const std::string& home, const std::string& name) {
    return dir(home) + "/certs/" + name + ".crt";
}
inline std::string key_path(const std::string& home, const std::string& name) {
    return dir(home) + "/certs/" + name + ".key";
}

}  // namespace ne::ipc::acme
