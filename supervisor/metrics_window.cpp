#include "supervisor/metrics_window.h"

#include <algorithm>
#include <cmath>

namespace ne::supervisor {

LatencyHistogram LatencyHistogram::since(const LatencyHistogram& earlier) const {
    LatencyHistogram d;
    for (size_t i = 0; i < counts.size(); ++i) {
        d.counts[i] = counts[i] - earlier.counts[i];
        d.sums[i] = sums[i] - earlier.sums[i];
        d.sums_sq[i] = sums_sq[i] - earlier.sums_sq[i];
    }
    return d;
}

double histogram_quantile(double q, const LatencyHistogram& h) {
    uint64_t total = 0;
    for (uint64_t c : h.counts) total += c;
    if (total == 0) return -1;
    const auto& bounds = ipc::kLatencyBuckets;
    double rank = q * static_cast<double>(total);
    uint64_t below = 0;
    for (size_t i = 0; i < h.counts.size(); ++i) {
        if (h.counts[i] == 0 || static_cast<double>(below + h.counts[i]) < rank) {
            below += h.counts[i];
            continue;
        }
        double n = static_cast<double>(h.counts[i]);
        double lo = i == 0 ? 0 : bounds[i - 1];
        double hi = i < bounds.size() ? bounds[i] : INFINITY;
        // The sums are differences of running totals, and rounding may put them (and so the
        // answer) a hair outside what the bucket allows.
        double mean = std::clamp(h.sums[i] / n, lo, hi);
        double variance = std::max(0.0, h.sums_sq[i] / n - mean * mean);
        // An even spread over [mean - w, mean + w] has variance w²/3.
        double half = std::min({std::sqrt(3 * variance), mean - lo, hi - mean});
        double within = (rank - static_cast<double>(below)) / n;
        return std::clamp(mean - half + 2 * half * within, lo, hi);
    }
    return bounds.back();
}

void RateWindow::sample(Clock::time_point now, const std::vector<ipc::RequestSeries>& totals) {
    if (!samples_.empty() && now - samples_.back().at < std::chrono::seconds(1)) return;
    Sample s{now, 0, {}};
    for (const auto& r : totals) {
        if (r.kind == ipc::RequestSeries::Kind::location) {
            s.proxy_requests += r.count();
            continue;
        }
        s.upstreams[r.name] = Counts{r.count(), {r.latency, r.bucket_sum, r.bucket_sum_sq}};
    }
    samples_.push_back(std::move(s));
    while (samples_.size() > 1 && now - samples_.front().at > kSpan) samples_.pop_front();
}

double RateWindow::seconds() const {
    return std::chrono::duration<double>(samples_.back().at - samples_.front().at).count();
}

RateWindow::Rate RateWindow::rate(std::string_view upstream) const {
    if (samples_.size() < 2) return {};
    const Sample& first = samples_.front();
    auto now_it = samples_.back().upstreams.find(upstream);
    if (now_it == samples_.back().upstreams.end()) return {};
    // An upstream absent from the first sample had not answered a request yet.
    auto then_it = first.upstreams.find(upstream);
    const Counts& then = then_it != first.upstreams.end() ? then_it->second : Counts{};
    const Counts& now = now_it->second;
    return {static_cast<double>(now.requests - then.requests) / seconds(),
            histogram_quantile(0.99, now.latency.since(then.latency))};
}

double RateWindow::proxy_requests_per_sec() const {
    if (samples_.size() < 2) return 0;
    return static_cast<double>(samples_.back().proxy_requests - samples_.front().proxy_requests) / seconds();
}

}  // namespace ne::supervisor
