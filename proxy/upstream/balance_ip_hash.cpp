// A client keeps its backend: nginx's ip_hash, over the client's IPv4 /24 or full IPv6 address.
// When the hashed backend is not eligible the hash is stirred again; after 20 misses the
// request falls back to round robin, as nginx does.
#include "proxy/upstream/balancer.h"

namespace ne::proxy {

namespace {

class IpHash final : public Balancer {
public:
    Backend* pick(Pool& pool, const PickContext& ctx) const override {
        int total = 0;
        for (auto& b : pool.backends()) total += b->weight;
        if (total == 0 || ctx.client_key.empty()) return round_robin_balancer().pick(pool, ctx);

        uint32_t hash = 89;
        for (int tries = 0; tries < 20; ++tries) {
            for (uint8_t byte : ctx.client_key) hash = (hash * 113 + byte) % 6271;
            int w = static_cast<int>(hash % static_cast<uint32_t>(total));
            for (auto& b : pool.backends()) {
                if (w < b->weight) {
                    if (eligible(*b, ctx)) return b.get();
                    break;
                }
                w -= b->weight;
            }
        }
        return round_robin_balancer().pick(pool, ctx);
    }
};

}  // namespace

const Balancer& ip_hash_balancer() {
    static const IpHash policy;
    return policy;
}

}  // namespace ne::proxy
