// The checks a `tls = { ... }` table gets before anything starts (`check`, `start`, `reload`):
// its protocols form one OpenSSL version range, its cipher list means something to OpenSSL,
// and its files are readable and consistent (a PEM certificate chain, a PEM private key that
// belongs to the certificate, a DER OCSP response). The proxy builds its SSL_CTX from the
// same range, so what passes here is what it serves.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "ipc/result.h"

namespace ne::config {

// OpenSSL protocol version numbers (TLS1_2_VERSION, ...).
struct ProtocolRange {
    int min = 0;
    int max = 0;
};

// ["TLSv1.2", "TLSv1.3"] -> {TLS1_2_VERSION, TLS1_3_VERSION}. The list must be non-empty and
// without holes (["TLSv1", "TLSv1.2"] leaves out 1.1), since OpenSSL takes a min and a max.
Result<ProtocolRange> tls_protocol_range(const std::vector<std::string>& protocols);

// Mozilla's "intermediate" TLS 1.2 cipher list (TLS 1.3 suites are OpenSSL's defaults).
extern const char* const kIntermediateCiphers;

// The contents of the files tls tables name (`cert`, `key`, `ocsp`), by path. The daemon
// reads them (it may be root, and a key file 0600) and passes them to proxy workers in their
// config message: a worker opens no TLS file, so a `[proxy] user` needs no access to any, and
// the private key never has to be readable by it.
using TlsFiles = std::map<std::string, std::string>;
// Every file `cfg`'s tls tables name; the error names the file and the tls table.
Result<TlsFiles> read_tls_files(const Config& cfg);

// Everything above for one server's tls table; the message says which file and why
// (without a position: the caller puts tls.where in front).
Status check_tls(const Tls& tls);

}  // namespace ne::config
