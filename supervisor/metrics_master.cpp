#include "supervisor/metrics_master.h"

#include <algorithm>
#include <cmath>

#include "supervisor/metrics_text.h"
#include "supervisor/systemd_notify.h"

namespace ne::supervisor {

void MasterMetrics::sample(std::chrono::steady_clock::time_point now) { rates_.sample(now, proxy_.totals().series()); }

std::string MasterMetrics::text() const {
    MetricsInput in;
    for (const auto& a : apps_) {
        in.apps.push_back(a->name());
        for (const Worker* w : a->workers())
            in.workers.push_back(WorkerSample{a->name(), w->slot(), w->pid() > 0 ? w->pid() : 0, to_string(w->state()),
                                              w->restarts(), w->cpu_percent(), w->memory_bytes(), w->uptime_ms()});
    }
    in.series = proxy_.totals().series();
    in.connections = proxy_.totals().connections();
    in.proxy_workers = proxy_.processes();
    return render_prometheus(in);
}

std::optional<std::string> MasterMetrics::unready_reason(bool stopping) const {
    if (stopping) return "the daemon is stopping";
    for (const auto& a : apps_) {
        auto ws = a->workers();
        // An app stopped on purpose is not expected to serve; any other must have a worker in
        // the pools (an unhealthy one is not).
        bool stopped = std::all_of(ws.begin(), ws.end(), [](const Worker* w) { return w->state() == State::Stopped; });
        if (stopped) continue;
        bool ready = std::any_of(ws.begin(), ws.end(), [](const Worker* w) { return w->state() == State::Online; });
        if (!ready) return "app " + a->name() + " has no online worker";
    }
    return std::nullopt;
}

nlohmann::json MasterMetrics::app_rates() const {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& a : apps_) {
        auto r = rates_.rate(a->name());
        nlohmann::json p99 = r.p99_seconds < 0 ? nlohmann::json(nullptr) : nlohmann::json(std::round(r.p99_seconds * 10000.0) / 10.0);
        out.push_back({{"name", a->name()}, {"requests_per_sec", r.requests_per_sec}, {"p99_ms", p99}});
    }
    return out;
}

std::string MasterMetrics::systemd_status() const {
    size_t online = 0;
    for (const auto& a : apps_)
        for (const Worker* w : a->workers()) online += w->state() == State::Online;
    return status_line(apps_.size(), online);
}

}  // namespace ne::supervisor
