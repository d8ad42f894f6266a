#include "proxy/upstream/resolver.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "ipc/net.h"
#include "proxy/to_timeval.h"

namespace ne::proxy {

using std::chrono::milliseconds;

// One family's side of a name: its last good answer, and the lookup in flight.
struct UpstreamResolver::Lookup {
    bool asked = false;            // in the current round
    bool done = false;
    int result = DNS_ERR_NONE;
    int ttl = 0;
    std::vector<std::string> ips;  // sorted; kept from the last answer that was not a failure
    Ticket* pending = nullptr;
};

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
    std::string family;
    EventPtr timer;
    Lookup v4, v6;
};

struct UpstreamResolver::Ticket {
    UpstreamResolver* owner;
    Name* name;   // null once the Name is gone
    bool ipv6;
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
            if (it != names_.end() && it->second->resolver == u.resolver && it->second->family == u.resolve_family)
                n = std::move(it->second);
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
            n->family = u.resolve_family;
            if (fresh) resolve(*n);
            next[key] = std::move(n);
        }
    }
    for (auto& [k, n] : names_) {
        if (!n) continue;
        for (Lookup* l : {&n->v4, &n->v6})
            if (l->pending) l->pending->name = nullptr;
    }
    names_ = std::move(next);
}

std::vector<std::string> UpstreamResolver::addresses(std::string_view family, const std::vector<std::string>& v4,
                                                     const std::vector<std::string>& v6) {
    if (family == "ipv4" || (family == "prefer_ipv4" && !v4.empty())) return v4;
    if (family == "ipv6" || (family == "prefer_ipv6" && !v6.empty())) return v6;
    if (family == "prefer_ipv4") return v6;
    if (family == "prefer_ipv6") return v4;
    std::vector<std::string> both = v4;
    both.insert(both.end(), v6.begin(), v6.end());
    return both;
}

void UpstreamResolver::resolve(Name& n) {
    if (!dns_for(n.resolver)) return;
    // The preferences need both answers: the other family stands in when one has none.
    n.v4.asked = n.family != "ipv6";
    n.v6.asked = n.family != "ipv4";
    n.v4.done = !n.v4.asked;
    n.v6.done = !n.v6.asked;
    if (n.v4.asked) start_lookup(n, false);
    if (n.v6.asked) start_lookup(n, true);
}

void UpstreamResolver::start_lookup(Name& n, bool ipv6) {
    Lookup& l = ipv6 ? n.v6 : n.v4;
    auto* t = new Ticket{this, &n, ipv6};
    tickets_.insert(t);
    evdns_base* dns = dns_for(n.resolver);
    const bool started = ipv6 ? evdns_base_resolve_ipv6(dns, n.host.c_str(), DNS_QUERY_NO_SEARCH, on_answer, t)
                              : evdns_base_resolve_ipv4(dns, n.host.c_str(), DNS_QUERY_NO_SEARCH, on_answer, t);
    if (started) {
        l.pending = t;
        return;
    }
    tickets_.erase(t);
    delete t;
    spdlog::error("upstream {}: cannot start a DNS lookup of {}", n.upstream, n.host);
    l.done = true;
    l.result = DNS_ERR_UNKNOWN;
    if (n.v4.done && n.v6.done) answered(n);
}

void UpstreamResolver::on_answer(int result, char type, int count, int ttl, void* addresses, void* arg) {
    auto* t = static_cast<Ticket*>(arg);
    Name* n = t->name;
    const bool ipv6 = t->ipv6;
    t->owner->tickets_.erase(t);
    delete t;
    if (!n) return;  // its Name is gone (config change)
    Lookup& l = ipv6 ? n->v6 : n->v4;
    l.pending = nullptr;
    l.done = true;
    l.result = result;
    l.ttl = ttl;
    try {
        // No record of this family (NXDOMAIN, or a name with only the other family's): none.
        if (result == DNS_ERR_NOTEXIST || result == DNS_ERR_NODATA) l.ips.clear();
        if (result == DNS_ERR_NONE) {
            const int af = ipv6 ? AF_INET6 : AF_INET;
            const size_t size = ipv6 ? sizeof(in6_addr) : sizeof(in_addr);
            l.ips.clear();
            if (type == (ipv6 ? DNS_IPv6_AAAA : DNS_IPv4_A)) {
                for (int i = 0; i < count; ++i) {
                    char text[INET6_ADDRSTRLEN];
                    if (inet_ntop(af, static_cast<const char*>(addresses) + i * size, text, sizeof text)) l.ips.emplace_back(text);
                }
            }
            std::sort(l.ips.begin(), l.ips.end());
        }
        if (n->v4.done && n->v6.done) n->owner->answered(*n);
    } catch (const std::exception& e) {
        spdlog::error("upstream {}: {}", n->upstream, e.what());
    }
}

void UpstreamResolver::answered(Name& n) {
    bool failed = false;
    int ttl = 3600;
    for (const Lookup* l : {&n.v4, &n.v6}) {
        if (!l->asked) continue;
        const bool answer = l->result == DNS_ERR_NONE || l->result == DNS_ERR_NOTEXIST || l->result == DNS_ERR_NODATA;
        if (answer) {
            ttl = std::min(ttl, l->ttl);
        } else {
            failed = true;
            spdlog::warn("upstream {}: DNS lookup of {} ({}) failed ({}); keeping its last addresses", n.upstream,
                         n.host, l == &n.v6 ? "AAAA" : "A", evdns_err_to_string(l->result));
        }
    }
    const std::vector<std::string> ips = addresses(n.family, n.v4.ips, n.v6.ips);
    if (pools_.set_resolved(n.upstream, n.server, n.port, ips))
        spdlog::info("upstream {}: {} now resolves to {} address(es)", n.upstream, n.host, ips.size());
    timeval tv = to_timeval(next_delay(n.interval, ttl, failed));
    evtimer_add(n.timer.get(), &tv);
}

void UpstreamResolver::on_timer(evutil_socket_t, short, void* arg) {
    auto* n = static_cast<Name*>(arg);
    n->owner->resolve(*n);
}

}  // namespace ne::proxy
