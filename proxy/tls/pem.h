// A certificate chain and a private key from PEM text in memory, as the master passes them
// (config::TlsFiles): OpenSSL's *_file functions, without the file. A proxy worker opens no
// TLS file, so a `[proxy] user` needs no access to any, and the key may be root's alone.
#pragma once

#include <openssl/ssl.h>

#include <string_view>

namespace ne::proxy {

// The leaf, then its chain, as SSL_CTX_use_certificate_chain_file reads them. False (with
// OpenSSL's error queued) when there is no certificate or one does not parse.
bool use_certificate_chain(SSL_CTX* ctx, std::string_view pem);
// An unencrypted private key, as SSL_CTX_use_PrivateKey_file with SSL_FILETYPE_PEM.
bool use_private_key(SSL_CTX* ctx, std::string_view pem);

}  // namespace ne::proxy
