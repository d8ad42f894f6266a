// What every policy shares: eligibility, the policy by name, and the second pass that ignores
// stale health marks. The policies themselves are balance_*.cpp.
#include "proxy/upstream/balancer.h"

#include <algorithm>

namespace ne::proxy {

bool eligible(const Backend& b, const PickContext& ctx) {
    if (b.admin != Backend::Admin::ready) return false;
    if (!ctx.ignore_health && !b.up(ctx.now)) return false;
    return std::find(ctx.tried.begin(), ctx.tried.end(), b.id) == ctx.tried.end();
}

const Balancer* balancer_named(std::string_view name) {
    if (name == "round_robin") return &round_robin_balancer();
    if (name == "least_conn") return &least_conn_balancer();
    if (name == "ip_hash") return &ip_hash_balancer();
    return nullptr;
}

Backend* pick_backend(const Balancer& policy, Pool& pool, PickContext ctx) {
    if (Backend* b = policy.pick(pool, ctx)) return b;
    ctx.ignore_health = true;
    return policy.pick(pool, ctx);
}

}  // namespace ne::proxy
