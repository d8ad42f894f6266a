// The planner's view of a proxy worker: rate limits counted in the zone every worker shares,
// and the wall clock.
#pragma once

#include <optional>

#include "proxy/conn/request_plan.h"
#include "proxy/limits/rate_limit_zone.h"

namespace ne::proxy {

class ZoneContext final : public PlanContext {
public:
    // `zone` empty: the worker started without one (logged at start); nothing is limited.
    explicit ZoneContext(std::optional<SharedZone>& zone) : zone_(zone) {}

    std::optional<Decision> rate(const RateRule& rule, std::string_view key) override;
    std::time_t now() override { return std::time(nullptr); }

private:
    std::optional<SharedZone>& zone_;
};

}  // namespace ne::proxy
