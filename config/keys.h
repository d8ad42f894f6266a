// The keys ecosystem.toml accepts, one list per table: load.cpp hands each list to its
// TableReader (anything else is "unknown key"), and the reference test compares them with
// docs/configuration.md, so the loader and its documentation cannot drift apart.
#pragma once

#include <string_view>
#include <vector>

namespace ne::config::keys {

using List = std::vector<std::string_view>;

extern const List kTop;             // the document itself
extern const List kProxy;           // [proxy]
extern const List kMetrics;         // [metrics]
extern const List kApp;             // [[apps]]
extern const List kHealthCheck;     // apps.health_check
extern const List kServer;          // [[servers]]
extern const List kTls;             // servers.tls
extern const List kGzip;            // servers.gzip
extern const List kLocation;        // [[servers.locations]]
extern const List kRateLimit;       // servers.locations.rate_limit
extern const List kCache;           // servers.locations.cache
extern const List kUpstream;        // [[upstreams]]
extern const List kUpstreamServer;  // upstreams.servers

// A table by its dotted path ("" for the document, "servers.locations" for
// [[servers.locations]]) and the keys it accepts. servers.locations.cache.valid is left out:
// its keys are HTTP status codes, not names.
struct Table {
    std::string_view path;
    const List& keys;
};
const std::vector<Table>& tables();

}  // namespace ne::config::keys
