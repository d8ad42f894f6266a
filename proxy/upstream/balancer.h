// Choosing a backend for one request. One small policy per file (balance_*.cpp) over the plain
// Backend data in pool.h, as nginx does: round_robin, least_conn, ip_hash.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "proxy/upstream/pool.h"

namespace ne::proxy {

// What a policy may use besides the pool. Policies must cope with any field being empty.
struct PickContext {
    Clock::time_point now{};
    // Backends this request already failed on; never chosen again for it.
    std::span<const uint64_t> tried;
    // ip_hash key: the first three bytes of an IPv4 client address (its /24), or all sixteen
    // of an IPv6 one. Empty: the policy falls back to round robin.
    std::span<const uint8_t> client_key;
    // Set for a second pass when every ready backend is marked down: a stale "down" mark must
    // not turn away all traffic (nginx likewise ignores max_fails for a single server).
    bool ignore_health = false;
};

// Ready (not draining, not removed), not yet tried by this request, and up (unless ignored).
bool eligible(const Backend& b, const PickContext& ctx);

class Balancer {
public:
    virtual ~Balancer() = default;
    // Next backend for a request, or nullptr when none is eligible. May update the per-backend
    // selection state (current_weight); does not count the request: the caller does that with
    // Pool::begin_request once it commits to the backend.
    virtual Backend* pick(Pool& pool, const PickContext& ctx) const = 0;
};

// The policies are stateless (their state lives in the Backends), so one instance each serves
// every pool.
const Balancer& round_robin_balancer();
const Balancer& least_conn_balancer();
const Balancer& ip_hash_balancer();
// "round_robin" | "least_conn" | "ip_hash"; nullptr for anything else.
const Balancer* balancer_named(std::string_view name);

// nginx's smooth weighted round robin over the eligible backends that also satisfy `also`:
// every candidate gains its weight, the richest wins and pays the total. Equal weights rotate
// in pool order; weights 5,1,1 give a a b a c a a rather than a a a a a b c.
template <class Also>
Backend* smooth_weighted_pick(Pool& pool, const PickContext& ctx, Also&& also) {
    Backend* best = nullptr;
    int total = 0;
    for (auto& sp : pool.backends()) {
        Backend& b = *sp;
        if (!eligible(b, ctx) || !also(b)) continue;
        b.current_weight += b.weight;
        total += b.weight;
        if (!best || b.current_weight > best->current_weight) best = &b;
    }
    if (best) best->current_weight -= total;
    return best;
}

// Tries `policy`, and if every ready backend is marked down, tries again ignoring health.
Backend* pick_backend(const Balancer& policy, Pool& pool, PickContext ctx);

}  // namespace ne::proxy
