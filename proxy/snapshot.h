// One configuration as the proxy uses it: the Config, its routing table, each location's pool
// and balancing policy, and the error page. Immutable once built; requests hold a
// shared_ptr to the snapshot they started with, so a new ProxyConfig never changes a request
// in flight.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/template.h"
#include "ipc/result.h"
#include "proxy/upstream/balancer.h"
#include "proxy/upstream/pool.h"
#include "proxy/limits/rate_limit.h"
#include "proxy/route/router.h"
#include "proxy/static/static_files.h"
#include "proxy/tls/context.h"

namespace ne::proxy {

struct ProxyHeader {
    std::string name;
    config::Template value;
};

// A location's `rate_limit`, ready for the shared zone.
struct RateRule {
    Limit limit;
    std::string scope;           // keeps this location's buckets apart from another's
    std::string header;          // key "http_x_api_key" -> "x-api-key"; "" = the client address
    int status = 503;
};

// try_files's last element: what happens when no file was found.
struct TryFallback {
    enum class Kind : uint8_t { status, uri, named } kind = Kind::status;
    int status = 404;                 // "=404"
    config::Template uri;             // "/index.html?$args": location matching runs again
    int named = -1;                   // "@app": that location of the server
};

// What a location does besides choosing a backend, parsed once per config.
struct LocationPlan {
    std::optional<config::ReturnSpec> ret;
    std::vector<ProxyHeader> proxy_headers;
    std::optional<RateRule> rate;
    std::vector<config::Template> try_files;   // tried in order: "$uri", "$uri/" (a directory)
    std::optional<TryFallback> fallback;       // set when try_files is
    std::optional<config::Template> alias;     // a regex location's alias with captures
};

// Where a location sends its requests: a pool to proxy to, static files (owned by the
// snapshot), both (the file when it exists, else the pool: nginx's try_files), or neither
// (`return`, in plan).
struct LocationRoute {
    Pool* pool = nullptr;
    const Balancer* balancer = nullptr;
    const StaticFiles* files = nullptr;
    const LocationPlan* plan = nullptr;   // never null in a snapshot
};

struct Snapshot {
    config::Config config;
    RouteTable routes;
    std::vector<std::vector<LocationRoute>> locations;   // [server][location]
    std::vector<std::unique_ptr<const StaticFiles>> static_files;  // what LocationRoute::files point to
    std::vector<std::unique_ptr<const LocationPlan>> plans;        // what LocationRoute::plan points to
    std::string error_page;                              // HTML for 502/503/504; "" = built in
    TlsContexts tls;                                     // SSL_CTX per TLS server

    const config::Server* server(int i) const {
        return i < 0 ? nullptr : &config.servers[static_cast<size_t>(i)];
    }
};

// Decodes a ProxyConfig payload. Pools are found (or created) in `pools`, and the
// [[upstreams]] pools are synced with the new config. Errors say what was wrong; warnings
// (an unreadable error page, an unresolvable upstream server) are logged and skipped.
// TLS sessions go to `tls_sessions` (null: each context's own cache).
Result<std::shared_ptr<const Snapshot>> build_snapshot(const nlohmann::json& payload, const config::TlsFiles& tls_files,
                                                       PoolSet& pools,
                                                       TlsSessionCache* tls_sessions);

}  // namespace ne::proxy
