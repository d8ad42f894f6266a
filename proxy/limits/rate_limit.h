// Request rate limiting with nginx's limit_req semantics (ngx_http_limit_req_module.c): a
// leaky bucket per key that drains at `rate` and holds up to `burst` requests above it.
// Pure: the caller passes the time in and keeps the Bucket (in a SharedZone, so that every
// proxy worker sees the same one).
//
// Like nginx, quantities are integers in milli-requests: a request adds 1000 to the bucket,
// which loses rate * elapsed_ms / 1000 (rounded down) in between. A request is rejected when
// the bucket would then hold more than burst * 1000, so `burst = N` admits N + 1 requests
// back to back. An admitted request with a non-empty bucket is delayed by excess / rate,
// unless `nodelay`. A rejected request leaves the bucket unchanged. The first request of a
// key always passes with an empty bucket.
#pragma once

#include <cstdint>

#include "config/config.h"

namespace ne::proxy {

// One key's state, as nginx's ngx_http_limit_req_node_t keeps it. Plain data: it lives in
// shared memory.
struct Bucket {
    uint64_t last_ms = 0;   // when the last admitted request was accounted
    uint64_t excess = 0;    // milli-requests above the rate
    bool seen = false;      // false: a new key
};

struct Limit {
    uint64_t rate = 1;      // milli-requests per second: 30r/s -> 30000, 5r/m -> 83 (truncated, as nginx)
    uint64_t burst = 0;     // milli-requests: burst * 1000
    bool nodelay = false;

    static Limit from(const config::RateLimit& rl);
};

struct Decision {
    bool reject = false;
    uint64_t delay_ms = 0;        // admitted, but hold the request this long first
    uint32_t retry_after_s = 0;   // rejected: whole seconds until a request would pass (>= 1)
    uint64_t excess = 0;          // milli-requests, for the log ("excess: 1.500")

    bool allow() const { return !reject; }
};

// Accounts one request of the bucket's key at `now_ms` (a monotonic clock shared by every
// proxy worker: CLOCK_MONOTONIC). A clock that steps back counts as time passed, as in nginx.
Decision decide(Bucket& bucket, uint64_t now_ms, const Limit& limit);

}  // namespace ne::proxy
