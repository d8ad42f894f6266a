// A TLS connection until its handshake is done: the SSL starts on the default server's
// context of its listen address (SNI may switch it, see tls_context.h), the handshake gets
// the server's client_header_timeout, and once it completes the connection is handed on by
// ALPN: "h2" to an H2Session, anything else to an HTTP/1.1 ClientConn, with scheme https.
// A failed handshake (a plain-HTTP client, a refused protocol version) just closes.
#pragma once

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <memory>
#include <string_view>

#include "ipc/event_ptr.h"
#include "ipc/unique_fd.h"
#include "proxy/conn/connection.h"
#include "proxy/snapshot.h"
#include "proxy/tls/context.h"

namespace ne::proxy {

class Runtime;

class TlsHandshake final : public Connection {
public:
    // `server`: the default server of `listen` in `snap`, whose context must not be null.
    TlsHandshake(Runtime& rt, UniqueFd fd, const sockaddr* peer, std::string_view listen,
                 std::shared_ptr<const Snapshot> snap, int server);
    TlsHandshake(const TlsHandshake&) = delete;
    TlsHandshake& operator=(const TlsHandshake&) = delete;

    void start() override;
    void quit() override;

private:
    static void event_cb(bufferevent*, short what, void* self);
    void on_event(short what);
    void hand_over();
    void close();

    Runtime& rt_;
    std::shared_ptr<const Snapshot> snap_;   // keeps the contexts and routes SNI chooses from
    TlsSelector selector_;
    sockaddr_storage peer_{};
    std::string_view listen_;
    int server_;
    BuffereventPtr bev_;
    bool closed_ = false;
};

}  // namespace ne::proxy
