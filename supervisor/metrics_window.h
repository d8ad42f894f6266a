// Requests per second and p99 latency per app (upstream) over the last ten seconds, for
// `status` and `monit`: the master samples the summed cumulative counters once a second and
// compares the newest sample with the oldest one kept.
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

using LatencyBuckets = std::array<uint64_t, ipc::kLatencyBuckets.size() + 1>;

// The q-quantile (0..1) of a histogram of per-bucket counts (last = +Inf), interpolated
// linearly inside the bucket as Prometheus' histogram_quantile() does; an answer in the +Inf
// bucket is the highest finite bound. Negative when the histogram is empty.
double histogram_quantile(double q, const LatencyBuckets& buckets);

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
    Rate rate(std::string_view upstream) const;

private:
    struct Counts {
        uint64_t requests = 0;
        LatencyBuckets latency{};
    };
    struct Sample {
        Clock::time_point at;
        std::map<std::string, Counts, std::less<>> upstreams;
    };
    std::deque<Sample> samples_;
};

}  // namespace ne::supervisor
