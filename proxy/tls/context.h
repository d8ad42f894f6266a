// The SSL_CTX of every TLS server in one config, built with the config's snapshot: a new
// connection takes the current snapshot's context, an open one keeps the context its SSL
// holds a reference to. So a reload with new certificates changes new handshakes only.
//
// A `tls = "auto"` server's certificate and key are the files the daemon names in the config
// (its ACME store); until the first is issued, a self-signed stand-in for its names serves.
//
// Each context: the server's protocol range and cipher list (Mozilla intermediate by
// default) in the server's order unless prefer_server_ciphers is off, session tickets off
// unless asked for (then under the rotated keys of the shared cache), renegotiation off, its
// certificate chain and key, ALPN (h2 when the server has http2, else http/1.1), the OCSP
// response file stapled when asked for, sessions kept session_timeout in the cache shared by
// every proxy worker (or, without one, in OpenSSL's per-process cache), and SNI: the handshake switches to the context of the
// server its name selects on that listen address (RouteTable's rules; no name or an unknown
// one keeps the default server).
//
// The switch happens on the ClientHello, before OpenSSL looks the offered session up, and
// each server has its own session id context (its names and certificate): a session made
// with one server's certificate is never resumed on another server, as nginx keys its cache
// per server block (else a TLS 1.2 client could resume a.test's session while asking for
// b.test and skip b.test's certificate).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/tls.h"
#include "ipc/result.h"
#include "proxy/route/router.h"
#include "proxy/tls/session_cache.h"

namespace ne::proxy {

class AcmeAnswers;

struct SslCtxFree { void operator()(SSL_CTX* c) const { SSL_CTX_free(c); } };
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

class TlsContexts {
public:
    TlsContexts();
    ~TlsContexts();
    TlsContexts(TlsContexts&&) noexcept;
    TlsContexts& operator=(TlsContexts&&) noexcept;

    // Contexts for every server with tls in `cfg`, with the private keys the master read
    // (`keys`, by path: no key file is opened here), keeping sessions in `sessions` (which
    // must outlive them; null: OpenSSL's per-process cache). Errors name the server's tls
    // table ("file:line:col") and the file OpenSSL refused.
    static Result<TlsContexts> build(const config::Config& cfg, const config::TlsFiles& keys,
                                     TlsSessionCache* sessions = nullptr);

    // Server `server`'s context; null for a plain server (or -1).
    SSL_CTX* context(int server) const;
    // The port redirect_https sends a plain `server` to: the first TLS listen port of a server
    // sharing one of its names (any TLS server when it has none); 443 when there is none.
    int https_port(int server) const;

    struct Server;   // one server's context and what its callbacks need (tls_context.cpp)

private:
    std::vector<std::unique_ptr<Server>> servers_;   // by server index; contexts point into them
    std::vector<int> https_ports_;
};

// The SNI callback finds the listen address and the table to choose with through the SSL;
// the pointer must stay valid until the handshake is over.
struct TlsSelector {
    const RouteTable* routes = nullptr;
    const TlsContexts* contexts = nullptr;
    std::string_view listen;
    const AcmeAnswers* acme = nullptr;   // tls-alpn-01 challenges; null: none
};
void set_tls_selector(SSL* ssl, const TlsSelector* selector);

// SNI (pure): the host name in a ClientHello's server_name extension body, "" when there is
// none or the extension is malformed.
std::string_view sni_host_name(std::string_view extension);

// ALPN (pure): the protocol to pick from a client's wire-format list ("\x02h2\x08http/1.1"):
// "h2" when `http2` and offered, else "http/1.1" when offered, else "" (no ALPN answer).
std::string_view choose_alpn(std::string_view client_list, bool http2);

}  // namespace ne::proxy
