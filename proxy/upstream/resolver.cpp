#include "proxy/upstream/resolver.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "ipc/net.h"
#include "proxy/to_timeval.h"

namespace ne::proxy {

using std::chrono::milliseconds;

// One configured "name:port" of one upstream. A lookup in flight holds a Ticket instead of the
// Name, so a Name can go (config change) while evdns still owes it an answer.
struct UpstreamResolver::Name {
    UpstreamResolver* owner = nullptr;
    std::string upstream;
    config::UpstreamServer server;
    std::string host;
    int port = 0;
    milliseconds interval{0};
    std::string resolver;
    EventPtr timer;
    Ticket* pending = nullptr;
};

struct UpstreamResolver::Ticket {
    UpstreamResolver* owner;
    Name* name;   // null once the Name is gone
};

UpstreamResolver::UpstreamResolver(event_base* base, PoolSet& pools) : base_(base), pools_(pools) {}

UpstreamResolver::~UpstreamResolver() {
    dns_.clear();   // drops the lookups in flight without calling on_answer
    for (Ticket* t : tickets_) delete t;
}

milliseconds UpstreamResolver::next_delay(milliseconds configured, int ttl_seconds, bool failed) {
    if (failed) return configured.count() > 0 ? std::min(configured, milliseconds(5000)) : milliseconds(5000);
    if (configured.count() > 0) return configured;
    return milliseconds(std::clamp(ttl_seconds, 1, 3600) * 1000LL);
}

evdns_base* UpstreamResolver::dns_for(const std::string& resolver) {
    auto& slot = dns_[resolver];
    if (slot) return slot.get();
    if (resolver.empty()) {
        slot.reset(evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS));
        if (!slot) spdlog::error("upstreams: cannot read the DNS servers of /etc/resolv.conf");
    } else {
        slot.reset(evdns_base_new(base_, 0));
        if (slot && evdns_base_nameserver_ip_add(slot.get(), resolver.c_str()) != 0) {
            spdlog::error("upstreams: resolver {}: not an IP address and port", resolver);
            slot.reset();
        }
    }
    return slot.get();
}

void UpstreamResolver::sync(const std::vector<config::Upstream>& ups) {
    std::map<std::pair<std::string, std::string>, std::unique_ptr<Name>> next;
    for (const auto& u : ups) {
        for (const auto& s : u.servers) {
            auto hp = net::split_host_port(s.address);
            if (!hp) continue;  // sync_upstreams reported it
            in6_addr probe{};
            if (inet_pton(AF_INET, hp->host.c_str(), &probe) == 1 || inet_pton(AF_INET6, hp->host.c_str(), &probe) == 1)
                continue;
            auto key = std::make_pair(u.name, s.address);
            auto it = names_.find(key);
            std::unique_ptr<Name> n;
            if (it != names_.end() && it->second->resolver == u.resolver) n = std::move(it->second);
            bool fresh = !n;
            if (fresh) {
                n = std::make_unique<Name>();
                n->owner = this;
                n->timer.reset(evtimer_new(base_, on_timer, n.get()));
            }
            n->upstream = u.name;
            n->server = s;
            n->host = hp->host;
            n->port = hp->port;
            n->interval = u.resolve;
            n->resolver = u.resolver;
            if (fresh) resolve(*n);
            next[key] = std::move(n);
        }
    }
    for (auto& [k, n] : names_)
        if (n && n->pending) n->pending->name = nullptr;
    names_ = std::move(next);
}

void UpstreamResolver::resolve(Name& n) {
    evdns_base* dns = dns_for(n.resolver);
    if (!dns) return;
    auto* t = new Ticket{this, &n};
    tickets_.insert(t);
    // Only IPv4 (A records): evdns asks for one record type per request.
    if (!evdns_base_resolve_ipv4(dns, n.host.c_str(), DNS_QUERY_NO_SEARCH, on_answer, t)) {
        tickets_.erase(t);
        delete t;
        spdlog::error("upstream {}: cannot start a DNS lookup of {}", n.upstream, n.host);
        timeval tv = to_timeval(next_delay(n.interval, 0, true));
        evtimer_add(n.timer.get(), &tv);
        return;
    }
    n.pending = t;
}

void UpstreamResolver::on_answer(int result, char type, int count, int ttl, void* addresses, void* arg) {
    auto* t = static_cast<Ticket*>(arg);
    Name* n = t->name;
    t->owner->tickets_.erase(t);
    delete t;
    if (!n) return;  // its Name is gone (config change)
    n->pending = nullptr;
    try {
        n->owner->answered(*n, result, type == DNS_IPv4_A ? count : 0, ttl, addresses);
    } catch (const std::exception& e) {
        spdlog::error("upstream {}: {}", n->upstream, e.what());
    }
}

void UpstreamResolver::answered(Name& n, int result, int count, int ttl, const void* addresses) {
    const bool gone = result == DNS_ERR_NOTEXIST;
    const bool failed = result != DNS_ERR_NONE && !gone;
    if (failed) {
        spdlog::warn("upstream {}: DNS lookup of {} failed ({}); keeping its last addresses", n.upstream, n.host,
                     evdns_err_to_string(result));
    } else {
        std::vector<std::string> ips;
        const auto* a = static_cast<const uint32_t*>(addresses);
        for (int i = 0; i < count; ++i) {
            char text[INET_ADDRSTRLEN];
            if (inet_ntop(AF_INET, &a[i], text, sizeof text)) ips.emplace_back(text);
        }
        std::sort(ips.begin(), ips.end());
        if (pools_.set_resolved(n.upstream, n.server, n.port, ips))
            spdlog::info("upstream {}: {} now resolves to {} address(es)", n.upstream, n.host, ips.size());
    }
    timeval tv = to_timeval(next_delay(n.interval, ttl, failed));
    evtimer_add(n.timer.get(), &tv);
}

void UpstreamResolver::on_timer(evutil_socket_t, short, void* arg) {
    auto* n = static_cast<Name*>(arg);
    n->owner->resolve(*n);
}

}  // namespace ne::proxy
