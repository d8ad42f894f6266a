#include "proxy/cache/policy.h"

#include <algorithm>
#include <charconv>

#include "proxy/http/forward_headers.h"
#include "proxy/http/date.h"

namespace ne::proxy {

namespace {

// Calls f(element) for each trimmed, non-empty element of a list split at `sep`.
template <typename F>
void for_each_item(std::string_view list, char sep, F&& f) {
    while (!list.empty()) {
        const size_t at = list.find(sep);
        const std::string_view item = trim_ows(list.substr(0, at));
        if (!item.empty()) f(item);
        list = at == std::string_view::npos ? std::string_view{} : list.substr(at + 1);
    }
}

std::optional<int64_t> seconds_value(std::string_view directive, std::string_view name) {
    if (directive.size() <= name.size() + 1 || !header_is(directive.substr(0, name.size()), name) ||
        directive[name.size()] != '=')
        return std::nullopt;
    std::string_view v = directive.substr(name.size() + 1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    int64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || n < 0) return int64_t{0};  // unusable: stale at once
    return n;
}

// Statuses a cache may store without explicit freshness in `valid` (RFC 9111 4.2.2's
// heuristically cacheable ones), when the upstream gives a lifetime.
bool cacheable_status(int status) {
    switch (status) {
        case 200: case 203: case 204: case 300: case 301: case 308: case 404: case 405: case 410: case 414: case 501:
            return true;
        default:
            return false;
    }
}

}  // namespace

std::string_view cache_status_name(CacheStatus s) {
    switch (s) {
        case CacheStatus::miss: return "MISS";
        case CacheStatus::hit: return "HIT";
        case CacheStatus::expired: return "EXPIRED";
        case CacheStatus::stale: return "STALE";
        case CacheStatus::updating: return "UPDATING";
        case CacheStatus::bypass: return "BYPASS";
        case CacheStatus::none: break;
    }
    return "";
}

bool has_cookie(std::string_view cookie_header, std::string_view name) {
    bool found = false;
    for_each_item(cookie_header, ';', [&](std::string_view pair) {
        found = found || trim_ows(pair.substr(0, pair.find('='))) == name;
    });
    return found;
}

RequestCaching request_caching(std::string_view method, std::span<const Header> headers, const config::Cache& cache) {
    if (method != "GET" && method != "HEAD") return RequestCaching::skip;
    for (const Header& h : headers) {
        if (header_is(h.name, "authorization")) return RequestCaching::bypass;
        if (header_is(h.name, "cookie"))
            for (const std::string& name : cache.bypass_cookie)
                if (has_cookie(h.value, name)) return RequestCaching::bypass;
    }
    return RequestCaching::use;
}

std::string cache_key(std::string_view scheme, std::string_view host, std::string_view target) {
    std::string key;
    key.reserve(scheme.size() + host.size() + target.size() + 3);
    key.append(scheme).append("://");
    for (char c : host) key.push_back(ascii_lower(c));
    key.append(target);
    return key;
}

std::optional<std::chrono::seconds> freshness(int status, std::span<const Header> headers, const config::Cache& cache,
                                              std::time_t now) {
    if (status == 206) return std::nullopt;
    std::optional<int64_t> max_age, s_maxage, expires;
    bool refused = false;
    size_t vary_bytes = 0;
    for (const Header& h : headers) {
        if (header_is(h.name, "set-cookie")) return std::nullopt;
        if (header_is(h.name, "cache-control")) {
            for_each_item(h.value, ',', [&](std::string_view d) {
                if (header_is(d, "private") || header_is(d, "no-store") || header_is(d, "no-cache") ||
                    (d.size() > 8 && (header_is(d.substr(0, 8), "private=") || header_is(d.substr(0, 9), "no-cache="))))
                    refused = true;
                if (auto v = seconds_value(d, "s-maxage")) s_maxage = v;
                if (auto v = seconds_value(d, "max-age")) max_age = v;
            });
        } else if (header_is(h.name, "expires")) {
            auto t = parse_http_date(trim_ows(h.value));
            expires = t ? std::max<int64_t>(0, static_cast<int64_t>(*t - now)) : 0;
        } else if (header_is(h.name, "vary")) {
            // nginx stores variants per the listed headers, but not for "*" (no request
            // matches it) nor for a list longer than its 128-byte slot.
            vary_bytes += h.value.size();
            for_each_item(h.value, ',', [&](std::string_view v) { refused = refused || v == "*"; });
        }
    }
    if (refused || vary_bytes > kMaxVary) return std::nullopt;
    std::optional<int64_t> lifetime = s_maxage ? s_maxage : max_age ? max_age : expires;
    if (lifetime) {
        if (*lifetime <= 0 || !(cacheable_status(status) || cache.valid.contains(status))) return std::nullopt;
        return std::chrono::seconds(*lifetime);
    }
    auto it = cache.valid.find(status);
    if (it == cache.valid.end()) return std::nullopt;
    auto s = std::chrono::duration_cast<std::chrono::seconds>(it->second);
    if (s.count() <= 0) return std::nullopt;
    return s;
}

std::string response_vary(std::span<const Header> headers) {
    std::string out;
    for (const Header& h : headers) {
        if (!header_is(h.name, "vary")) continue;
        for_each_item(h.value, ',', [&](std::string_view v) {
            if (v.empty()) return;
            if (!out.empty()) out += ",";
            for (char c : v) out.push_back(ascii_lower(c));
        });
    }
    return out;
}

std::string variant_key(std::string_view key, std::string_view vary, std::span<const Header> request) {
    std::string out(key);
    for_each_item(vary, ',', [&](std::string_view name) {
        if (name.empty()) return;
        out.append("\n").append(name).append(":");
        bool first = true;
        for (const Header& h : request) {
            if (!header_is(h.name, name)) continue;
            if (!first) out.append(",");
            out.append(trim_ows(h.value));
            first = false;
        }
    });
    return out;
}

bool use_stale(const config::Cache& cache, std::string_view condition) {
    return std::find(cache.use_stale.begin(), cache.use_stale.end(), condition) != cache.use_stale.end();
}

bool stored_header(std::string_view name) {
    static constexpr std::string_view kDropped[] = {
        "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy-connection",
        "content-length", "x-request-id", "x-cache-status", "set-cookie"};
    return std::none_of(std::begin(kDropped), std::end(kDropped), [&](std::string_view d) { return header_is(name, d); });
}

}  // namespace ne::proxy
