#include "config/nginx/mapper.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>

#include "config/nginx/mapping.h"
#include "config/units.h"

namespace ne::config::nginx {
namespace {

namespace fs = std::filesystem;
namespace tt = toml_text;

// Directives whose job nodeedge does with no key, and why the user need not do anything.
const std::map<std::string, std::string>& built_in_directives() {
    static const std::map<std::string, std::string> kBuiltIn = {
        {"events", "nodeedge's proxy workers accept connections with no tuning block"},
        {"worker_connections", "no per-worker connection cap to set"},
        {"multi_accept", "connections are accepted as they come"},
        {"use", "nodeedge picks the event method (epoll) itself"},
        {"pid", "the daemon keeps its pid in $NODEEDGE_HOME/daemon.pid"},
        {"sendfile", "static files are sent with sendfile"},
        {"tcp_nopush", "responses are written in as few packets as nodeedge can"},
        {"tcp_nodelay", "nodeedge sets TCP_NODELAY"},
        {"types", "nodeedge has its own MIME table for static files"},
        {"default_type", "files of unknown type are sent as application/octet-stream"},
        {"log_not_found", "missing files are not logged as errors"},
        {"server_tokens", "nodeedge does not announce a version"},
        {"proxy_http_version", "connections to apps are HTTP/1.1 with keep-alive"},
        {"proxy_buffer_size", "bodies stream with flow control; no buffer sizes to set"},
        {"proxy_buffers", "bodies stream with flow control; no buffer sizes to set"},
        {"proxy_busy_buffers_size", "bodies stream with flow control; no buffer sizes to set"},
        {"proxy_request_buffering", "request bodies stream to the app"},
        {"client_body_buffer_size", "request bodies stream; no buffer size to set"},
        {"client_header_buffer_size", "request heads are read into buffers nodeedge sizes itself"},
        {"gzip_vary", "compressed answers always carry Vary: Accept-Encoding"},
        {"gzip_proxied", "answers from apps are compressed like static files"},
        {"gzip_http_version", "HTTP/1.0 clients get compressed answers too"},
        {"gzip_buffers", "the encoder streams; no buffers to set"},
        {"gzip_disable", "no client is refused compression by User-Agent"},
        {"ssl_session_cache", "sessions are cached in memory shared by every proxy worker"},
        {"ssl_stapling_verify", "the stapled response is the file nodeedge is given"},
        {"ssl_trusted_certificate", "the stapled response is the file nodeedge is given"},
        {"proxy_cache_methods", "only GET and HEAD are cached"},
        {"proxy_ignore_client_abort", "an abandoned request is closed upstream too"},
        {"keepalive_disable", "keep-alive is offered to every client"},
        {"charset_types", "Content-Type is sent as the file's type"},
        {"reset_timedout_connection", "timed-out connections are closed at once"},
        {"server_names_hash_bucket_size", "no hash tables to size"},
        {"server_names_hash_max_size", "no hash tables to size"},
        {"types_hash_max_size", "no hash tables to size"},
        {"variables_hash_max_size", "no hash tables to size"},
        {"open_file_cache", "files are opened per request"},
        {"open_file_cache_valid", "files are opened per request"},
        {"open_file_cache_min_uses", "files are opened per request"},
        {"open_file_cache_errors", "files are opened per request"},
        {"absolute_redirect", "redirects carry the URL written in return"},
        {"port_in_redirect", "redirects carry the URL written in return"},
        {"worker_rlimit_nofile", "the daemon raises its file limit to the hard limit"},
        {"client_body_temp_path", "request bodies stream to the app; no temporary files"},
        {"proxy_temp_path", "answers stream to the client; no temporary files"},
        {"fastcgi_temp_path", "nodeedge speaks HTTP to apps; no temporary files"},
        {"uwsgi_temp_path", "nodeedge speaks HTTP to apps; no temporary files"},
        {"scgi_temp_path", "nodeedge speaks HTTP to apps; no temporary files"},
    };
    return kBuiltIn;
}

// Directives nodeedge cannot do, and what to do instead.
const std::map<std::string, std::string>& unsupported_directives() {
    static const std::map<std::string, std::string> kAdvice = {
        {"rewrite", "nodeedge does not rewrite URIs; use return for redirects, or route in the app"},
        {"if", "nodeedge has no conditions in its configuration; move the test into the app"},
        {"set", "nodeedge has no variables of its own; compute the value in the app"},
        {"auth_basic", "nodeedge checks no passwords; authenticate in the app (e.g. express-basic-auth)"},
        {"auth_basic_user_file", "nodeedge checks no passwords; authenticate in the app"},
        {"auth_request", "nodeedge makes no subrequests; authenticate in the app"},
        {"allow", "nodeedge has no address lists; filter in the app or with the firewall"},
        {"deny", "nodeedge has no address lists; filter in the app or with the firewall"},
        {"error_log", "nodeedge writes its own errors to $NODEEDGE_HOME/daemon.log"},
        {"ssl_session_ticket_key", "nodeedge makes ticket keys in memory and rotates them itself: tls.session_ticket_rotation"},
        {"ssl_dhparam", "nodeedge negotiates ECDHE only; no key takes a DH parameter file"},
        {"ssl_ecdh_curve", "nodeedge uses OpenSSL's default groups; no key changes them"},
        {"ssl_client_certificate", "nodeedge does not ask clients for certificates; check them in front of nodeedge"},
        {"ssl_verify_client", "nodeedge does not ask clients for certificates; check them in front of nodeedge"},
        {"large_client_header_buffers", "request heads have fixed limits (414 for the URI, 431 for headers); no key changes them"},
        {"keepalive_time", "connections are kept while they are used; only keepalive_timeout applies"},
        {"proxy_redirect", "nodeedge passes the app's Location headers unchanged; have the app send the public URL"},
        {"proxy_hide_header", "nodeedge passes the app's response headers unchanged; drop the header in the app"},
        {"proxy_pass_header", "nodeedge passes the app's response headers unchanged"},
        {"proxy_ignore_headers", "the cache always obeys the app's Cache-Control and Expires"},
        {"proxy_intercept_errors", "the app's error answers pass through; [proxy] error_page covers the proxy's own 502/503/504"},
        {"proxy_next_upstream", "an idempotent request that failed before any byte reached the client is retried on another worker (nginx's `error timeout`); no key changes that"},
        {"proxy_next_upstream_tries", "retries follow nodeedge's rule for idempotent requests; no key changes it"},
        {"proxy_next_upstream_timeout", "retries follow nodeedge's rule for idempotent requests; no key changes it"},
        {"proxy_no_cache", "nodeedge stores what the app's headers allow; mark the answer Cache-Control: no-store in the app"},
        {"proxy_cache_key", "nodeedge keys the cache by scheme, Host and URI; no key changes that"},
        {"proxy_ssl_verify", "nodeedge proxies to apps over plain HTTP"},
        {"proxy_ssl_server_name", "nodeedge proxies to apps over plain HTTP"},
        {"limit_conn", "nodeedge has no per-client connection limit; use rate_limit on the location"},
        {"limit_conn_zone", "nodeedge has no per-client connection limit; use rate_limit on the location"},
        {"limit_rate", "nodeedge does not throttle answers; throttle in the app if needed"},
        {"sub_filter", "nodeedge does not edit bodies; change the app's output"},
        {"autoindex", "nodeedge lists no directories; a directory without its index file is 403/404"},
        {"internal", "nodeedge serves this location to clients too; remove it or answer 404 from the app"},
        {"satisfy", "nodeedge checks no access rules"},
        {"stub_status", "use the [metrics] endpoint (/metrics, Prometheus format)"},
        {"resolver", "upstream names are resolved with /etc/resolv.conf, or set resolver = \"host:53\" on [[upstreams]]"},
        {"load_module", "nodeedge loads no modules"},
        {"stream", "nodeedge proxies HTTP only; keep a TCP proxy in front for other protocols"},
        {"mail", "nodeedge proxies HTTP only"},
        {"charset", "Content-Type is sent as the file's or the app's; set charset in the app"},
        {"gzip_static", "nodeedge compresses on the fly and does not look for .gz files"},
        {"expires_by_type", "set expires per location"},
    };
    return kAdvice;
}

struct Collected {
    std::vector<std::pair<const Directive*, Scope>> servers;
    std::vector<const Directive*> log_formats;
};

void gather_rate_zone(const Directive& d, Http& http) {
    RateZone z;
    z.directive = &d;
    std::string name;
    for (size_t i = 0; i < d.args.size(); ++i) {
        const std::string& a = d.args[i];
        if (a.starts_with("zone=")) name = a.substr(5, a.find(':') == std::string::npos ? std::string::npos : a.find(':') - 5);
        else if (a.starts_with("rate=")) z.rate = a.substr(5);
        else if (i == 0 && (a == "$binary_remote_addr" || a == "$remote_addr")) z.key = "remote_addr";
        else if (i == 0 && a.starts_with("$http_")) z.key = a.substr(1);
    }
    if (!name.empty()) http.rate_zones[name] = z;
}

void gather_cache_zone(const Directive& d, Http& http) {
    CacheZone z;
    z.directive = &d;
    std::string name;
    for (const std::string& a : d.args) {
        if (a.starts_with("keys_zone=")) name = a.substr(10, a.find(':') == std::string::npos ? std::string::npos : a.find(':') - 10);
        else if (a.starts_with("max_size=")) z.max_size = nginx_size(a.substr(9));
    }
    if (!name.empty()) http.cache_zones[name] = z;
}

void gather(const std::vector<Directive>& block, const Scope& scope, Http& http, Collected& out,
            tt::Table& proxy) {
    for (const Directive& d : block) {
        if (d.name == "http" && d.block) {
            http.ledger.from(d);
            gather(d.children, scope.child(d.children), http, out, proxy);
        } else if (d.name == "upstream" && d.block && !d.args.empty()) {
            http.upstreams[d.args[0]] = UpstreamBlock{&d, {}};
        } else if (d.name == "server" && d.block) {
            out.servers.emplace_back(&d, scope);
        } else if (d.name == "limit_req_zone") {
            gather_rate_zone(d, http);
        } else if (d.name == "proxy_cache_path") {
            gather_cache_zone(d, http);
        } else if (d.name == "map" && d.block && d.args.size() == 2 && d.args[0] == "$http_upgrade") {
            http.upgrade_maps.insert(d.args[1].substr(d.args[1].starts_with("$") ? 1 : 0));
            http.general.push_back(http.ledger.built_in(d, "WebSocket upgrades pass through (websocket = true, the default)"));
            http.ledger.cover(d);
        } else if (d.name == "log_format") {
            out.log_formats.push_back(&d);
        } else if (d.name == "user" && !d.args.empty()) {
            proxy.set("user", tt::quote(d.args[0]), http.ledger.from(d));
        } else if (d.name == "worker_processes" && !d.args.empty()) {
            int n = 0;
            const std::string& a = d.args[0];
            auto [end, ec] = std::from_chars(a.data(), a.data() + a.size(), n);
            if (a == "auto") proxy.set("workers", tt::quote("auto"), http.ledger.from(d));
            else if (ec == std::errc() && end == a.data() + a.size() && n > 0) proxy.set("workers", tt::quote(a), http.ledger.from(d));
        }
    }
}

// nginx's access_log anywhere except `off` -> the one [proxy] access log.
void map_access_logs(const std::vector<Directive>& block, const Collected& c, Http& http, tt::Table& proxy) {
    for (const Directive& d : block) {
        if (d.block) map_access_logs(d.children, c, http, proxy);
        if (d.name != "access_log" || d.args.empty() || d.args[0] == "off") continue;
        if (proxy.find("access_log")) {
            if (proxy.find("access_log")->value != tt::quote(d.args[0]))
                http.ledger.left_out(d, "nodeedge writes one access log for every server, " +
                                            proxy.find("access_log")->value + " here; split it by the host field");
            else
                http.ledger.from(d);
            continue;
        }
        std::string comment = http.ledger.from(d);
        proxy.set("access_log", tt::quote(d.args[0]), comment + " (one access log, for every server)");
        const std::string format = d.args.size() > 1 ? d.args[1] : "combined";
        if (format == "combined") {
            proxy.set("access_log_format", tt::quote("combined"), comment);
            continue;
        }
        const Directive* def = nullptr;
        for (const Directive* f : c.log_formats)
            if (!f->args.empty() && f->args[0] == format) def = f;
        std::string text;
        if (def)
            for (size_t i = 1; i < def->args.size(); ++i) text += def->args[i];
        const bool json = text.find("escape=json") != std::string::npos || text.starts_with("{") ||
                          (def && def->args.size() > 1 && def->args[1] == "escape=json");
        proxy.set("access_log_format", tt::quote(json ? "json" : "combined"), comment);
        if (!def) continue;
        if (json)
            proxy.set("access_log_format", tt::quote("json"), http.ledger.from(*def) +
                      " (nodeedge's json line has its own fixed fields: time, remote_addr, method, uri, status, request_time, upstream_response_time, ...)");
        else
            http.ledger.left_out(*def, "nodeedge writes the combined line plus rt=, uaddr=, urt= and rid= (request and upstream times); "
                                       "access_log_format = \"json\" gives every field by name instead of this format");
    }
}

// host:port of an upstream `server` line; port 80 when none is written.
std::optional<std::pair<std::string, int>> host_port(const std::string& address) {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos || address.ends_with("]")) return std::make_pair(address, 80);
    int port = 0;
    auto [end, ec] = std::from_chars(address.data() + colon + 1, address.data() + address.size(), port);
    if (ec != std::errc() || end != address.data() + address.size()) return std::nullopt;
    return std::make_pair(address.substr(0, colon), port);
}

std::string app_of(const Directive& upstream, const Http& http) {
    std::vector<std::pair<std::string, int>> addresses;
    for (const Directive& d : upstream.children) {
        if (d.name != "server" || d.args.empty()) continue;
        auto hp = host_port(d.args[0]);
        if (!hp) return "";
        addresses.push_back(*hp);
    }
    return app_at(addresses, http);
}

// Port -> app for the servers of the apps' file that do nothing but proxy to one app.
std::map<int, std::string> app_fronts(const Config& c) {
    std::map<int, std::string> out;
    for (const Server& s : c.servers) {
        std::set<std::string> apps;
        for (const Location& l : s.locations) apps.insert(l.app);
        if (apps.size() != 1 || apps.begin()->empty()) continue;
        for (const ListenAddr& l : s.listen) out.emplace(l.port, *apps.begin());
    }
    return out;
}

tt::Table upstream_table(const Directive& u, Ledger& ledger) {
    tt::Table t;
    t.header = "[[upstreams]]";
    t.set("name", tt::quote(u.args[0]), ledger.from(u));
    std::vector<std::string> servers;
    std::vector<std::string> comments;
    for (const Directive& d : u.children) {
        if (d.name != "server" || d.args.empty()) continue;
        std::vector<std::pair<std::string, std::string>> fields{{"address", tt::quote(d.args[0])}};
        bool complete = true;
        for (size_t i = 1; i < d.args.size(); ++i) {
            const std::string& a = d.args[i];
            if (a.starts_with("weight=")) fields.emplace_back("weight", a.substr(7));
            else if (a.starts_with("max_fails=")) fields.emplace_back("max_fails", a.substr(10));
            else if (a.starts_with("fail_timeout=") && nginx_time(a.substr(13)))
                fields.emplace_back("fail_timeout", tt::duration(*nginx_time(a.substr(13))));
            else complete = false;
        }
        servers.push_back(tt::inline_table(fields));
        if (complete)
            comments.push_back(ledger.from(d));
        else
            t.trailing.push_back(ledger.left_out(d, "nodeedge's upstream servers take weight, max_fails and fail_timeout only "
                                                    "(no backup, down, max_conns); list the backup as a normal server or leave it out"));
    }
    std::string array = "[\n";
    for (const std::string& s : servers) array += "    " + s + ",\n";
    array += "]";
    tt::Entry& e = t.set("servers", array);
    e.comments = comments;
    return t;
}

tt::Table direct_upstream_table(const std::string& address, const std::string& comment) {
    tt::Table t;
    t.header = "[[upstreams]]";
    t.set("name", tt::quote(address), comment);
    t.set("servers", "[{ address = " + tt::quote(address) + " }]");
    return t;
}

void sweep(const std::vector<Directive>& block, Ledger& ledger, std::vector<std::string>& comments) {
    for (const Directive& d : block) {
        if (!ledger.seen(d)) comments.push_back(account(d, ledger));
        if (d.block) sweep(d.children, ledger, comments);
    }
}

}  // namespace

std::string Ledger::from(const Directive& d) {
    seen_.insert(&d);
    return "nginx: " + d.where() + " " + d.text();
}

std::string Ledger::built_in(const Directive& d, const std::string& why) {
    seen_.insert(&d);
    return "nginx: " + d.where() + " " + d.text() + " -- built in: " + why;
}

std::string Ledger::left_out(const Directive& d, const std::string& advice) {
    seen_.insert(&d);
    if (reported_.insert(&d).second)
        findings_.push_back({{d.file, d.line}, Finding{d.where(), d.name, advice}});
    return "not imported: " + d.where() + " " + d.text() + " -- " + advice;
}

std::vector<Finding> Ledger::findings() const {
    auto sorted = findings_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Finding> out;
    for (auto& [at, f] : sorted) out.push_back(f);
    return out;
}

Scope Scope::child(const std::vector<Directive>& directives) const {
    Scope s;
    s.by_name_ = by_name_;
    std::map<std::string, std::vector<const Directive*>> own;
    for (const Directive& d : directives) own[d.name].push_back(&d);
    for (auto& [name, list] : own) {
        s.by_name_[name] = list;
        s.own_.insert(name);
    }
    return s;
}

const Directive* Scope::last(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() || it->second.empty() ? nullptr : it->second.back();
}

const std::vector<const Directive*>& Scope::all(const std::string& name) const {
    static const std::vector<const Directive*> kNone;
    auto it = by_name_.find(name);
    return it == by_name_.end() ? kNone : it->second;
}

std::optional<Duration> nginx_time(const std::string& text) {
    if (text.empty()) return std::nullopt;
    // nginx: a bare number is seconds; units ms s m h d w M y, several may follow each other.
    static const std::map<std::string, long long> kUnits = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
        {"w", 7 * 86400000LL}, {"M", 30 * 86400000LL}, {"y", 365 * 86400000LL}};
    long long total = 0;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && text[i] == ' ') ++i;
        if (i == text.size()) break;
        size_t digits = i;
        while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
        if (digits == i) return std::nullopt;
        const long long n = std::stoll(text.substr(i, digits - i));
        size_t unit_end = digits;
        while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) ++unit_end;
        const std::string unit = text.substr(digits, unit_end - digits);
        auto it = kUnits.find(unit.empty() ? "s" : unit);
        if (it == kUnits.end()) return std::nullopt;
        total += n * it->second;
        i = unit_end;
    }
    return Duration{total};
}

std::optional<uint64_t> nginx_size(const std::string& text) {
    auto bytes = parse_size(text);
    if (!bytes) return std::nullopt;
    return *bytes;
}

std::optional<bool> nginx_flag(const std::string& text) {
    if (text == "on") return true;
    if (text == "off") return false;
    return std::nullopt;
}

std::string absolute_path(const Directive& d, const std::string& path) {
    if (path.empty() || fs::path(path).is_absolute()) return path;
    std::error_code ec;
    return fs::absolute(fs::path(d.file).parent_path() / path, ec).lexically_normal().string();
}

void Ledger::cover(const Directive& block) {
    for (const Directive& c : block.children) {
        seen_.insert(&c);
        cover(c);
    }
}

std::string app_at(const std::vector<std::pair<std::string, int>>& addresses, const Http& http) {
    auto loopback = [](const std::string& host) {
        return host == "127.0.0.1" || host == "localhost" || host == "[::1]" || host == "::1";
    };
    if (addresses.empty()) return "";
    std::set<std::string> found;
    for (const auto& [host, port] : addresses) {
        if (!loopback(host)) return "";
        std::string app;
        if (auto front = http.fronts.find(port); front != http.fronts.end()) app = front->second;
        for (const App& a : http.apps)
            if (port >= a.port && port < a.port + resolve_instances(a.instances, usable_cpus()).value_or(1)) app = a.name;
        if (app.empty()) return "";
        found.insert(app);
    }
    return found.size() == 1 ? *found.begin() : "";
}

std::string account(const Directive& d, Ledger& ledger) {
    const auto& built_in = built_in_directives();
    const auto& unsupported = unsupported_directives();
    std::string comment;
    if (auto it = built_in.find(d.name); it != built_in.end()) comment = ledger.built_in(d, it->second);
    else if (auto it = unsupported.find(d.name); it != unsupported.end()) comment = ledger.left_out(d, it->second);
    else comment = ledger.left_out(d, "nodeedge has no equivalent of this directive; do its job in the app, or leave it out");
    ledger.cover(d);
    return comment;
}

Mapped map_nginx(const std::vector<std::vector<Directive>>& files, const Config& apps) {
    Ledger ledger;
    Http http(ledger, apps.apps);
    http.fronts = app_fronts(apps);
    tt::Table proxy;
    proxy.header = "[proxy]";
    Collected collected;
    for (const auto& tree : files) gather(tree, Scope().child(tree), http, collected, proxy);
    for (auto& [name, u] : http.upstreams) u.app = app_of(*u.block, http);

    // Before the servers, whose own directives are otherwise accounted as they are met.
    for (const auto& tree : files) map_access_logs(tree, collected, http, proxy);

    Mapped out;
    std::vector<ServerTables> servers;
    for (const auto& [server, scope] : collected.servers) servers.push_back(map_server(*server, scope, http));
    // nodeedge's default server of an address is its first; nginx's is the one marked so.
    std::stable_partition(servers.begin(), servers.end(), [](const ServerTables& s) { return s.default_server; });
    for (ServerTables& s : servers)
        for (tt::Table& t : s.tables) out.servers.push_back(std::move(t));

    if (!http.error_page.empty()) {
        tt::Entry& e = proxy.set("error_page", tt::quote(http.error_page));
        e.comments = http.error_page_comments;
    }

    for (auto& [name, u] : http.upstreams) {
        if (!u.app.empty()) continue;
        tt::Table t = upstream_table(*u.block, ledger);
        if (!http.used_upstreams.contains(name)) t.comments.push_back("no location proxies to this upstream");
        out.upstreams.push_back(std::move(t));
    }
    for (const auto& [address, comment] : http.direct_upstreams)
        out.upstreams.push_back(direct_upstream_table(address, comment));

    std::vector<std::string>& general = http.general;
    for (const auto& tree : files) sweep(tree, ledger, general);
    if (!proxy.entries.empty() || !general.empty()) {
        proxy.trailing = general;
        if (proxy.entries.empty()) proxy.header.clear();
        out.proxy.push_back(std::move(proxy));
    }
    out.left_out = ledger.findings();
    return out;
}

}  // namespace ne::config::nginx
