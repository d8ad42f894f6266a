// Requests per second and p99 latency over the last ten seconds, for `status` and `monit`: the
// master samples the summed cumulative counters (the ones /metrics exposes) once a second and
// compares the newest sample with the oldest one kept. Every figure comes from the same
// samples, so the proxy's rate and the apps' rates cover the same seconds.
#pragma once

#include <array>
#include <chrono>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/messages.h"

namespace ne::supervisor {

// Per bucket (last = +Inf): how many requests, and the sum and sum of squares of their times.
struct LatencyHistogram {
    std::array<uint64_t, ipc::kLatencyBuckets.size() + 1> counts{};
    std::array<double, ipc::kLatencyBuckets.size() + 1> sums{};
    std::array<double, ipc::kLatencyBuckets.size() + 1> sums_sq{};

    // What was added between `earlier` and this.
    LatencyHistogram since(const LatencyHistogram& earlier) const;
};

// The q-quantile (0..1) of a histogram, in seconds; negative when it is empty. The bucket
// holding the quantile is known exactly; inside it, Prometheus' histogram_quantile() assumes
// the requests are spread evenly from bound to bound, which puts 1000 requests of 1.01 s at a
// p99 of 2.485 s. Here they are taken as spread evenly around the bucket's mean, as widely as
// their variance says (for an even spread that is bound to bound, the same answer as
// Prometheus'), and never past the bucket's bounds: requests that all take about the same time
// give about that time. In +Inf the same holds with no upper bound.
double histogram_quantile(double q, const LatencyHistogram& h);

class RateWindow {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::seconds kSpan{10};

    // Keeps at most one sample a second; samples older than kSpan are dropped.
    void sample(Clock::time_point now, const std::vector<ipc::RequestSeries>& totals);

    struct Rate {
        double requests_per_sec = 0;
        double p99_seconds = -1;     // negative: no request in the window
    };
    // Requests an app's (upstream's) workers answered, and their upstream time.
    Rate rate(std::string_view upstream) const;
    // Every request the proxy answered (the sum of its locations' series): also static files,
    // redirects, local errors, and requests no upstream answered (502, 504), which no app's
    // rate counts.
    double proxy_requests_per_sec() const;

private:
    struct Counts {
        uint64_t requests = 0;
        LatencyHistogram latency;
    };
    struct Sample {
        Clock::time_point at;
        uint64_t proxy_requests = 0;
        std::map<std::string, Counts, std::less<>> upstreams;
    };
    double seconds() const;   // from the oldest sample kept to the newest
    std::deque<Sample> samples_;
};

}  // namespace ne::supervisor
