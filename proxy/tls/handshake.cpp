#include "proxy/tls/handshake.h"

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "proxy/h2/session.h"
#include "proxy/runtime.h"
#include "proxy/tls/acme_answers.h"
#include "proxy/to_timeval.h"

namespace ne::proxy {

namespace {

socklen_t peer_length(const sockaddr* peer) {
    return peer->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// The reason a handshake failed, from OpenSSL's queue (which is emptied) or errno.
std::string handshake_error(bufferevent* bev) {
    std::string why;
    while (unsigned long e = bufferevent_get_openssl_error(bev)) {
        if (!why.empty()) why += "; ";
        const char* r = ERR_reason_error_string(e);
        why += r ? r : "unknown OpenSSL error";
    }
    if (why.empty()) why = EVUTIL_SOCKET_ERROR() ? evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()) : "closed";
    return why;
}

}  // namespace

TlsHandshake::TlsHandshake(Runtime& rt, UniqueFd fd, const sockaddr* peer, std::string_view listen,
                           std::shared_ptr<const Snapshot> snap, int server)
    : rt_(rt), snap_(std::move(snap)), listen_(listen), server_(server) {
    std::memcpy(&peer_, peer, peer_length(peer));
    selector_ = TlsSelector{&snap_->routes, &snap_->tls, listen_, &rt_.acme};
    SSL* ssl = SSL_new(snap_->tls.context(server_));
    if (!ssl) throw std::runtime_error("cannot create a TLS session for a client on " + std::string(listen));
    set_tls_selector(ssl, &selector_);
    // On success the bufferevent owns the SSL (and with CLOSE_ON_FREE the socket).
    bev_.reset(bufferevent_openssl_socket_new(rt_.base, fd.get(), ssl, BUFFEREVENT_SSL_ACCEPTING,
                                              BEV_OPT_CLOSE_ON_FREE));
    if (!bev_) {
        SSL_free(ssl);
        throw std::runtime_error("cannot create a TLS bufferevent for a client on " + std::string(listen));
    }
    fd.release();
}

void TlsHandshake::start() {
    bufferevent_setcb(bev_.get(), nullptr, nullptr, event_cb, this);
    const config::Server* srv = snap_->server(server_);
    timeval t = to_timeval(srv->client_header_timeout);
    bufferevent_set_timeouts(bev_.get(), &t, &t);
    bufferevent_enable(bev_.get(), EV_READ);
}

void TlsHandshake::quit() { close(); }

void TlsHandshake::event_cb(bufferevent*, short what, void* self) {
    auto* h = static_cast<TlsHandshake*>(self);
    try {
        h->on_event(what);
    } catch (const std::exception& e) {
        spdlog::error("TLS client on {}: {}", h->listen_, e.what());
        h->close();
    }
}

void TlsHandshake::on_event(short what) {
    if (what & BEV_EVENT_CONNECTED) {
        hand_over();
        return;
    }
    // Port scanners and plain-HTTP clients end here every day: not worth more than debug.
    spdlog::debug("TLS handshake on {} failed: {}", listen_,
                  (what & BEV_EVENT_TIMEOUT) ? std::string("timed out") : handshake_error(bev_.get()));
    close();
}

void TlsHandshake::hand_over() {
    SSL* ssl = bufferevent_openssl_get_ssl(bev_.get());
    set_tls_selector(ssl, nullptr);  // SNI is over; the selector dies with this object
    // A TLS alert or close_notify from the client is an EOF for the HTTP layer: a connection
    // that is simply dropped must not count as an error.
    bufferevent_openssl_set_allow_dirty_shutdown(bev_.get(), 1);
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    const std::string_view protocol(reinterpret_cast<const char*>(alpn), alpn_len);
    // tls-alpn-01: the handshake itself was the answer (RFC 8737 3); nothing follows it.
    if (protocol == kAcmeTlsAlpn) {
        close();
        return;
    }
    const ConnFacts facts{reinterpret_cast<const sockaddr*>(&peer_), listen_, "https"};
    bufferevent_set_timeouts(bev_.get(), nullptr, nullptr);
    if (protocol == "h2")
        rt_.adopt(std::make_unique<H2Session>(rt_, std::move(bev_), facts));
    else
        rt_.adopt_http1(std::move(bev_), facts);
    close();
}

void TlsHandshake::close() {
    if (closed_) return;
    closed_ = true;
    if (bev_) bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    rt_.close(*this);
}

}  // namespace ne::proxy
