// [[upstreams]] servers given by a DNS name ("api.internal:3000", a Kubernetes headless
// service, Consul DNS), resolved with libevent's evdns on the proxy worker's own loop, so a
// slow or dead DNS server never blocks a request. A and AAAA records are asked for side by
// side (evdns asks for one type per request), as the upstream's resolve_family says. Each name is resolved again after its
// record's TTL (or the upstream's `resolve` interval), and the pool follows the answer:
// backends for new addresses join, those for addresses no longer listed leave (in-flight
// requests on them finish). A failed lookup keeps the last known addresses of its family; a
// name that no longer exists (NXDOMAIN), or has no record of a family, empties that share.
#pragma once

#include <event2/dns.h>
#include <event2/event.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "ipc/event_ptr.h"
#include "proxy/upstream/pool.h"

namespace ne::proxy {

class UpstreamResolver {
public:
    UpstreamResolver(event_base* base, PoolSet& pools);
    ~UpstreamResolver();
    UpstreamResolver(const UpstreamResolver&) = delete;
    UpstreamResolver& operator=(const UpstreamResolver&) = delete;

    // Resolves every server of `ups` given by name (new ones at once); forgets names no longer
    // configured. Call after PoolSet::sync_upstreams with the same list.
    void sync(const std::vector<config::Upstream>& ups);

    // The delay before a name is resolved again: `configured` when set, else the TTL (at
    // least 1 s, at most an hour); after a failed lookup, 5 s unless `configured` is shorter.
    static std::chrono::milliseconds next_delay(std::chrono::milliseconds configured, int ttl_seconds, bool failed);
    // The addresses a name's backends get from its last IPv4 and IPv6 answers, as
    // `resolve_family` says ("both", "ipv4", "ipv6", "prefer_ipv4", "prefer_ipv6").
    static std::vector<std::string> addresses(std::string_view family, const std::vector<std::string>& v4,
                                              const std::vector<std::string>& v6);

private:
    struct Name;
    struct Ticket;
    struct Lookup;
    // Without failing its lookups: libevent 2.1 would free a failed lookup only in a deferred
    // callback, which the stopped loop of an exiting worker never runs (a leak at every exit).
    // Their tickets are freed with the resolver instead (tickets_).
    struct DnsFree { void operator()(evdns_base* b) const { evdns_base_free(b, 0); } };
    evdns_base* dns_for(const std::string& resolver);
    void resolve(Name& n);
    void start_lookup(Name& n, bool ipv6);
    void answered(Name& n);
    static void on_answer(int result, char type, int count, int ttl, void* addresses, void* arg);
    static void on_timer(evutil_socket_t, short, void* arg);

    event_base* base_;
    PoolSet& pools_;
    std::map<std::string, std::unique_ptr<evdns_base, DnsFree>> dns_;   // by resolver ("" = system)
    std::map<std::pair<std::string, std::string>, std::unique_ptr<Name>> names_;  // (upstream, name:port)
    std::set<Ticket*> tickets_;   // lookups in flight, owned here
};

}  // namespace ne::proxy
