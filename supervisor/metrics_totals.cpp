#include "supervisor/metrics_totals.h"

namespace ne::supervisor {

void ProxyTotals::update(pid_t pid, const ipc::Stats& s) { live_[pid] = s; }

void ProxyTotals::retire(pid_t pid) {
    auto it = live_.find(pid);
    if (it == live_.end()) return;
    add_into(retired_, it->second.series);
    retired_requests_ += it->second.requests;
    live_.erase(it);
}

void ProxyTotals::add_into(std::map<Key, ipc::RequestSeries>& into, const std::vector<ipc::RequestSeries>& from) {
    for (const auto& s : from) {
        auto [it, fresh] = into.try_emplace(key(s), s);
        if (!fresh) it->second.add(s);
    }
}

std::vector<ipc::RequestSeries> ProxyTotals::series() const {
    std::map<Key, ipc::RequestSeries> sum = retired_;
    for (const auto& [pid, s] : live_) add_into(sum, s.series);
    std::vector<ipc::RequestSeries> out;
    out.reserve(sum.size());
    for (auto& [k, s] : sum) out.push_back(std::move(s));
    return out;
}

uint64_t ProxyTotals::connections() const {
    uint64_t n = 0;
    for (const auto& [pid, s] : live_) n += s.connections;
    return n;
}

uint64_t ProxyTotals::requests() const {
    uint64_t n = retired_requests_;
    for (const auto& [pid, s] : live_) n += s.requests;
    return n;
}

}  // namespace ne::supervisor
