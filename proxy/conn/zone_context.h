// The planner's view of a proxy worker: rate limits counted in the zone every worker shares,
// the wall clock, and the ACME http-01 answers.
#pragma once

#include <optional>

#include "proxy/conn/request_plan.h"
#include "proxy/limits/rate_limit_zone.h"
#include "proxy/tls/acme_answers.h"

namespace ne::proxy {

class ZoneContext final : public PlanContext {
public:
    // `zone` empty: the worker started without one (logged at start); nothing is limited.
    ZoneContext(std::optional<SharedZone>& zone, const AcmeAnswers& acme) : zone_(zone), acme_(acme) {}

    std::optional<Decision> rate(const RateRule& rule, std::string_view key) override;
    std::time_t now() override { return std::time(nullptr); }
    std::string_view acme_http01(std::string_view token) override { return acme_.http01(token); }

private:
    std::optional<SharedZone>& zone_;
    const AcmeAnswers& acme_;
};

}  // namespace ne::proxy
