#include "proxy/runtime.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdexcept>

#include "proxy/conn/client_conn.h"
#include "proxy/tls/handshake.h"

namespace ne::proxy {

Runtime::Runtime(event_base* b, uint64_t seed_hi, uint64_t seed_lo)
    : base(b), reaper(b), idle(reaper), ids(seed_hi, seed_lo), access_log(b) {}

Runtime::~Runtime() {
    // Connections go first: they hold upstream connections and pool waiters.
    conns_.clear();
    idle.clear();
    reaper.collect();
}

void Runtime::accept(UniqueFd fd, const sockaddr* peer, std::string_view listen) {
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const int server = snapshot ? snapshot->routes.default_server(listen) : -1;
    if (snapshot && snapshot->tls.context(server)) {
        adopt(std::make_unique<TlsHandshake>(*this, std::move(fd), peer, listen, snapshot, server));
        return;
    }
    BuffereventPtr bev(bufferevent_socket_new(base, fd.get(), BEV_OPT_CLOSE_ON_FREE));
    if (!bev) throw std::runtime_error("cannot create a bufferevent for a client on " + std::string(listen));
    fd.release();
    adopt_http1(std::move(bev), ConnFacts{peer, listen, "http"});
}

void Runtime::adopt(std::unique_ptr<Connection> c) {
    Connection* raw = c.get();
    conns_.emplace(raw, std::move(c));
    raw->start();
}

void Runtime::adopt_http1(BuffereventPtr bev, const ConnFacts& facts) {
    adopt(std::make_unique<ClientConn>(*this, std::move(bev), facts));
}

void Runtime::close(Connection& c) {
    auto node = conns_.extract(&c);
    if (node.empty()) return;
    reaper.dispose(std::move(node.mapped()));
    if (quitting && conns_.empty() && on_all_closed) on_all_closed();
}

void Runtime::quit() {
    quitting = true;
    idle.clear();
    if (conns_.empty()) {
        if (on_all_closed) on_all_closed();
        return;
    }
    // close() erases from conns_ (and reports the last one): walk a copy of the keys.
    std::vector<Connection*> all;
    all.reserve(conns_.size());
    for (auto& [p, c] : conns_) all.push_back(p);
    for (Connection* c : all) c->quit();
}

void Runtime::end_request(Backend& b) {
    if (Pool::end_request(b) && on_drained) on_drained(b.id);
}

}  // namespace ne::proxy
