#include "proxy/tls/context.h"

#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/tls1.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <iterator>

#include "config/tls.h"
#include "proxy/tls/acme_answers.h"
#include "proxy/tls/pem.h"
#include "proxy/tls/stand_in.h"

namespace ne::proxy {

struct TlsContexts::Server {
    SslCtxPtr ctx;
    std::string ciphers;     // re-applied to an SSL that SNI moves to this context
    config::ProtocolRange protocols;
    std::string ocsp;        // DER response, stapled when a client asks; "" = none
    bool http2 = false;
    uint64_t options = 0;    // SSL_OP_* that differ between servers, re-applied on an SNI switch
    TicketPolicy tickets;    // its lifetime is the session_timeout of every session
    TlsSessionCache* sessions = nullptr;   // holds the ticket keys; null: OpenSSL's own keys
};

namespace {

std::string ssl_reason() {
    unsigned long e = ERR_peek_last_error();
    const char* why = e ? ERR_reason_error_string(e) : nullptr;
    ERR_clear_error();
    return why ? why : "unknown OpenSSL error";
}

int selector_index() {
    // An ex_data slot is process-wide by OpenSSL's design; it is taken once and never changes.
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

TlsContexts::Server* server_of(SSL_CTX* ctx) { return static_cast<TlsContexts::Server*>(SSL_CTX_get_app_data(ctx)); }

constexpr uint64_t kPerServerOptions = SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE;

// tls-alpn-01: the CA's ClientHello names the host and offers "acme-tls/1" alone.
SSL_CTX* acme_challenge_for(SSL* ssl, const TlsSelector* sel, std::string_view name) {
    const unsigned char* alpn = nullptr;
    size_t len = 0;
    if (!sel->acme || sel->acme->empty() ||
        SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &alpn, &len) != 1 ||
        !offers_only_acme_tls({reinterpret_cast<const char*>(alpn), len}))
        return nullptr;
    return sel->acme->alpn_context(name);
}

// SNI, on the ClientHello: before OpenSSL picks the version and cipher and looks the offered
// session up, so all of them are the named server's.
int on_client_hello(SSL* ssl, int* alert, void*) {
    const unsigned char* ext = nullptr;
    size_t len = 0;
    const auto* sel = static_cast<const TlsSelector*>(SSL_get_ex_data(ssl, selector_index()));
    if (!sel || SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) != 1)
        return SSL_CLIENT_HELLO_SUCCESS;
    const std::string_view name = sni_host_name({reinterpret_cast<const char*>(ext), len});
    if (name.empty()) return SSL_CLIENT_HELLO_SUCCESS;
    if (SSL_CTX* challenge = acme_challenge_for(ssl, sel, name)) {
        SSL_set_SSL_CTX(ssl, challenge);
        return SSL_CLIENT_HELLO_SUCCESS;
    }
    SSL_CTX* ctx = sel->contexts->context(sel->routes->server_for(sel->listen, name));
    if (!ctx || ctx == SSL_get_SSL_CTX(ssl)) return SSL_CLIENT_HELLO_SUCCESS;
    // SSL_set_SSL_CTX swaps the certificate, session id context, ALPN and OCSP callbacks; the
    // protocol range and ciphers stay the first context's unless set again here.
    SSL_set_SSL_CTX(ssl, ctx);
    const auto* s = server_of(ctx);
    SSL_set_min_proto_version(ssl, s->protocols.min);
    SSL_set_max_proto_version(ssl, s->protocols.max);
    SSL_clear_options(ssl, kPerServerOptions);
    SSL_set_options(ssl, s->options);
    if (SSL_set_cipher_list(ssl, s->ciphers.c_str()) != 1) {
        ERR_clear_error();
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

// The server was chosen on the ClientHello; this acknowledges the name, which a TLS 1.2
// session then records. A new session was made with the timeout of the context the
// connection started with (OpenSSL's session context): it gets the chosen server's, which
// its cache entry and its tickets' lifetime follow.
int on_servername(SSL* ssl, int*, void*) {
    const auto* s = server_of(SSL_get_SSL_CTX(ssl));
    SSL_SESSION* session = SSL_get_session(ssl);
    if (s && session && !SSL_session_reused(ssl)) SSL_SESSION_set_timeout(session, s->tickets.lifetime);
    return SSL_TLSEXT_ERR_OK;
}

// The sessions a server may resume: its own, told apart by its names and certificate.
bool set_session_id_context(SSL_CTX* ctx, const config::Server& cfg) {
    unsigned char fingerprint[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    X509* cert = SSL_CTX_get0_certificate(ctx);
    if (!cert || X509_digest(cert, EVP_sha256(), fingerprint, &len) != 1) return false;
    std::string input(reinterpret_cast<const char*>(fingerprint), len);
    for (const auto& n : cfg.server_name) input += "\n" + n;
    unsigned char id[EVP_MAX_MD_SIZE];
    if (EVP_Digest(input.data(), input.size(), id, &len, EVP_sha256(), nullptr) != 1) return false;
    return SSL_CTX_set_session_id_context(ctx, id, std::min(len, unsigned{SSL_MAX_SID_CTX_LENGTH})) == 1;
}

int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned int inlen, void*) {
    const auto* s = server_of(SSL_get_SSL_CTX(ssl));
    std::string_view offered(reinterpret_cast<const char*>(in), inlen);
    std::string_view chosen = choose_alpn(offered, s && s->http2);
    if (chosen.empty()) return SSL_TLSEXT_ERR_NOACK;
    *out = reinterpret_cast<const unsigned char*>(chosen.data());
    *outlen = static_cast<unsigned char>(chosen.size());
    return SSL_TLSEXT_ERR_OK;
}

// Session tickets under the keys every proxy worker shares (ticket_keys.h): AES-256-CBC and
// HMAC-SHA256, as OpenSSL's own keys. OpenSSL asks the context the connection started
// with; the policy is that of the server SNI chose. 0 leaves the ticket out (encrypting) or
// makes a full handshake (decrypting); 2 accepts the ticket and issues a new one.
int on_ticket_key(SSL* ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX* cipher,
                  EVP_MAC_CTX* mac, int encrypt) {
    const auto* s = server_of(SSL_get_SSL_CTX(ssl));
    if (!s || !s->sessions || (s->options & SSL_OP_NO_TICKET)) return 0;
    const int64_t now = std::time(nullptr);
    TicketKey key;
    int answer = 1;
    if (encrypt) {
        auto k = s->sessions->ticket_encryption_key(now, s->tickets);
        if (!k || !*k || RAND_bytes(iv, 16) != 1) return 0;
        key = **k;
        std::copy(std::begin(key.name), std::end(key.name), name);
    } else {
        auto k = s->sessions->ticket_decryption_key({reinterpret_cast<const char*>(name), sizeof key.name}, now,
                                                    s->tickets);
        if (!k || !*k) return 0;
        key = (*k)->key;
        answer = (*k)->current ? 1 : 2;
    }
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
    const bool ready = EVP_MAC_init(mac, key.hmac, sizeof key.hmac, params) == 1 &&
                       (encrypt ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv)
                                : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv)) == 1;
    OPENSSL_cleanse(&key, sizeof key);
    if (!ready) {   // no ticket, or a full handshake: never a failed one
        ERR_clear_error();
        return 0;
    }
    return answer;
}

int on_status_request(SSL* ssl, void*) {
    const auto* s = server_of(SSL_get_SSL_CTX(ssl));
    if (!s || s->ocsp.empty()) return SSL_TLSEXT_ERR_NOACK;
    // OpenSSL frees the response with the handshake: it gets a copy.
    void* copy = OPENSSL_memdup(s->ocsp.data(), s->ocsp.size());
    if (!copy) return SSL_TLSEXT_ERR_NOACK;
    SSL_set_tlsext_status_ocsp_resp(ssl, static_cast<unsigned char*>(copy), static_cast<long>(s->ocsp.size()));
    return SSL_TLSEXT_ERR_OK;
}

Result<std::unique_ptr<TlsContexts::Server>> make_server(const config::Server& cfg, const config::TlsFiles& files,
                                                         TlsSessionCache* sessions) {
    const config::Tls& tls = cfg.tls;
    const std::string where = tls.where.str().empty() ? "tls" : tls.where.str();
    auto fail = [&](const std::string& what) { return Error{where + ": " + what + ": " + ssl_reason()}; };
    for (const std::string* path : {&tls.cert, &tls.key, &tls.ocsp})
        if (!path->empty() && !files.count(*path) && !tls.acme)
            return Error{where + ": " + *path + ": not passed by the master"};

    auto s = std::make_unique<TlsContexts::Server>();
    auto range = config::tls_protocol_range(tls.protocols);
    if (!range) return range.error().wrap(where);
    s->protocols = *range;
    s->ciphers = tls.ciphers.empty() ? config::kIntermediateCiphers : tls.ciphers;
    s->http2 = cfg.http2;
    s->options = (tls.session_tickets ? 0 : SSL_OP_NO_TICKET) |
                 (tls.prefer_server_ciphers ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0);
    s->tickets = {tls.session_ticket_rotation.count() / 1000, tls.session_timeout.count() / 1000};
    s->sessions = sessions;
    s->ctx.reset(SSL_CTX_new(TLS_server_method()));
    SSL_CTX* ctx = s->ctx.get();
    if (!ctx) return fail("cannot create an OpenSSL context");
    SSL_CTX_set_min_proto_version(ctx, s->protocols.min);
    SSL_CTX_set_max_proto_version(ctx, s->protocols.max);
    // Tickets are off unless asked for: a stolen ticket key decrypts every session it sealed,
    // and the shared session cache resumes without them (TLS 1.3 then issues stateful
    // tickets: ids into that cache). When on, their keys rotate (on_ticket_key).
    SSL_CTX_set_options(ctx, s->options | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    // On every context, tickets or not: OpenSSL asks the one a connection started with (the
    // address's default server), and SNI may then choose a server that issues tickets.
    if (sessions && SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket_key) != 1)
        return fail("session ticket callback");
    // An idle keep-alive connection gives its 34 KiB of read/write buffers back.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, s->ciphers.c_str()) != 1) return fail("ciphers \"" + s->ciphers + "\"");
    SSL_CTX_set_dh_auto(ctx, 1);
    if (tls.acme && !(files.count(tls.cert) && files.count(tls.key))) {
        // Not issued yet: the master passes no files, and the stand-in serves until it does.
        if (auto st = use_stand_in(ctx, cfg.server_name); !st) return st.error().wrap(where);
    } else {
        if (!use_certificate_chain(ctx, files.at(tls.cert))) return fail("cert " + tls.cert);
        if (!use_private_key(ctx, files.at(tls.key))) return fail("key " + tls.key);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) return fail("key " + tls.key + " and cert " + tls.cert);
    if (!set_session_id_context(ctx, cfg)) return fail("session id context");
    SSL_CTX_set_timeout(ctx, static_cast<long>(tls.session_timeout.count() / 1000));
    // A TLS 1.3 stateful ticket is a cache entry that resumes more than once: one is enough.
    SSL_CTX_set_num_tickets(ctx, 1);
    if (sessions) sessions->serve(ctx);
    SSL_CTX_set_client_hello_cb(ctx, on_client_hello, nullptr);
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, nullptr);
    if (!tls.ocsp.empty()) {
        s->ocsp = files.at(tls.ocsp);
        SSL_CTX_set_tlsext_status_cb(ctx, on_status_request);
    }
    SSL_CTX_set_app_data(ctx, s.get());
    return s;
}

bool shares_a_name(const config::Server& a, const config::Server& b) {
    if (a.server_name.empty() || b.server_name.empty()) return true;
    for (const auto& n : a.server_name)
        for (const auto& m : b.server_name)
            if (n == m) return true;
    return false;
}

}  // namespace

TlsContexts::TlsContexts() = default;
TlsContexts::~TlsContexts() = default;
TlsContexts::TlsContexts(TlsContexts&&) noexcept = default;
TlsContexts& TlsContexts::operator=(TlsContexts&&) noexcept = default;

Result<TlsContexts> TlsContexts::build(const config::Config& cfg, const config::TlsFiles& keys,
                                       TlsSessionCache* sessions) {
    TlsContexts out;
    for (const auto& srv : cfg.servers) {
        if (!srv.tls.enabled) {
            out.servers_.emplace_back();
            continue;
        }
        auto s = make_server(srv, keys, sessions);
        if (!s) return s.error();
        out.servers_.push_back(std::move(*s));
    }
    for (const auto& srv : cfg.servers) {
        int port = 443;
        for (const auto& other : cfg.servers) {
            if (!other.tls.enabled || other.listen.empty() || !shares_a_name(srv, other)) continue;
            port = other.listen.front().port;
            break;
        }
        out.https_ports_.push_back(port);
    }
    return out;
}

SSL_CTX* TlsContexts::context(int server) const {
    if (server < 0 || static_cast<size_t>(server) >= servers_.size() || !servers_[static_cast<size_t>(server)])
        return nullptr;
    return servers_[static_cast<size_t>(server)]->ctx.get();
}

int TlsContexts::https_port(int server) const {
    if (server < 0 || static_cast<size_t>(server) >= https_ports_.size()) return 443;
    return https_ports_[static_cast<size_t>(server)];
}

void set_tls_selector(SSL* ssl, const TlsSelector* selector) {
    SSL_set_ex_data(ssl, selector_index(), const_cast<TlsSelector*>(selector));
}

std::string_view sni_host_name(std::string_view ext) {
    // ServerNameList: u16 length, then entries of u8 type, u16 length, name (RFC 6066 3).
    auto u16 = [&](size_t at) { return size_t{static_cast<unsigned char>(ext[at])} << 8 | static_cast<unsigned char>(ext[at + 1]); };
    if (ext.size() < 5 || u16(0) != ext.size() - 2 || ext[2] != TLSEXT_NAMETYPE_host_name) return {};
    const size_t len = u16(3);
    if (len == 0 || 5 + len > ext.size()) return {};
    return ext.substr(5, len);
}

std::string_view choose_alpn(std::string_view client_list, bool http2) {
    bool h1 = false;
    size_t i = 0;
    while (i < client_list.size()) {
        const size_t len = static_cast<unsigned char>(client_list[i]);
        if (len == 0 || i + 1 + len > client_list.size()) break;  // malformed: stop at what parsed
        std::string_view proto = client_list.substr(i + 1, len);
        if (http2 && proto == "h2") return client_list.substr(i + 1, len);
        h1 = h1 || proto == "http/1.1";
        i += 1 + len;
    }
    return h1 ? std::string_view("http/1.1") : std::string_view();
}

}  // namespace ne::proxy
