// A proxy worker's request counters for metrics: per location and per upstream, by status
// class, with latency histograms, plus the cache and rate-limit outcomes. Cumulative since the
// worker started; sent to the master once a second (ipc::Stats), which sums the workers.
//
// Counting is on the request path, so a finished request costs a few additions: a location's
// series is found through a table cached per config snapshot (rebuilt only when a request of a
// newer snapshot arrives), an upstream's by a map lookup without allocation.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "ipc/messages.h"
#include "proxy/log/request_record.h"
#include "proxy/snapshot.h"

namespace ne::proxy {

class StatsTable {
public:
    // One finished request, as log_request() reports it: its location's series (empty labels
    // when it matched none: a 400 before routing, a 404 without a route) counts status class,
    // request time and the rate limiter's outcome; `upstream` (the pool's app or [[upstreams]]
    // name, "" when not proxied) counts the upstream time when an upstream answered.
    void count(const std::shared_ptr<const Snapshot>& snap, const RequestRecord& r, std::string_view upstream);
    // What the response cache did for a request of that location (its X-Cache-Status).
    void count_cache(const std::shared_ptr<const Snapshot>& snap, int server, const config::Location* loc,
                     ipc::CacheStatus s);

    // Every series counted so far (locations first), for ipc::Stats.
    std::vector<ipc::RequestSeries> series() const;

    // The labels of a location: its server's first server_name (else its first listen
    // address) and its path as written ("= /x" for an exact one).
    static std::pair<std::string, std::string> labels(const config::Server& srv, const config::Location& loc);

private:
    ipc::RequestSeries& location(const std::shared_ptr<const Snapshot>& snap, int server,
                                 const config::Location* loc);

    std::map<std::pair<std::string, std::string>, ipc::RequestSeries> locations_;
    std::map<std::string, ipc::RequestSeries, std::less<>> upstreams_;
    ipc::RequestSeries unrouted_;                 // server "" and location ""
    // The snapshot the table below was built for, held so its address is not reused.
    std::shared_ptr<const Snapshot> cached_snap_;
    std::vector<std::vector<ipc::RequestSeries*>> cached_;   // [server][location]
};

}  // namespace ne::proxy
