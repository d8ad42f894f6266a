// location {} -> [[servers.locations]]: the path with its modifier, then what answers
// (return, proxy_pass to an app or upstream, or files), then the per-location keys.
#include <algorithm>

#include "config/nginx/mapping.h"
#include "config/template.h"

namespace ne::config::nginx {
namespace {

// nginx's `sticky cookie NAME [expires=T] [domain=D] [path=P] [httponly] [secure] [samesite=S]`;
// `sticky route` and `sticky learn` have no counterpart.
void map_sticky(const Directive& d, tt::Table& t, Ledger& ledger) {
    if (d.args.size() < 2 || d.args[0] != "cookie") {
        t.trailing.push_back(ledger.left_out(d, "nodeedge has sticky cookie only: sticky = { cookie = \"NAME\" }"));
        return;
    }
    std::vector<std::pair<std::string, std::string>> fields{{"cookie", tt::quote(d.args[1])}};
    for (size_t i = 2; i < d.args.size(); ++i) {
        const std::string& a = d.args[i];
        const size_t eq = a.find('=');
        const std::string key = a.substr(0, eq), value = eq == std::string::npos ? "" : a.substr(eq + 1);
        if (a == "httponly" || a == "secure") fields.emplace_back(a, "true");
        else if (key == "expires" && value == "max") fields.emplace_back("expires", tt::quote("3650d"));
        else if (key == "expires" && nginx_time(value)) fields.emplace_back("expires", tt::duration(*nginx_time(value)));
        else if ((key == "domain" || key == "path") && !value.empty()) fields.emplace_back(key, tt::quote(value));
        else if (key == "samesite" && (value == "strict" || value == "lax" || value == "none")) fields.emplace_back(key, tt::quote(value));
        else {
            t.trailing.push_back(ledger.left_out(d, "sticky cookie: " + a + " has no counterpart (variables are not taken)"));
            return;
        }
    }
    t.set("sticky", tt::inline_table(fields), ledger.from(d));
}

namespace tt = toml_text;

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// location's arguments -> the agreed `path` spelling: "/p", "= /p", "^~ /p", "~ re", "~* re", "@name".
std::string location_path(const Directive& d) {
    if (d.args.size() >= 2) return d.args[0] + " " + d.args[1];
    if (d.args.empty()) return "/";
    const std::string& a = d.args[0];
    // nginx also reads the modifier glued on: `location =/x`, `location ~*\.png$`.
    for (const char* mod : {"^~", "~*", "=", "~"})
        if (a.starts_with(mod) && a.size() > std::string(mod).size()) return std::string(mod) + " " + a.substr(std::string(mod).size());
    return a;
}

std::string join(const std::vector<std::string>& args, size_t from = 0) {
    std::string out;
    for (size_t i = from; i < args.size(); ++i) out += (i > from ? " " : "") + args[i];
    return out;
}

void map_return(const Directive& d, const Scope& s, tt::Table& t, Ledger& ledger) {
    const std::string text = join(d.args);
    auto spec = parse_return(text);
    if (!spec) {
        t.trailing.push_back(ledger.left_out(d, "nodeedge cannot answer this return: " + spec.error().message));
        return;
    }
    t.set("return", tt::quote(text), ledger.from(d));
    // nginx sends a returned text as default_type (its own default: text/plain).
    const Directive* type = s.last("default_type");
    if (!spec->redirect() && d.args.size() > 1 && type && !type->args.empty()) {
        if (type->args[0] == "text/plain")
            t.trailing.push_back(ledger.built_in(*type, "a returned text is sent as text/plain"));
        else
            t.trailing.push_back(ledger.left_out(*type, "nodeedge sends a returned text as text/plain, not " + type->args[0] +
                                                            "; answer from the app when the type matters"));
    }
}

// Headers nginx users set by hand that nodeedge sends on its own.
std::optional<std::string> built_in_header(const std::string& name, const std::string& value,
                                           const std::set<std::string>& upgrade_maps) {
    const std::string n = lower(name);
    if (n == "host" && (value == "$host" || value == "$http_host")) return "Host is passed through as the client sent it";
    if (n == "x-real-ip" && value == "$remote_addr") return "X-Real-IP is always sent";
    if (n == "x-forwarded-for" && value == "$proxy_add_x_forwarded_for") return "X-Forwarded-For is always appended";
    if (n == "x-forwarded-proto" && value == "$scheme") return "X-Forwarded-Proto is always sent";
    if (n == "x-request-id" && value == "$request_id") return "X-Request-ID is generated when absent and echoed in the answer";
    if (n == "upgrade" && value == "$http_upgrade") return "WebSocket upgrades pass through (websocket = true)";
    if (n == "connection") {
        if (value.empty()) return "connections to apps are kept alive; the client's Connection is not passed on";
        if (lower(value) == "upgrade" || value == "$http_connection" ||
            (value.starts_with("$") && upgrade_maps.contains(value.substr(1))))
            return "WebSocket upgrades pass through (websocket = true)";
    }
    return std::nullopt;
}

void map_proxy_headers(const Scope& s, tt::Table& t, Http& http) {
    std::vector<std::pair<std::string, std::string>> set;
    std::vector<std::string> comments;
    static const std::set<std::string> kOwned = {"content-length", "transfer-encoding", "connection", "keep-alive",
                                                 "upgrade", "te", "trailer", "proxy-connection", "expect"};
    for (const Directive* d : s.all("proxy_set_header")) {
        if (d->args.size() != 2) continue;
        const std::string& name = d->args[0];
        const std::string& value = d->args[1];
        if (auto why = built_in_header(name, value, http.upgrade_maps)) {
            comments.push_back(http.ledger.built_in(*d, *why));
        } else if (kOwned.contains(lower(name))) {
            t.trailing.push_back(http.ledger.left_out(*d, name + " is managed by the proxy itself and cannot be set"));
        } else if (auto tpl = parse_template(value); !tpl) {
            t.trailing.push_back(http.ledger.left_out(*d, "nodeedge cannot send this value: " + tpl.error().message));
        } else {
            set.emplace_back(name, tt::quote(value));
            comments.push_back(http.ledger.from(*d));
        }
    }
    if (!set.empty()) t.set("proxy_headers", tt::inline_table(set)).comments = comments;
    else t.trailing.insert(t.trailing.end(), comments.begin(), comments.end());
}

// proxy_pass URL -> app, or [[upstreams]] NAME, and the balancing of its upstream {} block.
void map_proxy_pass(const Directive& d, const std::string& path, tt::Table& t, Http& http) {
    Ledger& ledger = http.ledger;
    const std::string url = d.args.empty() ? "" : d.args[0];
    if (url.find('$') != std::string::npos) {
        t.trailing.push_back(ledger.left_out(d, "nodeedge proxies to a fixed app or upstream; name it without variables"));
        return;
    }
    if (!url.starts_with("http://")) {
        t.trailing.push_back(ledger.left_out(d, "nodeedge proxies to apps over plain http:// only"));
        return;
    }
    const std::string rest = url.substr(7);
    const size_t slash = rest.find('/');
    const std::string host = rest.substr(0, slash);
    const std::string uri = slash == std::string::npos ? "" : rest.substr(slash);
    std::string comment = ledger.from(d);
    const bool prefix = !path.starts_with("~") && !path.starts_with("@");
    const std::string bare_path = path.starts_with("= ") ? path.substr(2) : path.starts_with("^~ ") ? path.substr(3) : path;
    if (!uri.empty() && !(prefix && uri == bare_path))
        t.trailing.push_back(ledger.left_out(d, "nginx replaces the matched " + bare_path + " with " + uri +
                                                " before proxying; nodeedge passes the URI unchanged, so serve the app's routes under " +
                                                bare_path + " (or proxy from a location whose path is " + uri + ")"));
    if (auto it = http.upstreams.find(host); it != http.upstreams.end()) {
        const UpstreamBlock& u = it->second;
        if (!u.app.empty()) {
            t.set("app", tt::quote(u.app), comment);
            t.set("app", tt::quote(u.app), ledger.from(*u.block) + " (its servers are the workers of app '" + u.app + "')");
            for (const Directive& c : u.block->children)
                if (c.name == "server")
                    t.set("app", tt::quote(u.app), ledger.built_in(c, "the app's workers; their health is the app's readiness and health_check"));
        } else {
            t.set("upstream", tt::quote(host), comment);
            http.used_upstreams.insert(host);
        }
        for (const Directive& c : u.block->children) {
            if (c.name == "least_conn" || c.name == "ip_hash") t.set("balance", tt::quote(c.name), ledger.from(c));
            else if (c.name == "keepalive" && c.args.size() == 1) t.set("keepalive", c.args[0], ledger.from(c));
            else if (c.name == "keepalive_timeout" && c.args.size() == 1 && nginx_time(c.args[0]))
                t.set("keepalive_timeout", tt::duration(*nginx_time(c.args[0])), ledger.from(c) +
                      " (above Node's 5 s keepAliveTimeout only if the app's is raised too)");
            else if (c.name == "sticky") map_sticky(c, t, ledger);
            else if (c.name == "hash" || c.name == "random")
                t.trailing.push_back(ledger.left_out(c, "nodeedge balances round_robin, least_conn or ip_hash; pick one"));
            else if (c.name == "zone") t.trailing.push_back(ledger.built_in(c, "upstream state is shared by every proxy worker"));
        }
        return;
    }
    const size_t colon = host.rfind(':');
    const std::string name = colon == std::string::npos ? host : host.substr(0, colon);
    const int port = colon == std::string::npos ? 80 : std::atoi(host.substr(colon + 1).c_str());
    if (std::string app = app_at({{name, port}}, http); !app.empty()) {
        t.set("app", tt::quote(app), comment + " (a port of app '" + app + "')");
        return;
    }
    const std::string address = colon == std::string::npos ? host + ":80" : host;
    t.set("upstream", tt::quote(address), comment);
    http.direct_upstreams.emplace(address, comment);
}

void map_timeouts(const Scope& s, tt::Table& t, Ledger& ledger) {
    for (const auto& [nginx, key] : {std::pair{"proxy_connect_timeout", "connect_timeout"},
                                     std::pair{"proxy_read_timeout", "read_timeout"},
                                     std::pair{"proxy_send_timeout", "send_timeout"}}) {
        if (const Directive* d = s.last(nginx); d && d->args.size() == 1)
            if (auto time = nginx_time(d->args[0])) t.set(key, tt::duration(*time), ledger.from(*d));
    }
    if (const Directive* d = s.last("proxy_buffering"); d && !d->args.empty()) {
        if (d->args[0] == "off") t.set("buffering", "false", ledger.from(*d));
        else ledger.from(*d);
    }
}

void map_rate_limit(const Scope& s, tt::Table& t, Http& http) {
    const auto& limits = s.all("limit_req");
    if (limits.empty()) return;
    const Directive& d = *limits.front();
    std::string zone, burst, delay;
    bool nodelay = false;
    for (const std::string& a : d.args) {
        if (a.starts_with("zone=")) zone = a.substr(5);
        else if (a.starts_with("burst=")) burst = a.substr(6);
        else if (a == "nodelay") nodelay = true;
        else if (a.starts_with("delay=")) delay = a.substr(6);
    }
    auto it = http.rate_zones.find(zone);
    if (it == http.rate_zones.end() || it->second.key.empty() || it->second.rate.empty()) {
        t.trailing.push_back(http.ledger.left_out(d, "nodeedge's rate_limit keys on the client address or one request header ($http_name); rewrite the zone's key"));
        return;
    }
    std::vector<std::pair<std::string, std::string>> fields{{"rate", tt::quote(it->second.rate)}};
    if (!burst.empty()) fields.emplace_back("burst", burst);
    if (nodelay) fields.emplace_back("nodelay", "true");
    if (it->second.key != "remote_addr") fields.emplace_back("key", tt::quote(it->second.key));
    std::vector<std::string> comments{http.ledger.from(d), http.ledger.from(*it->second.directive) +
                                                               " (nodeedge counts per location, not per zone shared by locations)"};
    if (const Directive* status = s.last("limit_req_status"); status && status->args.size() == 1) {
        fields.emplace_back("status", status->args[0]);
        comments.push_back(http.ledger.from(*status));
    }
    if (!delay.empty()) t.trailing.push_back(http.ledger.left_out(d, "nodeedge has burst and nodelay, no delay=; requests beyond the rate are either delayed (no nodelay) or all passed up to the burst (nodelay)"));
    t.set("rate_limit", tt::inline_table(fields)).comments = comments;
    for (size_t i = 1; i < limits.size(); ++i)
        t.trailing.push_back(http.ledger.left_out(*limits[i], "nodeedge applies one rate_limit per location; keep the strictest"));
    if (const Directive* level = s.last("limit_req_log_level")) t.trailing.push_back(http.ledger.built_in(*level, "rejections are counted in /metrics"));
}

void map_cache(const Scope& s, tt::Table& t, Http& http) {
    Ledger& ledger = http.ledger;
    for (const Directive* d : s.all("proxy_cache_bypass")) {
        bool all_known = true;
        std::vector<std::string> cookies;
        for (const std::string& a : d->args) {
            if (a.starts_with("$cookie_")) cookies.push_back(a.substr(8));
            else if (a != "$http_authorization" && a != "$http_upgrade") all_known = false;
        }
        if (!all_known) t.trailing.push_back(ledger.left_out(*d, "nodeedge bypasses the cache for Authorization, WebSocket upgrades and the cookies in bypass_cookie only"));
        else if (cookies.empty()) t.trailing.push_back(ledger.built_in(*d, "requests with Authorization or an Upgrade are never answered from the cache"));
    }
    const Directive* cache = s.last("proxy_cache");
    if (!cache || cache->args.empty() || cache->args[0] == "off") {
        if (cache) ledger.from(*cache);
        return;
    }
    std::vector<std::pair<std::string, std::string>> fields;
    std::vector<std::string> comments{ledger.from(*cache)};
    std::vector<std::pair<std::string, std::string>> valid;
    for (const Directive* d : s.all("proxy_cache_valid")) {
        if (d->args.empty()) continue;
        auto time = nginx_time(d->args.back());
        std::vector<std::string> codes(d->args.begin(), d->args.end() - 1);
        if (codes.empty()) codes = {"200", "301", "302"};  // nginx's meaning of a bare time
        if (!time || std::find(codes.begin(), codes.end(), "any") != codes.end()) {
            t.trailing.push_back(ledger.left_out(*d, "list the status codes to cache one by one"));
            continue;
        }
        for (const std::string& c : codes) valid.emplace_back(c, tt::duration(*time));
        comments.push_back(ledger.from(*d));
    }
    if (!valid.empty()) fields.emplace_back("valid", tt::inline_table(valid));
    if (const Directive* d = s.last("proxy_cache_use_stale")) {
        static const std::set<std::string> kKnown = {"error", "timeout", "updating", "http_500", "http_502", "http_503", "http_504"};
        std::vector<std::string> kept;
        for (const std::string& a : d->args)
            if (kKnown.contains(a)) kept.push_back(a);
        if (!kept.empty()) fields.emplace_back("use_stale", tt::array(kept));
        if (kept.size() == d->args.size() || (d->args.size() == 1 && d->args[0] == "off")) comments.push_back(ledger.from(*d));
        else t.trailing.push_back(ledger.left_out(*d, "nodeedge serves stale copies on error, timeout, updating and http_500/502/503/504 only"));
    }
    if (const Directive* d = s.last("proxy_cache_lock"); d && !d->args.empty()) {
        if (d->args[0] == "on") fields.emplace_back("lock", "true");
        comments.push_back(ledger.from(*d));
    }
    if (const Directive* d = s.last("proxy_cache_lock_timeout"); d && d->args.size() == 1 && nginx_time(d->args[0])) {
        fields.emplace_back("lock_timeout", tt::duration(*nginx_time(d->args[0])));
        comments.push_back(ledger.from(*d));
    }
    std::vector<std::string> cookies;
    for (const Directive* d : s.all("proxy_cache_bypass"))
        for (const std::string& a : d->args)
            if (a.starts_with("$cookie_")) {
                cookies.push_back(a.substr(8));
                comments.push_back(ledger.from(*d));
            }
    if (!cookies.empty()) fields.emplace_back("bypass_cookie", tt::array(cookies));
    if (auto zone = http.cache_zones.find(cache->args[0]); zone != http.cache_zones.end()) {
        if (zone->second.max_size) fields.emplace_back("max_size", tt::size(*zone->second.max_size));
        comments.push_back(ledger.from(*zone->second.directive) +
                           " (files live in $NODEEDGE_HOME/cache; max_size is this location's budget; no inactive= expiry)");
    }
    t.set("cache", tt::inline_table(fields)).comments = comments;
}

// Files: root or alias, index, try_files, expires, Cache-Control.
void map_files(const Scope& s, tt::Table& t, Http& http) {
    Ledger& ledger = http.ledger;
    if (const Directive* alias = s.own("alias") ? s.last("alias") : nullptr; alias && !alias->args.empty()) {
        std::string path = absolute_path(*alias, alias->args[0]);
        while (path.size() > 1 && path.ends_with("/")) path.pop_back();
        t.set("alias", tt::quote(path), ledger.from(*alias));
    } else if (const Directive* root = s.last("root"); root && !root->args.empty()) {
        t.set("root", tt::quote(absolute_path(*root, root->args[0])), ledger.from(*root));
    } else {
        t.set("root", tt::quote("/usr/share/nginx/html"), "nginx: no root; Debian's nginx serves /usr/share/nginx/html");
    }
    if (const Directive* index = s.last("index"); index && !index->args.empty()) {
        if (index->args[0] != "index.html") t.set("index", tt::quote(index->args[0]), ledger.from(*index));
        else ledger.from(*index);
        if (index->args.size() > 1)
            t.trailing.push_back(ledger.left_out(*index, "nodeedge tries one index file; " + index->args[0] + " is kept"));
    }
    if (const Directive* tf = s.own("try_files") ? s.last("try_files") : nullptr) {
        if (tf->args == std::vector<std::string>{"$uri", "=404"})
            t.trailing.push_back(ledger.built_in(*tf, "a missing file is answered 404"));
        else
            t.set("try_files", tt::array(tf->args), ledger.from(*tf));
    }
    if (const Directive* d = s.last("expires"); d && !d->args.empty()) {
        const std::string& e = d->args.back();
        if (e == "off") {
            ledger.from(*d);
        } else if (e == "max") {
            t.set("expires", tt::quote("3650d"), ledger.from(*d) + " (nginx's max: ten years)");
        } else if (auto time = nginx_time(e); time && d->args.size() == 1) {
            t.set("expires", tt::duration(*time), ledger.from(*d));
        } else {
            t.trailing.push_back(ledger.left_out(*d, "nodeedge's expires is a time from now; epoch, modified, @time and negative times have no equivalent"));
        }
    }
}

bool static_only(const Scope& s) { return !s.own("proxy_pass") && !s.own("return"); }

}  // namespace

tt::Table map_location(const Directive& loc, const Scope& server_scope, Http& http) {
    Ledger& ledger = http.ledger;
    const Scope s = server_scope.child(loc.children);
    tt::Table t;
    t.header = "[[servers.locations]]";
    const std::string path = location_path(loc);
    t.set("path", tt::quote(path), ledger.from(loc));

    if (const Directive* ret = s.own("return") ? s.last("return") : nullptr) {
        map_return(*ret, s, t, ledger);
    } else if (const Directive* pass = s.own("proxy_pass") ? s.last("proxy_pass") : nullptr) {
        map_proxy_pass(*pass, path, t, http);
        map_timeouts(s, t, ledger);
        map_proxy_headers(s, t, http);
        map_cache(s, t, http);
        if (const Directive* tf = s.own("try_files") ? s.last("try_files") : nullptr)
            t.trailing.push_back(ledger.left_out(*tf, "nginx ignores try_files beside proxy_pass' own handler only in part; move the files to their own location"));
    } else {
        map_files(s, t, http);
    }
    map_rate_limit(s, t, http);

    // add_header: a location with its own replaces the server's, in nginx and in nodeedge.
    if (s.own("add_header")) {
        std::set<std::string> skip;
        std::vector<std::string> comments;
        if (static_only(s)) {
            for (const Directive* d : s.all("add_header"))
                if (d->args.size() >= 2 && lower(d->args[0]) == "cache-control" && d->args[1].find('$') == std::string::npos) {
                    t.set("cache_control", tt::quote(d->args[1]), ledger.from(*d));
                    skip.insert("cache-control");
                }
        }
        if (t.find("cache")) {
            for (const Directive* d : s.all("add_header"))
                if (d->args.size() >= 2 && lower(d->args[0]) == "x-cache-status" && d->args[1] == "$upstream_cache_status") {
                    t.trailing.push_back(ledger.built_in(*d, "every cached location's answer says X-Cache-Status"));
                    skip.insert("x-cache-status");
                }
        }
        auto headers = header_entries(s.all("add_header"), ledger, comments, skip);
        // An empty table still matters when the server has headers: nginx drops them here.
        if (!headers.empty() || !server_scope.all("add_header").empty())
            t.set("headers", tt::inline_table(headers)).comments = comments;
        else
            t.trailing.insert(t.trailing.end(), comments.begin(), comments.end());
    }
    if (const Directive* d = s.last("access_log"); d && !d->args.empty() && d->args[0] == "off")
        t.set("access_log", "false", ledger.from(*d));
    if (const Directive* d = s.own("client_max_body_size") ? s.last("client_max_body_size") : nullptr)
        if (d->args.size() == 1 && nginx_size(d->args[0])) t.set("client_max_body_size", tt::size(*nginx_size(d->args[0])), ledger.from(*d));
    if (const Directive* d = s.own("client_body_timeout") ? s.last("client_body_timeout") : nullptr)
        if (d->args.size() == 1 && nginx_time(d->args[0])) t.set("client_body_timeout", tt::duration(*nginx_time(d->args[0])), ledger.from(*d));
    if (s.own("gzip")) {
        const Directive* g = s.last("gzip");
        if (!g->args.empty() && g->args[0] == "off") t.set("gzip", "false", ledger.from(*g));
        else t.trailing.push_back(ledger.left_out(*g, "turn gzip on for the server and off (gzip = false) in the locations that should not compress"));
    }
    for (const Directive* d : s.all("error_page"))
        if (!ledger.seen(*d)) map_error_page(*d, s, http);
    for (const Directive& c : loc.children) {
        if (c.name == "location") {
            t.trailing.push_back(ledger.left_out(c, "nodeedge has no nested locations; write it as a location of its own in the server"));
            for (const Directive& inner : c.children) ledger.built_in(inner, "inside a nested location");
        } else if (!ledger.seen(c)) {
            t.trailing.push_back(account(c, ledger));
        }
    }
    return t;
}

}  // namespace ne::config::nginx
