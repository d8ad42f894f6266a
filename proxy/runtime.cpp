#include "proxy/runtime.h"

#include "proxy/client_conn.h"

namespace ne::proxy {

Runtime::Runtime(event_base* b, uint64_t seed_hi, uint64_t seed_lo)
    : base(b), reaper(b), idle(reaper), ids(seed_hi, seed_lo) {}

Runtime::~Runtime() {
    // Connections go first: they hold upstream connections and pool waiters.
    conns_.clear();
    idle.clear();
    reaper.collect();
}

void Runtime::accept(UniqueFd fd, const sockaddr* peer, std::string_view listen) {
    auto c = std::make_unique<ClientConn>(*this, std::move(fd), peer, listen);
    ClientConn* raw = c.get();
    conns_.emplace(raw, std::move(c));
    raw->start();
}

void Runtime::close(ClientConn& c) {
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
    std::vector<ClientConn*> all;
    all.reserve(conns_.size());
    for (auto& [p, c] : conns_) all.push_back(p);
    for (ClientConn* c : all) c->quit();
}

void Runtime::end_request(Backend& b) {
    if (Pool::end_request(b) && on_drained) on_drained(b.id);
}

}  // namespace ne::proxy
