// Weighted smooth round robin, nginx's default policy; also balancer.h's shared helpers.
#include <algorithm>

#include "proxy/upstream/balancer.h"

namespace ne::proxy {

bool eligible(const Backend& b, const PickContext& ctx) {
    if (b.admin != Backend::Admin::ready) return false;
    if (!ctx.ignore_health && !b.up(ctx.now)) return false;
    return std::find(ctx.tried.begin(), ctx.tried.end(), b.id) == ctx.tried.end();
}

namespace {

class RoundRobin final : public Balancer {
public:
    Backend* pick(Pool& pool, const PickContext& ctx) const override {
        return smooth_weighted_pick(pool, ctx, [](const Backend&) { return true; });
    }
};

}  // namespace

const Balancer& round_robin_balancer() {
    static const RoundRobin policy;
    return policy;
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
