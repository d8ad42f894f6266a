// Weighted smooth round robin, nginx's default policy.
#include "proxy/upstream/balancer.h"

namespace ne::proxy {

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

}  // namespace ne::proxy
