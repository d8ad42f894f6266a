#include "proxy/snapshot.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
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

TryFallback fallback_for(const std::string& written, const config::CaptureNames& names, const RouteTable& routes,
                         int server, const config::Location& loc) {
    TryFallback f;
    if (written.starts_with('=')) {
        f.status = std::atoi(written.c_str() + 1);
    } else if (written.starts_with('@')) {
        f.kind = TryFallback::Kind::named;
        f.named = routes.named_location(server, written);
        if (f.named < 0) spdlog::warn("{}: try_files: no location {}; answering 404", loc.where.str(), written);
        if (f.named < 0) f.kind = TryFallback::Kind::status;
    } else if (auto t = config::parse_template(written, names)) {
        f.kind = TryFallback::Kind::uri;
        f.uri = std::move(*t);
    } else {
        spdlog::warn("{}: try_files: {}; answering 500", loc.where.str(), t.error().message);
        f.status = 500;
    }
    return f;
}

void parse_try_files(const config::Location& loc, const config::CaptureNames& names, const RouteTable& routes,
                     int server, LocationPlan& plan) {
    if (loc.try_files.empty()) return;
    for (size_t i = 0; i + 1 < loc.try_files.size(); ++i) {
        if (auto t = config::parse_template(loc.try_files[i], names))
            plan.try_files.push_back(std::move(*t));
        else
            spdlog::warn("{}: try_files: {}; skipped", loc.where.str(), t.error().message);
    }
    plan.fallback = fallback_for(loc.try_files.back(), names, routes, server, loc);
}

// Parsed again here (config/load validated them already): the proxy gets config as JSON.
std::unique_ptr<const LocationPlan> plan_for(const config::Location& loc, const RouteTable& routes, int server,
                                             int location) {
    auto plan = std::make_unique<LocationPlan>();
    const config::CaptureNames names = routes.capture_names(server, location);
    if (!loc.return_.empty()) {
        if (auto spec = config::parse_return(loc.return_, names))
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
        rule.scope = std::to_string(server) + " " + config::spelling(loc);
        if (loc.rate_limit.key.starts_with("http_")) {
            rule.header = loc.rate_limit.key.substr(5);
            for (char& c : rule.header) c = c == '_' ? '-' : c;  // nginx: $http_x_api_key is X-Api-Key
        }
        rule.status = loc.rate_limit.status;
        plan->rate = std::move(rule);
    }
    parse_try_files(loc, names, routes, server, *plan);
    if (!loc.alias.empty() && (loc.match == config::Match::regex || loc.match == config::Match::regex_icase)) {
        if (auto t = config::parse_template(loc.alias, names); t && t->has_vars())
            plan->alias = std::move(*t);
    }
    return plan;
}

}  // namespace

Result<std::shared_ptr<const Snapshot>> build_snapshot(const nlohmann::json& payload, const config::TlsFiles& tls_files,
                                                       PoolSet& pools,
                                                       TlsSessionCache* tls_sessions) {
    auto cfg = config::from_json(payload);
    if (!cfg) return cfg.error().wrap("proxy config");
    auto snap = std::make_shared<Snapshot>();
    snap->config = std::move(*cfg);
    snap->routes = RouteTable(snap->config);
    auto tls = TlsContexts::build(snap->config, tls_files, tls_sessions);
    if (!tls) return tls.error().wrap("proxy config");
    snap->tls = std::move(*tls);
    for (const auto& e : pools.sync_upstreams(snap->config.upstreams)) spdlog::warn("{}", e.message);
    for (const auto& srv : snap->config.servers) {
        auto& row = snap->locations.emplace_back();
        const int server = static_cast<int>(snap->locations.size() - 1);
        for (const auto& loc : srv.locations) {
            LocationRoute r;
            if (!loc.app.empty()) r.pool = &pools.app(loc.app);
            else if (!loc.upstream.empty()) r.pool = &pools.upstream(loc.upstream);
            if (!loc.root.empty() || !loc.alias.empty())
                r.files = snap->static_files.emplace_back(std::make_unique<const StaticFiles>(loc)).get();
            r.plan = snap->plans.emplace_back(plan_for(loc, snap->routes, server, static_cast<int>(row.size()))).get();
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
