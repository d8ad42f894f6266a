#include "proxy/route/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "proxy/http/headers.h"

namespace ne::proxy {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = ascii_lower(c);
    return out;
}

}  // namespace

RouteTable::RouteTable(const config::Config& cfg) {
    locations_.resize(cfg.servers.size());
    for (size_t si = 0; si < cfg.servers.size(); ++si) {
        const auto& srv = cfg.servers[si];
        int s = static_cast<int>(si);
        for (const auto& l : srv.listen) {
            Address& a = addresses_[l.str()];
            if (a.default_server < 0) a.default_server = s;
            if (srv.server_name.empty() && a.catch_all < 0) a.catch_all = s;
            for (const auto& name : srv.server_name) {
                if (name.size() > 2 && name.compare(0, 2, "*.") == 0)
                    a.wildcards.push_back({lower(name.substr(1)), s});
                else
                    a.exact.emplace(lower(name), s);  // the first server to claim a name keeps it
            }
        }
        Locations& locs = locations_[si];
        for (size_t li = 0; li < srv.locations.size(); ++li) {
            const auto& loc = srv.locations[li];
            const int index = static_cast<int>(li);
            switch (loc.match) {
                case config::Match::exact: locs.exact.emplace(loc.path, index); break;
                case config::Match::named: locs.named.emplace(loc.path, index); break;
                case config::Match::prefix:
                case config::Match::prefix_stop:
                    locs.prefixes.push_back({loc.path, index, loc.match == config::Match::prefix_stop});
                    break;
                case config::Match::regex:
                case config::Match::regex_icase:
                    // The loader compiled it already; failing here means a config it did not check.
                    if (auto re = config::Regex::compile(loc.path, loc.match == config::Match::regex_icase, true))
                        locs.patterns.push_back({std::move(*re), index});
                    else
                        spdlog::error("{}: location '{}': {}; never matched", loc.where.str(), config::spelling(loc),
                                      re.error().message);
                    break;
            }
        }
        // Stable: of two equal prefixes the one written first wins.
        std::stable_sort(locs.prefixes.begin(), locs.prefixes.end(),
                         [](const Prefix& a, const Prefix& b) { return a.path.size() > b.path.size(); });
    }
    for (auto& [addr, a] : addresses_)
        std::stable_sort(a.wildcards.begin(), a.wildcards.end(),
                         [](const Wildcard& x, const Wildcard& y) { return x.suffix.size() > y.suffix.size(); });
}

int RouteTable::default_server(std::string_view listen) const {
    auto it = addresses_.find(listen);
    return it == addresses_.end() ? -1 : it->second.default_server;
}

int RouteTable::server_for(std::string_view listen, std::string_view host) const {
    auto it = addresses_.find(listen);
    if (it == addresses_.end()) return -1;
    const Address& a = it->second;
    char buf[256];
    std::string_view name = normalize_host(host, buf, sizeof buf);
    if (!name.empty()) {
        if (auto e = a.exact.find(name); e != a.exact.end()) return e->second;
        for (const auto& w : a.wildcards)
            if (name.size() > w.suffix.size() && name.ends_with(w.suffix)) return w.server;
    }
    return a.catch_all >= 0 ? a.catch_all : a.default_server;
}

int RouteTable::location_for(int server, std::string_view path, config::Captures* captures) const {
    if (captures) captures->clear();
    if (server < 0 || static_cast<size_t>(server) >= locations_.size()) return -1;
    const Locations& locs = locations_[static_cast<size_t>(server)];
    if (!locs.exact.empty())
        if (auto e = locs.exact.find(path); e != locs.exact.end()) return e->second;
    const Prefix* longest = nullptr;
    for (const auto& p : locs.prefixes) {
        if (!path.starts_with(p.path)) continue;
        longest = &p;
        break;
    }
    if (longest && longest->stop) return longest->location;
    if (!locs.patterns.empty()) {
        static thread_local config::MatchBlock block;
        config::Captures unused;
        for (const auto& p : locs.patterns)
            if (p.regex.match(path, block, captures ? *captures : unused)) return p.location;
    }
    return longest ? longest->location : -1;
}

int RouteTable::named_location(int server, std::string_view name) const {
    if (server < 0 || static_cast<size_t>(server) >= locations_.size()) return -1;
    const NameMap& named = locations_[static_cast<size_t>(server)].named;
    auto it = named.find(name);
    return it == named.end() ? -1 : it->second;
}

config::CaptureNames RouteTable::capture_names(int server, int location) const {
    if (server < 0 || static_cast<size_t>(server) >= locations_.size()) return {};
    for (const auto& p : locations_[static_cast<size_t>(server)].patterns)
        if (p.location == location) return p.regex.names();
    return {};
}

std::string_view normalize_host(std::string_view host, char* buf, size_t cap) {
    if (!host.empty() && host.front() == '[') {
        // IPv6 literal: "[::1]:8080" -> "[::1]".
        auto close = host.find(']');
        host = close == std::string_view::npos ? std::string_view{} : host.substr(0, close + 1);
    } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
        host = host.substr(0, colon);
    }
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (host.size() > cap) return {};
    for (size_t i = 0; i < host.size(); ++i) {
        char c = host[i];
        buf[i] = ascii_lower(c);
    }
    return {buf, host.size()};
}

TargetParts split_target(std::string_view target) {
    if (target.empty() || target.front() == '/' || target == "*") return {{}, target};
    auto scheme = target.find("://");
    if (scheme == std::string_view::npos) return {{}, target};
    std::string_view rest = target.substr(scheme + 3);
    auto end = rest.find_first_of("/?#");
    if (end == std::string_view::npos) return {rest, "/"};
    // "http://h?q" has no path: its origin form would be "/?q", which is not a view of the
    // target; "/" keeps routing right and the query is rare enough to lose here.
    return {rest.substr(0, end), rest[end] == '/' ? rest.substr(end) : std::string_view{"/"}};
}

std::string_view target_path(std::string_view target) {
    target = split_target(target).origin;
    auto end = target.find_first_of("?#");
    return end == std::string_view::npos ? target : target.substr(0, end);
}

}  // namespace ne::proxy
