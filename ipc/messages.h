// Master <-> proxy worker messages. One definition, encoded and decoded by the same code on
// both ends. Each frame is a JSON object {"v": kVersion, "type": "...", ...fields}; an unknown
// version or type is refused loudly rather than guessed at.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ipc/result.h"

namespace ne::ipc {

constexpr int kVersion = 1;

// master -> proxy: the routing configuration (servers, locations, upstreams, [proxy]),
// as produced by config::to_json(). Sent first, and again on every config change; it applies
// to new requests only. `tls_files` holds the bytes of every TLS file the config names
// (certificate chains, private keys, OCSP responses) by path, read by the master: a proxy
// worker opens no TLS file.
struct ProxyConfig {
    nlohmann::json config;
    std::map<std::string, std::string> tls_files;
};

// master -> proxy: a worker of `app` is ready and may receive requests. `id` is unique for the
// daemon's life (a replacement worker gets a new id even on the same port).
struct BackendAdd {
    uint64_t id = 0;
    std::string app;
    int instance = 0;
    std::string host = "127.0.0.1";
    int port = 0;
};

// master -> proxy: send no new request to backend `id`; close its idle connections; reply
// DrainDone once nothing is in flight to it (at once if nothing is).
struct BackendDrain {
    uint64_t id = 0;
};

// master -> proxy: backend `id` is gone (exited, or drained and stopped). Forget it; requests
// still in flight to it fail (and may be retried elsewhere).
struct BackendRemove {
    uint64_t id = 0;
};

// proxy -> master: no request is in flight to draining backend `id` in this proxy worker.
struct DrainDone {
    uint64_t id = 0;
};

// Upper bounds (seconds) of the latency histogram buckets: Prometheus' default buckets. Both
// ends must agree on them, so they live with the message.
inline constexpr std::array<double, 11> kLatencyBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                        0.5,   1,    2.5,   5,    10};
// Response cache outcomes (the X-Cache-Status values), indexing RequestSeries::cache.
enum class CacheStatus : uint8_t { miss, hit, expired, stale, updating, bypass };
inline constexpr std::array<std::string_view, 6> kCacheStatusNames{"MISS",  "HIT",      "EXPIRED",
                                                                   "STALE", "UPDATING", "BYPASS"};
// Rate limiter outcomes, indexing RequestSeries::rate_limit.
enum class RateLimitResult : uint8_t { passed, delayed, rejected };
inline constexpr std::array<std::string_view, 3> kRateLimitResultNames{"passed", "delayed", "rejected"};

// Cumulative request counters of one location (or one upstream) in one proxy worker.
struct RequestSeries {
    enum class Kind : uint8_t { location, upstream };
    Kind kind = Kind::location;
    std::string server;          // location: its server's first server_name, else first listen
    std::string name;            // location path as written ("/api/", "= /x"), or upstream/app name
    std::array<uint64_t, 5> by_class{};                          // 1xx .. 5xx
    std::array<uint64_t, kLatencyBuckets.size() + 1> latency{};  // per bucket, last = +Inf
    double latency_sum = 0;      // seconds
    // The sum and the sum of squares of the observations in each bucket (seconds, seconds²):
    // the bucket's mean and spread, which place a quantile inside its bucket far closer than
    // the bounds alone can (status' p99; /metrics exposes the Prometheus histogram only).
    std::array<double, kLatencyBuckets.size() + 1> bucket_sum{};
    std::array<double, kLatencyBuckets.size() + 1> bucket_sum_sq{};
    std::array<uint64_t, kCacheStatusNames.size()> cache{};
    std::array<uint64_t, kRateLimitResultNames.size()> rate_limit{};

    uint64_t count() const;      // requests counted (the sum of by_class)
    // Adds another worker's counters of the same series.
    void add(const RequestSeries& o);
    // Counts one request: its HTTP status by class, and how long it took.
    void observe(int status, double seconds);
    bool operator==(const RequestSeries&) const = default;
};

// proxy -> master, about once a second: counters for `status` and metrics, cumulative since
// the proxy worker started (the master keeps totals monotonic across re-forks).
struct Stats {
    int pid = 0;
    uint64_t connections = 0;    // open client connections now
    uint64_t requests = 0;       // requests served since start (monotonic)
    std::vector<RequestSeries> series;
};

// master -> proxy: stop accepting, finish in-flight requests, exit. Open connections get
// `grace_ms` (0: the worker's own 10 s), then are closed.
struct Quit {
    int64_t grace_ms = 0;
};

// master -> proxy: the ACME challenges to answer now, replacing the previous set (an empty
// one ends them). http-01: a token's key authorization, served on plain listeners under
// /.well-known/acme-challenge/. tls-alpn-01: a name's RFC 8737 certificate and key (PEM),
// offered only to a ClientHello asking for ALPN "acme-tls/1" alone.
struct AcmeAlpnChallenge {
    std::string name;
    std::string cert_pem;
    std::string key_pem;
    bool operator==(const AcmeAlpnChallenge&) const = default;
};
struct AcmeChallenges {
    uint64_t serial = 0;
    std::map<std::string, std::string> http;
    std::vector<AcmeAlpnChallenge> alpn;
};

// proxy -> master: this worker answers challenge set `serial` from now on (so the daemon asks
// the CA to validate only once every worker would answer).
struct AcmeChallengesApplied {
    uint64_t serial = 0;
};

using Message = std::variant<ProxyConfig, BackendAdd, BackendDrain, BackendRemove, DrainDone, Stats, Quit,
                             AcmeChallenges, AcmeChallengesApplied>;

std::string encode(const Message& m);
Result<Message> decode(std::string_view payload);

}  // namespace ne::ipc
