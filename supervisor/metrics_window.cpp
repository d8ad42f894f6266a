#include "supervisor/metrics_window.h"

namespace ne::supervisor {

double histogram_quantile(double q, const LatencyBuckets& buckets) {
    uint64_t total = 0;
    for (uint64_t c : buckets) total += c;
    if (total == 0) return -1;
    const auto& bounds = ipc::kLatencyBuckets;
    double rank = q * static_cast<double>(total);
    uint64_t below = 0;
    for (size_t i = 0; i < buckets.size(); ++i) {
        if (buckets[i] == 0 || static_cast<double>(below + buckets[i]) < rank) {
            below += buckets[i];
            continue;
        }
        if (i == bounds.size()) return bounds.back();
        double lo = i == 0 ? 0 : bounds[i - 1];
        double hi = bounds[i];
        return lo + (hi - lo) * (rank - static_cast<double>(below)) / static_cast<double>(buckets[i]);
    }
    return bounds.back();
}

void RateWindow::sample(Clock::time_point now, const std::vector<ipc::RequestSeries>& totals) {
    if (!samples_.empty() && now - samples_.back().at < std::chrono::seconds(1)) return;
    Sample s{now, {}};
    for (const auto& r : totals) {
        if (r.kind != ipc::RequestSeries::Kind::upstream) continue;
        s.upstreams[r.name] = Counts{r.count(), r.latency};
    }
    samples_.push_back(std::move(s));
    while (samples_.size() > 1 && now - samples_.front().at > kSpan) samples_.pop_front();
}

RateWindow::Rate RateWindow::rate(std::string_view upstream) const {
    if (samples_.size() < 2) return {};
    const Sample& first = samples_.front();
    const Sample& last = samples_.back();
    auto now_it = last.upstreams.find(upstream);
    if (now_it == last.upstreams.end()) return {};
    Counts then;
    if (auto it = first.upstreams.find(upstream); it != first.upstreams.end()) then = it->second;
    LatencyBuckets delta{};
    for (size_t i = 0; i < delta.size(); ++i) delta[i] = now_it->second.latency[i] - then.latency[i];
    double secs = std::chrono::duration<double>(last.at - first.at).count();
    return {static_cast<double>(now_it->second.requests - then.requests) / secs, histogram_quantile(0.99, delta)};
}

}  // namespace ne::supervisor
