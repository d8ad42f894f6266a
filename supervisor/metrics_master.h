// The master's side of metrics: gathers what render_prometheus(), /health, `status` and
// systemd's status line need from the apps, their workers and the proxy workers' totals.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "supervisor/app.h"
#include "supervisor/metrics_window.h"
#include "supervisor/proxy_workers.h"

namespace ne::supervisor {

class MasterMetrics {
public:
    MasterMetrics(const std::vector<std::unique_ptr<App>>& apps, const ProxyWorkers& proxy)
        : apps_(apps), proxy_(proxy) {}

    void sample(std::chrono::steady_clock::time_point now);     // feeds the request rates
    std::string text() const;                                   // GET /metrics
    // Why GET /health answers 503 (`stopping`: the daemon is shutting down); nullopt when ready.
    std::optional<std::string> unready_reason(bool stopping) const;
    nlohmann::json app_rates() const;                           // [{name, requests_per_sec, p99_ms}]
    // Over the same window and from the same counters as app_rates(): the proxy's rate is
    // every request it answered, so it is at least the sum of the apps'.
    double proxy_requests_per_sec() const { return rates_.proxy_requests_per_sec(); }
    std::string systemd_status() const;                         // "2 apps, 5 workers online"

private:
    const std::vector<std::unique_ptr<App>>& apps_;
    const ProxyWorkers& proxy_;
    RateWindow rates_;
};

}  // namespace ne::supervisor
