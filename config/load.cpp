#include "config/load.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <climits>
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "config/keys.h"
#include "config/template.h"
#include "config/toml_reader.h"
#include "config/validate.h"
#include "ipc/net.h"
#include "ipc/unique_fd.h"

namespace ne::config {
namespace {

namespace fs = std::filesystem;

// What every table reader shares: where errors go and the folder relative paths hang from.
struct Context {
    Diagnostics diag;
    fs::path base;
};

// SPEC: relative paths resolve against the folder holding ecosystem.toml (script included,
// even when cwd is set), so a file means the same thing whoever runs `nodeedge`.
// Trailing separators are dropped ("." -> the folder itself) so equal folders compare equal.
std::string resolve(const fs::path& base, const std::string& path) {
    if (path.empty()) return path;
    fs::path resolved = (base / path).lexically_normal();
    if (!resolved.has_filename() && resolved.has_relative_path()) resolved = resolved.parent_path();
    return resolved.string();
}

void read_path(TableReader& r, std::string_view key, const Context& cx, std::string& out) {
    if (r.read(key, out)) out = resolve(cx.base, out);
}

std::optional<int> positive_int(const std::string& text) {
    int n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n <= 0) return std::nullopt;
    return n;
}

// Counts that are a TOML integer or a word ("auto", "max", "-1"); kept as written, so `save`
// stores "max" rather than this machine's CPU count.
void read_count(TableReader& r, std::string_view key, std::string& out,
                bool (*valid)(const std::string&), std::string_view expected) {
    std::string text;
    if (!r.read_text(key, text, expected)) return;
    if (valid(text))
        out = text;
    else
        r.fail(r.get(key)->source(),
               r.label(key) + ": expected " + std::string(expected) + ", got " + text);
}

// Names end up in log file names and on the command line, where "all" already means every app.
std::optional<std::string> app_name_problem(const std::string& name) {
    if (name.empty()) return "an app name cannot be empty";
    if (name == "all") return "'all' is reserved: on the command line it means every app";
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        if (!ok) return "'" + name + "' may only contain letters, digits, '-', '_' and '.'";
    }
    if (name.front() == '.' || name.front() == '-')
        return "'" + name + "' must not start with '.' or '-'";
    return std::nullopt;
}

void read_http_path(TableReader& r, std::string_view key, std::string& out) {
    if (r.read(key, out) && !out.starts_with('/'))
        r.fail(r.get(key)->source(), r.label(key) + ": '" + out + "' must start with '/'");
}

void read_host_port(TableReader& r, std::string_view key, std::string& out) {
    if (!r.read(key, out)) return;
    if (auto hp = net::split_host_port(out); !hp)
        r.fail(r.get(key)->source(), r.label(key) + ": " + hp.error().message);
}

constexpr int kMaxInt = INT_MAX;

Proxy read_proxy(const toml::table& t, Context& cx) {
    TableReader r(t, "[proxy]", keys::kProxy, cx.diag);
    Proxy p;
    read_count(r, "workers", p.workers,
               [](const std::string& s) { return s == "auto" || positive_int(s).has_value(); },
               "\"auto\" or an integer > 0");
    r.read("user", p.user);
    r.read("access_log", p.access_log);  // relative to $NODEEDGE_HOME: the supervisor resolves it
    r.read_choice("access_log_format", p.access_log_format, {"combined", "json"});
    read_path(r, "error_page", cx, p.error_page);
    return p;
}

Metrics read_metrics(const toml::table& t, Context& cx) {
    TableReader r(t, "[metrics]", keys::kMetrics, cx.diag);
    Metrics m;
    read_host_port(r, "listen", m.listen);
    return m;
}

HealthCheck read_health_check(const toml::table& t, Context& cx) {
    TableReader r(t, "apps.health_check", keys::kHealthCheck, cx.diag);
    HealthCheck h;
    h.enabled = true;
    read_http_path(r, "path", h.path);
    r.read_duration("interval", h.interval);
    r.read_duration("timeout", h.timeout);
    r.read("fails", h.fails, 1, kMaxInt);
    return h;
}

App read_app(const toml::table& t, Context& cx) {
    TableReader r(t, "[[apps]]", keys::kApp, cx.diag);
    App a;
    a.where = r.where();
    r.require("name");
    r.require("script");
    if (r.read("name", a.name)) {
        if (auto problem = app_name_problem(a.name))
            r.fail(r.get("name")->source(), r.label("name") + ": " + *problem);
    }
    read_path(r, "script", cx, a.script);
    a.cwd = cx.base.string();
    read_path(r, "cwd", cx, a.cwd);
    r.read("interpreter", a.interpreter);
    r.read("node_args", a.node_args);
    r.read("args", a.args);
    read_count(r, "instances", a.instances,
               [](const std::string& s) { return resolve_instances(s, 1).has_value(); },
               "an integer > 0, \"max\" or a negative integer (CPUs minus that many)");
    r.read("port", a.port, 1, 65535);
    r.read("reload_port", a.reload_port, 1, 65535);
    r.read("env", a.env);
    r.read_size("max_memory_restart", a.max_memory_restart);
    r.read_duration("kill_timeout", a.kill_timeout);
    r.read_duration("listen_timeout", a.listen_timeout);
    r.read("wait_ready", a.wait_ready);
    r.read_duration("min_uptime", a.min_uptime);
    r.read("max_restarts", a.max_restarts, 0, kMaxInt);
    r.read_duration("restart_delay", a.restart_delay);
    r.read_duration("exp_backoff_restart_delay", a.exp_backoff_restart_delay);
    r.read("merge_logs", a.merge_logs);
    // Log paths stay as written: they are relative to $NODEEDGE_HOME, which only the daemon knows.
    r.read("out_file", a.out_file);
    r.read("error_file", a.error_file);
    r.read("log_date_format", a.log_date_format);
    r.read_size("log_max_size", a.log_max_size);
    r.read("log_retain", a.log_retain, 0, kMaxInt);
    if (const toml::table* hc = r.table("health_check"))
        a.health_check = read_health_check(*hc, cx);
    r.read("user", a.user);
    r.read("group", a.group);
    return a;
}

// "/api/" is a prefix, "= /x" an exact match (nginx's spelling).
void read_location_path(TableReader& r, Location& l) {
    std::string written;
    if (!r.read("path", written)) return;
    std::string_view path = written;
    if (path.starts_with('=')) {
        l.exact = true;
        path.remove_prefix(1);
        while (path.starts_with(' ')) path.remove_prefix(1);
    }
    if (!path.starts_with('/')) {
        r.fail(r.get("path")->source(), r.label("path") + ": '" + written +
                                             "' must be a prefix starting with '/' or an exact "
                                             "match written '= /path'");
        return;
    }
    l.path = path;
}

// A string, or an integer for a bare code (`return = 404`); parsed here so that a bad code or
// an unknown $variable is reported at its line.
void read_return(TableReader& r, Location& l) {
    std::string text;
    if (!r.read_text("return", text, "a string such as \"301 https://$host$request_uri\"")) return;
    if (auto spec = parse_return(text); !spec)
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

RateLimit read_rate_limit(const toml::table& t, Context& cx) {
    TableReader r(t, "servers.locations.rate_limit", keys::kRateLimit, cx.diag);
    RateLimit rl;
    rl.enabled = true;
    r.require("rate");
    r.read_rate("rate", rl.rate_per_sec);
    r.read("burst", rl.burst, 0, kMaxInt);
    r.read("nodelay", rl.nodelay);
    if (r.read("key", rl.key) && rl.key != "remote_addr" &&
        !(rl.key.starts_with("http_") && rl.key.size() > 5))
        r.fail(r.get("key")->source(), r.label("key") + ": '" + rl.key +
                                           "' is not remote_addr or http_<header name>");
    r.read("status", rl.status, 400, 599);
    return rl;
}

void read_cache_valid(const toml::table& t, Context& cx, std::map<int, Duration>& out) {
    TableReader r(t, "servers.locations.cache.valid", cx.diag);
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

Cache read_cache(const toml::table& t, Context& cx) {
    TableReader r(t, "servers.locations.cache", keys::kCache, cx.diag);
    Cache c;
    c.enabled = true;
    if (const toml::table* valid = r.table("valid")) read_cache_valid(*valid, cx, c.valid);
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
    const bool fine = r.has("return") ? all == "return" : (!all.empty() && one_each);
    if (fine) return;
    std::string message =
        "[[servers.locations]] needs one of app, upstream, root, alias, return (root or alias may "
        "go with app or upstream: the file when it exists, else the app)";
    if (!all.empty()) message += " (found " + all + ")";
    r.fail(r.table().source(), message);
}

Location read_location(const toml::table& t, Context& cx) {
    TableReader r(t, "[[servers.locations]]", keys::kLocation, cx.diag);
    Location l;
    l.where = r.where();
    r.require("path");
    read_location_path(r, l);
    require_one_handler(r);
    r.read("app", l.app);
    r.read("upstream", l.upstream);
    r.read_choice("balance", l.balance, {"round_robin", "least_conn", "ip_hash"});
    r.read("keepalive", l.keepalive, 0, kMaxInt);
    r.read_duration("connect_timeout", l.connect_timeout);
    r.read_duration("read_timeout", l.read_timeout);
    r.read_duration("send_timeout", l.send_timeout);
    r.read_duration("queue_timeout", l.queue_timeout);
    r.read("websocket", l.websocket);
    r.read("buffering", l.buffering);
    if (const toml::table* rl = r.table("rate_limit")) l.rate_limit = read_rate_limit(*rl, cx);
    if (const toml::table* c = r.table("cache")) {
        l.cache = read_cache(*c, cx);
        if (!r.has("app") && !r.has("upstream"))
            r.fail(c->source(), r.label("cache") + ": only a location that proxies (app or upstream) has responses to cache");
    }
    read_path(r, "root", cx, l.root);
    read_path(r, "alias", cx, l.alias);
    r.read("index", l.index);
    r.read_duration("expires", l.expires);
    r.read("cache_control", l.cache_control);
    r.read("access_log", l.access_log);
    read_return(r, l);
    read_proxy_headers(r, l);
    return l;
}

Tls read_tls(const toml::table& t, Context& cx) {
    TableReader r(t, "servers.tls", keys::kTls, cx.diag);
    Tls tls;
    tls.enabled = true;
    tls.where = r.where();
    r.require("cert");
    r.require("key");
    read_path(r, "cert", cx, tls.cert);
    read_path(r, "key", cx, tls.key);
    r.read_choices("protocols", tls.protocols, {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"});
    r.read("ciphers", tls.ciphers);
    read_path(r, "ocsp", cx, tls.ocsp);
    return tls;
}

Gzip read_gzip(const toml::table& t, Context& cx) {
    TableReader r(t, "servers.gzip", keys::kGzip, cx.diag);
    Gzip g;
    g.enabled = true;
    r.read("level", g.level, 1, 9);
    r.read_size("min_length", g.min_length);
    r.read("types", g.types);
    return g;
}

void read_listen(TableReader& r, const Context& cx, std::vector<ListenAddr>& out) {
    const toml::node* n = r.get("listen");
    if (!n) return;
    const auto* array = n->as_array();
    if (!array || array->empty()) {
        r.type_error(r.label("listen"), *n, "a non-empty array of \"host:port\" strings");
        return;
    }
    for (size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        const std::string label = r.label("listen") + "[" + std::to_string(i) + "]";
        const auto* s = element.as_string();
        if (!s) {
            r.type_error(label, element, "a \"host:port\" string");
            continue;
        }
        auto hp = net::split_host_port(s->get());
        if (!hp) {
            r.fail(element.source(), label + ": " + hp.error().message);
            continue;
        }
        out.push_back(ListenAddr{hp->host, hp->port, cx.diag.where(element.source())});
    }
}

Server read_server(const toml::table& t, Context& cx) {
    TableReader r(t, "[[servers]]", keys::kServer, cx.diag);
    Server s;
    s.where = r.where();
    r.require("listen");
    read_listen(r, cx, s.listen);
    r.read("server_name", s.server_name);
    r.read("headers", s.headers);
    r.read_size("client_max_body_size", s.client_max_body_size);
    r.read_duration("keepalive_timeout", s.keepalive_timeout);
    r.read("keepalive_requests", s.keepalive_requests, 0, kMaxInt);
    r.read_duration("client_header_timeout", s.client_header_timeout);
    r.read_duration("client_body_timeout", s.client_body_timeout);
    if (const toml::table* tls = r.table("tls")) s.tls = read_tls(*tls, cx);
    r.read("http2", s.http2);
    r.read("redirect_https", s.redirect_https);
    if (const toml::table* gzip = r.table("gzip")) s.gzip = read_gzip(*gzip, cx);
    for (const toml::table* location : r.tables("locations"))
        s.locations.push_back(read_location(*location, cx));
    return s;
}

UpstreamServer read_upstream_server(const toml::table& t, Context& cx) {
    TableReader r(t, "upstreams.servers", keys::kUpstreamServer, cx.diag);
    UpstreamServer u;
    r.require("address");
    read_host_port(r, "address", u.address);
    r.read("weight", u.weight, 1, kMaxInt);
    r.read("max_fails", u.max_fails, 0, kMaxInt);
    r.read_duration("fail_timeout", u.fail_timeout);
    return u;
}

Upstream read_upstream(const toml::table& t, Context& cx) {
    TableReader r(t, "[[upstreams]]", keys::kUpstream, cx.diag);
    Upstream u;
    u.where = r.where();
    r.require("name");
    r.require("servers");
    if (r.read("name", u.name) && u.name.empty())
        r.fail(r.get("name")->source(), r.label("name") + ": an upstream name cannot be empty");
    for (const toml::table* server : r.tables("servers"))
        u.servers.push_back(read_upstream_server(*server, cx));
    r.read_duration("resolve", u.resolve);
    if (r.has("resolver")) read_host_port(r, "resolver", u.resolver);
    if (const toml::node* n = r.get("servers"); n && n->is_array() && n->as_array()->empty())
        r.fail(n->source(), r.label("servers") + ": an upstream needs at least one server");
    return u;
}

Config read_config(const toml::table& doc, Context& cx) {
    TableReader r(doc, "", keys::kTop, cx.diag);
    Config c;
    if (const toml::table* t = r.table("proxy")) c.proxy = read_proxy(*t, cx);
    if (const toml::table* t = r.table("metrics")) c.metrics = read_metrics(*t, cx);
    for (const toml::table* t : r.tables("apps")) c.apps.push_back(read_app(*t, cx));
    for (const toml::table* t : r.tables("servers")) c.servers.push_back(read_server(*t, cx));
    for (const toml::table* t : r.tables("upstreams")) c.upstreams.push_back(read_upstream(*t, cx));
    return c;
}

Result<std::string> read_whole_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno(path);
    std::string text;
    char buf[16384];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno(path);
        if (n == 0) return text;
        text.append(buf, static_cast<size_t>(n));
    }
}

}  // namespace

Result<Config> load_file(const std::string& path) {
    auto text = read_whole_file(path);
    if (!text) return text.error();
    return load_string(*text, path);
}

Result<Config> load_string(std::string_view text, const std::string& path) {
    std::error_code ec;
    const fs::path absolute = fs::absolute(path, ec).lexically_normal();
    Context cx{Diagnostics(path), absolute.parent_path()};
    toml::table doc;
    try {
        doc = toml::parse(text, std::string(path));
    } catch (const toml::parse_error& e) {
        cx.diag.report(e.source(), std::string(e.description()));
        return cx.diag.error();
    }
    Config c = read_config(doc, cx);
    if (cx.diag.failed()) return cx.diag.error();
    c.source = absolute.string();
    if (auto valid = validate(c, usable_cpus()); !valid) return valid.error();
    return c;
}

Result<Config> config_for_script(const std::string& script_path, const std::string& name,
                                 const std::string& instances, int port) {
    std::error_code ec;
    const fs::path script = fs::absolute(script_path, ec).lexically_normal();
    App a;
    a.name = name.empty() ? script.stem().string() : name;
    if (auto problem = app_name_problem(a.name)) return Error{"--name: " + *problem};
    a.script = script.string();
    a.cwd = script.parent_path().string();
    if (!instances.empty()) a.instances = instances;
    if (!resolve_instances(a.instances, 1))
        return Error{"-i: expected an integer > 0, \"max\" or a negative integer, got " +
                     a.instances};
    a.port = port;
    Config c;
    c.apps.push_back(std::move(a));
    if (auto valid = validate(c, usable_cpus()); !valid) return valid.error();
    return c;
}

}  // namespace ne::config
