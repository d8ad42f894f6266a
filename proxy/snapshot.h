// One configuration as the proxy uses it: the Config, its routing table, each location's pool
// and balancing policy, and the error page. Immutable once built; requests hold a
// shared_ptr to the snapshot they started with, so a new ProxyConfig never changes a request
// in flight.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "ipc/result.h"
#include "proxy/balancer.h"
#include "proxy/pool.h"
#include "proxy/router.h"
#include "proxy/static_files.h"

namespace ne::proxy {

// Where a location sends its requests: a pool to proxy to, or static files (owned by the
// snapshot); neither for `return`, which this build does not serve yet.
struct LocationRoute {
    Pool* pool = nullptr;
    const Balancer* balancer = nullptr;
    const StaticFiles* files = nullptr;
};

struct Snapshot {
    config::Config config;
    RouteTable routes;
    std::vector<std::vector<LocationRoute>> locations;   // [server][location]
    std::vector<std::unique_ptr<const StaticFiles>> static_files;  // what LocationRoute::files point to
    std::string error_page;                              // HTML for 502/503/504; "" = built in

    const config::Server* server(int i) const {
        return i < 0 ? nullptr : &config.servers[static_cast<size_t>(i)];
    }
};

// Decodes a ProxyConfig payload. Pools are found (or created) in `pools`, and the
// [[upstreams]] pools are synced with the new config. Errors say what was wrong; warnings
// (an unreadable error page, an unresolvable upstream server) are logged and skipped.
Result<std::shared_ptr<const Snapshot>> build_snapshot(const nlohmann::json& payload, PoolSet& pools);

}  // namespace ne::proxy
