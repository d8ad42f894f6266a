#include "proxy/conn/zone_context.h"

#include <spdlog/spdlog.h>

#include <ctime>

namespace ne::proxy {

std::optional<Decision> ZoneContext::rate(const RateRule& rule, std::string_view key) {
    if (!zone_) return std::nullopt;
    // The zone's clock is CLOCK_MONOTONIC, the same in every worker.
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const uint64_t now_ms = static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
    auto d = zone_->limit(zone_->key_hash(rule.scope, key), now_ms, rule.limit);
    if (!d) {
        spdlog::error("rate_limit {}: {}; letting the request through", rule.scope, d.error().message);
        return std::nullopt;
    }
    if (d->reject)
        spdlog::debug("rate_limit {}: rejecting {}, excess {}.{:03}", rule.scope, key, d->excess / 1000,
                      d->excess % 1000);
    return *d;
}

}  // namespace ne::proxy
