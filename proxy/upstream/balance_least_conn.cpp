// Fewest requests in flight relative to weight (nginx's least_conn); ties rotate by weighted
// round robin among the tied backends only.
#include "proxy/upstream/balancer.h"

namespace ne::proxy {

namespace {

// a/wa < b/wb without division: in-flight counts and weights are small.
int compare_load(const Backend& a, const Backend& b) {
    uint64_t l = uint64_t{a.in_flight} * static_cast<uint64_t>(b.weight);
    uint64_t r = uint64_t{b.in_flight} * static_cast<uint64_t>(a.weight);
    return l < r ? -1 : (l > r ? 1 : 0);
}

class LeastConn final : public Balancer {
public:
    Backend* pick(Pool& pool, const PickContext& ctx) const override {
        Backend* best = nullptr;
        bool tie = false;
        for (auto& sp : pool.backends()) {
            Backend& b = *sp;
            if (!eligible(b, ctx)) continue;
            int c = best ? compare_load(b, *best) : -1;
            if (c < 0) {
                best = &b;
                tie = false;
            } else if (c == 0) {
                tie = true;
            }
        }
        if (!best || !tie) return best;
        const Backend& least = *best;
        return smooth_weighted_pick(pool, ctx, [&](const Backend& b) { return compare_load(b, least) == 0; });
    }
};

}  // namespace

const Balancer& least_conn_balancer() {
    static const LeastConn policy;
    return policy;
}

}  // namespace ne::proxy
