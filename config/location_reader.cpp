#include "config/location_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>

#include "config/keys.h"
#include "config/regex.h"
#include "config/template.h"

namespace ne::config {
namespace {

// nginx's spellings: "/p" prefix, "= /p" exact, "^~ /p" prefix that stops the regex search,
// "~ REGEX" and "~* REGEX" (case-insensitive), "@name" named. A regex is compiled here so that
// a bad one is an error at its line; its named groups are returned for the templates.
CaptureNames read_location_path(TableReader& r, Location& l) {
    std::string written;
    if (!r.read("path", written)) return {};
    std::string_view path = written;
    auto modifier = [&](std::string_view m, Match match) {
        if (!path.starts_with(m)) return false;
        path.remove_prefix(m.size());
        while (path.starts_with(' ')) path.remove_prefix(1);
        l.match = match;
        return true;
    };
    const bool regex = modifier("~*", Match::regex_icase) || modifier("~", Match::regex);
    if (!regex && !modifier("^~", Match::prefix_stop)) modifier("=", Match::exact);
    const auto& at = r.get("path")->source();
    if (path.starts_with('@')) {
        l.match = Match::named;
        if (path.size() < 2 || path.find_first_of(" /") != std::string_view::npos || written.front() != '@')
            r.fail(at, r.label("path") + ": '" + written + "' is not a named location \"@name\"");
        l.path = path;
        return {};
    }
    if (regex) {
        l.path = path;
        auto compiled = Regex::compile(path, l.match == Match::regex_icase, false);
        if (!compiled) {
            r.fail(at, r.label("path") + ": '" + written + "' is not a valid regex: " + compiled.error().message);
            return {};
        }
        return compiled->names();
    }
    if (!path.starts_with('/')) {
        r.fail(at, r.label("path") + ": '" + written +
                       "' must be a prefix starting with '/', an exact match \"= /p\", \"^~ /p\", a regex \"~ REGEX\" "
                       "or \"~* REGEX\" (case-insensitive), or a named location \"@name\"");
        return {};
    }
    l.path = path;
    return {};
}

// A string, or an integer for a bare code (`return = 404`); parsed here so that a bad code or
// an unknown $variable is reported at its line.
void read_return(TableReader& r, Location& l, const CaptureNames& captures) {
    std::string text;
    if (!r.read_text("return", text, "a string such as \"301 https://$host$request_uri\"")) return;
    if (auto spec = parse_return(text, captures); !spec)
        r.fail(r.get("return")->source(), r.label("return") + ": " + spec.error().message);
    else
        l.return_ = text;
}

// nginx's proxy_set_header: a header the proxy sets on the request it sends upstream. Framing
// and hop-by-hop headers are the proxy's own business; values may hold $variables.
void read_proxy_headers(TableReader& r, Location& l) {
    std::map<std::string, std::string> headers;
    if (!r.read("proxy_headers", headers)) return;
    static constexpr std::string_view kOwned[] = {"content-length", "transfer-encoding", "connection",
                                                  "keep-alive", "upgrade", "te", "trailer",
                                                  "proxy-connection", "expect"};
    const auto* table = r.get("proxy_headers")->as_table();
    for (const auto& [name, value] : headers) {
        const auto& at = table->get(name)->source();
        const std::string label = r.label("proxy_headers") + "." + name;
        const bool token = !name.empty() && name.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~") == std::string::npos;
        std::string lower = name;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!token) {
            r.fail(at, label + ": '" + name + "' is not a valid header name");
        } else if (std::find(std::begin(kOwned), std::end(kOwned), lower) != std::end(kOwned)) {
            r.fail(at, label + ": " + name + " is set by the proxy itself and cannot be configured");
        } else if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
            r.fail(at, label + ": the value contains a line break or NUL");
        } else if (auto t = parse_template(value); !t) {
            r.fail(at, label + ": " + t.error().message);
        }
    }
    l.proxy_headers = std::move(headers);
}

RateLimit read_rate_limit(const toml::table& t, Diagnostics& diag) {
    TableReader r(t, "servers.locations.rate_limit", keys::kRateLimit,
                  diag);
    RateLimit rl;
    rl.enabled = true;
    r.require("rate");
    r.read_rate("rate", rl.rate_per_sec);
    r.read("burst", rl.burst, 0, INT_MAX);
    r.read("nodelay", rl.nodelay);
    if (r.read("key", rl.key) && rl.key != "remote_addr" &&
        !(rl.key.starts_with("http_") && rl.key.size() > 5))
        r.fail(r.get("key")->source(), r.label("key") + ": '" + rl.key +
                                           "' is not remote_addr or http_<header name>");
    r.read("status", rl.status, 400, 599);
    return rl;
}

// A cookie name and attribute values go into a Set-Cookie header as written: RFC 6265's
// token characters only, so nothing can end the attribute early.
bool cookie_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c <= 32 || c >= 127 || std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos) return false;
    return true;
}

Sticky read_sticky(const toml::table& t, Diagnostics& diag) {
    TableReader r(t, "servers.locations.sticky", keys::kSticky, diag);
    Sticky s;
    s.enabled = true;
    if (r.read("cookie", s.cookie) && !cookie_token(s.cookie))
        r.fail(r.get("cookie")->source(), r.label("cookie") + ": '" + s.cookie + "' is not a cookie name");
    // A path or domain may hold '/' and '.', never ';' or a control character.
    for (const auto& [key, out] : {std::pair{"path", &s.path}, {"domain", &s.domain}}) {
        if (!r.read(key, *out)) continue;
        for (char c : *out)
            if (c < 33 || c == ';' || c == 127) {
                r.fail(r.get(key)->source(), r.label(key) + ": '" + *out + "' may not hold spaces, ';' or control characters");
                break;
            }
    }
    r.read_duration("expires", s.expires);
    r.read("secure", s.secure);
    r.read("httponly", s.httponly);
    r.read_choice("samesite", s.samesite, {"strict", "lax", "none"});
    if (s.samesite == "none" && !s.secure)
        r.fail(r.get("samesite")->source(), r.label("samesite") + ": \"none\" needs secure = true (browsers drop the cookie otherwise)");
    return s;
}

void read_cache_valid(const toml::table& t, Diagnostics& diag, std::map<int, Duration>& out) {
    TableReader r(t, "servers.locations.cache.valid", diag);
    for (auto&& [key, value] : t) {
        const std::string_view text = key.str();
        int code = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
        if (ec != std::errc() || end != text.data() + text.size() || code < 100 || code > 599) {
            r.fail(key.source(), r.label(text) + ": '" + std::string(text) +
                                     "' is not an HTTP status code (100-599)");
            continue;
        }
        Duration d{0};
        if (r.read_duration(text, d)) out[code] = d;
    }
}

Cache read_cache(const toml::table& t, Diagnostics& diag) {
    TableReader r(t, "servers.locations.cache", keys::kCache, diag);
    Cache c;
    c.enabled = true;
    if (const toml::table* valid = r.table("valid")) read_cache_valid(*valid, diag, c.valid);
    r.read_choices("use_stale", c.use_stale,
                   {"error", "timeout", "updating", "http_500", "http_502", "http_503",
                    "http_504"});
    r.read("lock", c.lock);
    r.read_size("max_size", c.max_size);
    r.read("bypass_cookie", c.bypass_cookie);
    r.read_duration("lock_timeout", c.lock_timeout);
    return c;
}

// A location proxies to an app or upstream, serves files, or answers itself. Files and a
// proxy together mean nginx's `try_files $uri @app`: the file when it exists, else the app.
void require_one_handler(TableReader& r) {
    auto present = [&](std::initializer_list<std::string_view> keys) {
        std::string found;
        for (auto key : keys)
            if (r.has(key)) found += (found.empty() ? "" : ", ") + std::string(key);
        return found;
    };
    const std::string proxies = present({"app", "upstream"});
    const std::string files = present({"root", "alias"});
    const std::string all = present({"app", "upstream", "root", "alias", "return"});
    const bool one_each = proxies.find(',') == std::string::npos && files.find(',') == std::string::npos;
    // try_files alone ("=404", "@app") is a handler of its own; with files it needs root or alias.
    const bool fine = r.has("return") ? all == "return" : ((!all.empty() || r.has("try_files")) && one_each);
    if (fine) return;
    std::string message =
        "[[servers.locations]] needs one of app, upstream, root, alias, return, try_files (root or "
        "alias may go with app or upstream: the file when it exists, else the app)";
    if (!all.empty()) message += " (found " + all + ")";
    r.fail(r.table().source(), message);
}

// "=404": a status; "/uri" (or "$var..."): an internal redirect; "@name": a named location.
bool valid_fallback(std::string_view f) {
    if (f.starts_with('=')) {
        int code = 0;
        auto [end, ec] = std::from_chars(f.data() + 1, f.data() + f.size(), code);
        return ec == std::errc() && end == f.data() + f.size() && code >= 200 && code <= 599;
    }
    return f.starts_with('/') || f.starts_with('$') || (f.starts_with('@') && f.size() > 1);
}

// nginx's try_files. Every element but the last is a file tried under root or alias ("$uri")
// or a directory whose index is served ("$uri/"); the last is what happens when none exists.
void read_try_files(TableReader& r, Location& l, const CaptureNames& captures) {
    if (!r.read("try_files", l.try_files)) return;
    const auto& at = r.get("try_files")->source();
    const std::string label = r.label("try_files");
    if (l.try_files.empty()) {
        r.fail(at, label + ": needs at least a fallback, e.g. [\"$uri\", \"$uri/\", \"/index.html\"]");
        return;
    }
    for (size_t i = 0; i < l.try_files.size(); ++i) {
        const std::string& e = l.try_files[i];
        const bool last = i + 1 == l.try_files.size();
        const std::string where = label + "[" + std::to_string(i) + "]: '" + e + "'";
        if (e.starts_with('@') && !last) {
            r.fail(at, where + ": a named location is never matched against a path; it can only be the "
                               "fallback (the last element)");
            return;
        }
        if (last && !valid_fallback(e)) {
            r.fail(at, where + ": the last element is the fallback: \"=CODE\" (200-599), a URI \"/path\" "
                               "or a named location \"@name\"");
            return;
        }
        if (!e.starts_with('@') && !e.starts_with('=')) {
            if (auto t = parse_template(e, captures); !t) {
                r.fail(at, where + ": " + t.error().message);
                return;
            }
        }
    }
    if (l.try_files.size() > 1 && l.root.empty() && l.alias.empty())
        r.fail(at, label + ": needs root or alias: its elements are files tried under it");
    else if (!l.app.empty() || !l.upstream.empty())
        r.fail(at, label + ": with app or upstream in the same location, put the app in a named location "
                           "and end try_files with \"@name\" (or drop try_files: root with app already "
                           "serves the file when it exists, else the app)");
    else if (!l.alias.empty() && (l.match == Match::regex || l.match == Match::regex_icase))
        r.fail(at, label + ": with alias in a regex location the alias names the file; use root");
}

// nginx's alias in a regex location names the file itself and takes the regex's captures.
void read_alias(TableReader& r, Location& l, const std::filesystem::path& base, const CaptureNames& captures) {
    read_path(r, "alias", base, l.alias);
    if (l.alias.empty()) return;
    if (auto t = parse_template(l.alias, captures); !t)
        r.fail(r.get("alias")->source(), r.label("alias") + ": " + t.error().message);
    else if (t->has_vars() && l.match != Match::regex && l.match != Match::regex_icase)
        r.fail(r.get("alias")->source(),
               r.label("alias") + ": variables in alias need a regex location (\"~ REGEX\") to capture them");
}

// `gzip = false` turns compression off here; a table replaces the server's settings.
void read_location_gzip(TableReader& r, Location& l, Diagnostics& diag) {
    const toml::node* n = r.get("gzip");
    if (!n) return;
    if (const auto* b = n->as_boolean()) {
        l.gzip = Gzip{};
        l.gzip->enabled = b->get();
    } else if (const toml::table* t = n->as_table()) {
        l.gzip = read_gzip(*t, "servers.locations.gzip", diag);
    } else {
        r.type_error(r.label("gzip"), *n, "a table like the server's gzip, or false");
    }
}

// The server's settings a location may set for itself (absent: the server's).
void read_overrides(TableReader& r, Location& l, Diagnostics& diag) {
    if (uint64_t size = 0; r.read_size("client_max_body_size", size)) l.client_max_body_size = size;
    if (Duration d{0}; r.read_duration("client_body_timeout", d)) l.client_body_timeout = d;
    if (std::map<std::string, std::string> headers; r.read("headers", headers)) l.headers = std::move(headers);
    read_location_gzip(r, l, diag);
}

}  // namespace

Location read_location(const toml::table& t, Diagnostics& diag, const std::filesystem::path& base) {
    TableReader r(t, "[[servers.locations]]", keys::kLocation, diag);
    Location l;
    l.where = r.where();
    r.require("path");
    const CaptureNames captures = read_location_path(r, l);
    require_one_handler(r);
    r.read("app", l.app);
    r.read("upstream", l.upstream);
    r.read_choice("balance", l.balance, {"round_robin", "least_conn", "ip_hash"});
    r.read("keepalive", l.keepalive, 0, INT_MAX);
    r.read_duration("keepalive_timeout", l.keepalive_timeout);
    r.read_duration("connect_timeout", l.connect_timeout);
    r.read_duration("read_timeout", l.read_timeout);
    r.read_duration("send_timeout", l.send_timeout);
    r.read_duration("queue_timeout", l.queue_timeout);
    r.read("websocket", l.websocket);
    r.read("buffering", l.buffering);
    if (r.read("grpc", l.grpc) && l.grpc && !r.has("app") && !r.has("upstream"))
        r.fail(t.get("grpc")->source(), r.label("grpc") + ": only a location that proxies (app or upstream) speaks gRPC");
    if (const toml::table* rl = r.table("rate_limit")) l.rate_limit = read_rate_limit(*rl, diag);
    if (const toml::table* st = r.table("sticky")) {
        l.sticky = read_sticky(*st, diag);
        if (!r.has("app") && !r.has("upstream"))
            r.fail(st->source(), r.label("sticky") + ": only a location that proxies (app or upstream) has backends to stick to");
    }
    if (const toml::table* c = r.table("cache")) {
        l.cache = read_cache(*c, diag);
        if (!r.has("app") && !r.has("upstream"))
            r.fail(c->source(), r.label("cache") + ": only a location that proxies (app or upstream) has responses to cache");
    }
    read_path(r, "root", base, l.root);
    read_alias(r, l, base, captures);
    r.read("index", l.index);
    r.read_duration("expires", l.expires);
    r.read("cache_control", l.cache_control);
    r.read("access_log", l.access_log);
    read_return(r, l, captures);
    read_proxy_headers(r, l);
    read_try_files(r, l, captures);
    read_overrides(r, l, diag);
    return l;
}

void read_path(TableReader& r, std::string_view key, const std::filesystem::path& base, std::string& out) {
    if (r.read(key, out) && !out.empty()) out = resolve_path(base, out);
}

std::string resolve_path(const std::filesystem::path& base, const std::string& path) {
    std::filesystem::path resolved = (base / path).lexically_normal();
    if (!resolved.has_filename() && resolved.has_relative_path()) resolved = resolved.parent_path();
    return resolved.string();
}

Gzip read_gzip(const toml::table& t, std::string name, Diagnostics& diag) {
    TableReader r(t, std::move(name), keys::kGzip, diag);
    Gzip g;
    g.enabled = true;
    r.read("level", g.level, 1, 9);
    r.read_size("min_length", g.min_length);
    r.read("types", g.types);
    return g;
}


}  // namespace ne::config
