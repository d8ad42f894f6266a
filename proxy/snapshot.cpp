#include "proxy/snapshot.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "config/json.h"

namespace ne::proxy {

namespace {

std::string read_error_page(const std::string& path) {
    if (path.empty()) return {};
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    if (f) s << f.rdbuf();
    if (!f || s.str().empty()) {
        spdlog::warn("error_page {}: cannot read it; using the built-in pages", path);
        return {};
    }
    return s.str();
}

}  // namespace

Result<std::shared_ptr<const Snapshot>> build_snapshot(const nlohmann::json& payload, PoolSet& pools) {
    auto cfg = config::from_json(payload);
    if (!cfg) return cfg.error().wrap("proxy config");
    auto snap = std::make_shared<Snapshot>();
    snap->config = std::move(*cfg);
    snap->routes = RouteTable(snap->config);
    for (const auto& e : pools.sync_upstreams(snap->config.upstreams)) spdlog::warn("{}", e.message);
    for (const auto& srv : snap->config.servers) {
        auto& row = snap->locations.emplace_back();
        for (const auto& loc : srv.locations) {
            LocationRoute r;
            if (!loc.app.empty()) r.pool = &pools.app(loc.app);
            else if (!loc.upstream.empty()) r.pool = &pools.upstream(loc.upstream);
            else if (!loc.root.empty() || !loc.alias.empty())
                r.files = snap->static_files.emplace_back(std::make_unique<const StaticFiles>(loc)).get();
            r.balancer = balancer_named(loc.balance);
            if (!r.balancer) {
                spdlog::warn("{}: unknown balance '{}'; using round_robin", loc.where.str(), loc.balance);
                r.balancer = &round_robin_balancer();
            }
            row.push_back(r);
        }
    }
    snap->error_page = read_error_page(snap->config.proxy.error_page);
    return std::shared_ptr<const Snapshot>(std::move(snap));
}

}  // namespace ne::proxy
