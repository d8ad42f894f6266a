#include "proxy/limits/rate_limit.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace ne::proxy {

namespace {

// nginx's rate * ms / 1000, without overflow for long-idle keys (saturates).
uint64_t drained(uint64_t rate, uint64_t elapsed_ms) {
    const unsigned __int128 milli = static_cast<unsigned __int128>(rate) * elapsed_ms / 1000;
    return milli > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(milli);
}

uint64_t ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

}  // namespace

Limit Limit::from(const config::RateLimit& rl) {
    // nginx computes rate * 1000 / scale in integers ("5r/m" -> 83); the epsilon keeps a rate
    // such as 0.3 * 1000 = 299.999... from losing a unit to floating point.
    const double milli = std::floor(rl.rate_per_sec * 1000 + 1e-6);
    Limit l;
    l.rate = std::max<uint64_t>(1, milli > 0 ? static_cast<uint64_t>(milli) : 0);  // never divide by 0
    l.burst = static_cast<uint64_t>(std::max(0, rl.burst)) * 1000;
    l.nodelay = rl.nodelay;
    return l;
}

Decision decide(Bucket& bucket, uint64_t now_ms, const Limit& limit) {
    if (!bucket.seen) {
        bucket = Bucket{now_ms, 0, true};
        return {};
    }
    const uint64_t elapsed = now_ms >= bucket.last_ms ? now_ms - bucket.last_ms : bucket.last_ms - now_ms;
    const uint64_t gone = drained(limit.rate, elapsed);
    const uint64_t excess = bucket.excess + 1000 > gone ? bucket.excess + 1000 - gone : 0;

    if (excess > limit.burst) {
        // The bucket passes back under burst once rate * t / 1000 >= needed, t counted from
        // the last admitted request.
        const uint64_t needed = bucket.excess + 1000 - limit.burst;
        const uint64_t wait_ms = ceil_div(needed * 1000, limit.rate) - elapsed;
        const uint64_t secs = std::max<uint64_t>(1, ceil_div(wait_ms, 1000));
        return {.reject = true,
                .retry_after_s = static_cast<uint32_t>(std::min<uint64_t>(secs, UINT32_MAX)),
                .excess = excess};
    }
    bucket.excess = excess;
    bucket.last_ms = now_ms;
    return {.delay_ms = limit.nodelay ? 0 : excess * 1000 / limit.rate, .excess = excess};
}

}  // namespace ne::proxy
