#include "proxy/log/stats_table.h"

namespace ne::proxy {

static_assert(static_cast<size_t>(RequestRecord::RateLimit::passed) - 1 ==
                  static_cast<size_t>(ipc::RateLimitResult::passed) &&
              static_cast<size_t>(RequestRecord::RateLimit::delayed) - 1 ==
                  static_cast<size_t>(ipc::RateLimitResult::delayed) &&
              static_cast<size_t>(RequestRecord::RateLimit::rejected) - 1 ==
                  static_cast<size_t>(ipc::RateLimitResult::rejected),
              "RequestRecord::RateLimit - 1 indexes RequestSeries::rate_limit");

std::pair<std::string, std::string> StatsTable::labels(const config::Server& srv, const config::Location& loc) {
    std::string server = !srv.server_name.empty() ? srv.server_name.front()
                         : !srv.listen.empty()    ? srv.listen.front().str()
                                                  : std::string();
    return {std::move(server), config::spelling(loc)};
}

ipc::RequestSeries& StatsTable::location(const std::shared_ptr<const Snapshot>& snap, int server,
                                         const config::Location* loc) {
    if (!snap || !loc || server < 0 || static_cast<size_t>(server) >= snap->config.servers.size()) return unrouted_;
    const auto& srv = snap->config.servers[static_cast<size_t>(server)];
    if (loc < srv.locations.data() || loc >= srv.locations.data() + srv.locations.size()) return unrouted_;
    if (snap != cached_snap_) {
        cached_.clear();
        for (const auto& sv : snap->config.servers) {
            auto& row = cached_.emplace_back();
            for (const auto& l : sv.locations) {
                auto key = labels(sv, l);
                auto [it, fresh] = locations_.try_emplace(key);
                if (fresh) {
                    it->second.server = key.first;
                    it->second.name = key.second;
                }
                row.push_back(&it->second);
            }
        }
        cached_snap_ = snap;
    }
    return *cached_[static_cast<size_t>(server)][static_cast<size_t>(loc - srv.locations.data())];
}

void StatsTable::count(const std::shared_ptr<const Snapshot>& snap, const RequestRecord& r, std::string_view upstream) {
    auto& loc = location(snap, r.server, r.location);
    loc.observe(r.status, r.request_seconds);
    if (r.rate_limit != RequestRecord::RateLimit::none)
        ++loc.rate_limit[static_cast<size_t>(r.rate_limit) - 1];
    if (upstream.empty() || r.upstream_seconds < 0) return;
    auto it = upstreams_.find(upstream);
    if (it == upstreams_.end()) {
        it = upstreams_.emplace(std::string(upstream), ipc::RequestSeries{}).first;
        it->second.kind = ipc::RequestSeries::Kind::upstream;
        it->second.name = upstream;
    }
    it->second.observe(r.status, r.upstream_seconds);
}

void StatsTable::count_cache(const std::shared_ptr<const Snapshot>& snap, int server, const config::Location* loc,
                             ipc::CacheStatus s) {
    ++location(snap, server, loc).cache[static_cast<size_t>(s)];
}

std::vector<ipc::RequestSeries> StatsTable::series() const {
    std::vector<ipc::RequestSeries> out;
    out.reserve(locations_.size() + upstreams_.size() + 1);
    for (const auto& [k, s] : locations_) out.push_back(s);
    if (unrouted_.count() > 0) out.push_back(unrouted_);
    for (const auto& [k, s] : upstreams_) out.push_back(s);
    return out;
}

}  // namespace ne::proxy
