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

// Parsed again here (config/load validated both already): the proxy gets config as JSON.
std::unique_ptr<const LocationPlan> plan_for(const config::Location& loc, size_t server) {
    auto plan = std::make_unique<LocationPlan>();
    if (!loc.return_.empty()) {
        if (auto spec = config::parse_return(loc.return_))
            plan->ret = std::move(*spec);
        else
            spdlog::warn("{}: return: {}; answering 500", loc.where.str(), spec.error().message);
    }
    for (const auto& [name, value] : loc.proxy_headers) {
        if (auto t = config::parse_template(value))
            plan->proxy_headers.push_back({name, std::move(*t)});
        else
            spdlog::warn("{}: proxy_headers.{}: {}; not set", loc.where.str(), name, t.error().message);
    }
    if (loc.rate_limit.enabled) {
        RateRule rule;
        rule.limit = Limit::from(loc.rate_limit);
        rule.scope = std::to_string(server) + (loc.exact ? " = " : " ") + loc.path;
        if (loc.rate_limit.key.starts_with("http_")) {
            rule.header = loc.rate_limit.key.substr(5);
            for (char& c : rule.header) c = c == '_' ? '-' : c;  // nginx: $http_x_api_key is X-Api-Key
        }
        rule.status = loc.rate_limit.status;
        plan->rate = std::move(rule);
    }
    return plan;
}

}  // namespace

Result<std::shared_ptr<const Snapshot>> build_snapshot(const nlohmann::json& payload, PoolSet& pools,
                                                       TlsSessionCache* tls_sessions) {
    auto cfg = config::from_json(payload);
    if (!cfg) return cfg.error().wrap("proxy config");
    auto snap = std::make_shared<Snapshot>();
    snap->config = std::move(*cfg);
    snap->routes = RouteTable(snap->config);
    auto tls = TlsContexts::build(snap->config, tls_sessions);
    if (!tls) return tls.error().wrap("proxy config");
    snap->tls = std::move(*tls);
    for (const auto& e : pools.sync_upstreams(snap->config.upstreams)) spdlog::warn("{}", e.message);
    for (const auto& srv : snap->config.servers) {
        auto& row = snap->locations.emplace_back();
        for (const auto& loc : srv.locations) {
            LocationRoute r;
            if (!loc.app.empty()) r.pool = &pools.app(loc.app);
            else if (!loc.upstream.empty()) r.pool = &pools.upstream(loc.upstream);
            if (!loc.root.empty() || !loc.alias.empty())
                r.files = snap->static_files.emplace_back(std::make_unique<const StaticFiles>(loc)).get();
            r.plan = snap->plans.emplace_back(plan_for(loc, snap->locations.size() - 1)).get();
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
