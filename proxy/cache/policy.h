// The response cache's rules (pure): which requests may use it, the key, whether and for
// how long a response may be stored (nginx's proxy_cache rules), and the X-Cache-Status words.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "config/config.h"
#include "proxy/http/parser.h"

namespace ne::proxy {

enum class CacheStatus : uint8_t { none, miss, hit, expired, stale, updating, bypass };

// "MISS", "HIT", ...; "" for none (the request does not use the cache: no header).
std::string_view cache_status_name(CacheStatus s);

enum class RequestCaching : uint8_t {
    skip,     // not GET or HEAD: the cache is not involved
    bypass,   // Authorization or a bypass cookie: straight to the app, nothing stored
    use,
};

RequestCaching request_caching(std::string_view method, std::span<const Header> headers,
                               const config::Cache& cache);

// Whether a Cookie header value names `name` ("a=1; session=x").
bool has_cookie(std::string_view cookie_header, std::string_view name);

// "http://example.com:8080/path?q": scheme, Host (lower-cased) and the target as sent.
std::string cache_key(std::string_view scheme, std::string_view host, std::string_view target);

// How long a response may be served from the cache, or nullopt when it must not be stored:
// a Set-Cookie, Cache-Control private/no-store/no-cache, `Vary: *` or a Vary list over
// kMaxVary bytes (nginx's limits), a 206. Upstream
// Cache-Control s-maxage, then max-age, then Expires win over `valid`, as in nginx; without
// them the status must be listed in `valid`.
std::optional<std::chrono::seconds> freshness(int status, std::span<const Header> headers,
                                              const config::Cache& cache, std::time_t now);

constexpr size_t kMaxVary = 128;

// The response's Vary list, lower-cased, comma-joined ("accept-encoding,x-lang"); "" for none.
std::string response_vary(std::span<const Header> headers);
// The key of the variant `request` gets of a response that varies on `vary`: the key plus
// each listed header's values as the request sent them (none is a value too), as nginx's
// variant hash is made.
std::string variant_key(std::string_view key, std::string_view vary, std::span<const Header> request);

// Whether `use_stale` lists `condition` ("error", "timeout", "updating", "http_502", ...).
bool use_stale(const config::Cache& cache, std::string_view condition);

// Response headers kept in a cache file: not hop-by-hop, not framing, not per-request
// (X-Request-ID, X-Cache-Status).
bool stored_header(std::string_view name);

}  // namespace ne::proxy
