// The certificate a `tls = "auto"` server shows until its first ACME certificate exists: self
// signed for the server's names, valid a day, made in memory (nothing to store or renew). A
// browser warns, which says plainly that the certificate is not there yet; plain HTTP keeps
// working meanwhile (Caddy and HAProxy do the same while their first order runs).
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <vector>

#include "ipc/result.h"

namespace ne::proxy {

Status use_stand_in(SSL_CTX* ctx, const std::vector<std::string>& names);

}  // namespace ne::proxy
