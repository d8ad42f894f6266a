#include "config/load.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <climits>
#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>

#include "config/cron_schedule.h"
#include "config/ignore_pattern.h"
#include "config/keys.h"
#include "config/location_reader.h"
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
void read_path(TableReader& r, std::string_view key, const Context& cx, std::string& out) {
    read_path(r, key, cx.base, out);
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

// Names end up in log file names and on the command line, where "all" already means every app;
// namespaces are taken where app names are (`stop NAMESPACE`), so they follow the same rules.
std::optional<std::string> group_name_problem(const std::string& name, const std::string& what) {
    if (name.empty()) return what + " cannot be empty";
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

}  // namespace

std::optional<std::string> app_name_problem(const std::string& name) {
    return group_name_problem(name, "an app name");
}

namespace {

// watch = true (the app's cwd) | false | ["path", ...]. Relative paths resolve against the
// file's folder like every other path in the file; `watch = true` follows `cwd`.
// ignore_watch: globs as chokidar (PM2's watcher) reads them, relative ones anchored at the
// file's folder too, or "~ REGEX" / "~* REGEX" (ECMAScript, as a RegExp in a PM2 file)
// checked here so that a bad one is refused at its line.
void read_watch(TableReader& r, const Context& cx, App& a) {
    if (const toml::node* n = r.get("watch")) {
        if (const auto* b = n->as_boolean()) {
            if (b->get()) a.watch = {a.cwd};
        } else if (std::vector<std::string> paths; r.read("watch", paths)) {
            for (std::string& p : paths) {
                if (p.empty()) r.fail(n->source(), r.label("watch") + ": an empty path");
                p = resolve_path(cx.base, p);
            }
            a.watch = std::move(paths);
        }
    }
    std::vector<std::string> patterns;
    if (!r.read("ignore_watch", patterns)) return;
    const auto* array = r.get("ignore_watch")->as_array();
    for (size_t i = 0; i < patterns.size(); ++i) {
        std::string& p = patterns[i];
        const auto& at = array->get(i)->source();
        const std::string label = r.label("ignore_watch") + "[" + std::to_string(i) + "]";
        if (auto regex = ignore_regex(p)) {
            if (auto problem = regex_problem(*regex))
                r.fail(at, label + ": '" + regex->source + "' is not a valid regular expression: " + *problem);
        } else if (p.empty()) {
            r.fail(at, label + ": an empty pattern");
        } else if (!p.starts_with('/')) {
            p = (cx.base / (p.starts_with("./") ? p.substr(2) : p)).string();
        }
    }
    a.ignore_watch = std::move(patterns);
}

// PM2 reads "0" as no cron; anything else must be an expression croner would take.
void read_cron_restart(TableReader& r, App& a) {
    std::string text;
    if (!r.read("cron_restart", text)) return;
    if (text == "0" || text.empty()) return;
    if (auto c = CronSchedule::parse(text); !c)
        r.fail(r.get("cron_restart")->source(), r.label("cron_restart") + ": " + c.error().message);
    else if (!c->next_after(std::time(nullptr)))
        r.fail(r.get("cron_restart")->source(),
               r.label("cron_restart") + ": '" + text + "' never fires (no such date in the next nine years)");
    else
        a.cron_restart = text;
}

// Instance i gets the variable's value + i: a name the shell could export, and not one
// nodeedge sets itself per instance.
void read_increment_var(TableReader& r, App& a) {
    if (!r.read("increment_var", a.increment_var)) return;
    const std::string& v = a.increment_var;
    const bool ok = !v.empty() && !std::isdigit(static_cast<unsigned char>(v[0])) &&
                    v.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
                        std::string::npos;
    const auto& at = r.get("increment_var")->source();
    if (!ok)
        r.fail(at, r.label("increment_var") + ": '" + v + "' is not an environment variable name");
    else if (v == "PORT" || v == "NODE_APP_INSTANCE")
        r.fail(at, r.label("increment_var") + ": " + v + " is already set per instance (PORT = port + i, " +
                       "NODE_APP_INSTANCE = i); set `port` instead");
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
    r.read_duration("drain_timeout", p.drain_timeout);
    r.read_duration("worker_shutdown_timeout", p.worker_shutdown_timeout);
    return p;
}

Metrics read_metrics(const toml::table& t, Context& cx) {
    TableReader r(t, "[metrics]", keys::kMetrics, cx.diag);
    Metrics m;
    read_host_port(r, "listen", m.listen);
    return m;
}

Acme read_acme(const toml::table& t, Context& cx) {
    TableReader r(t, "[acme]", keys::kAcme, cx.diag);
    Acme a;
    r.read("email", a.email);
    r.read("directory", a.directory);
    read_path(r, "ca_bundle", cx, a.ca_bundle);
    r.read_choice("challenge", a.challenge, {"http-01", "tls-alpn-01"});
    r.read_duration("renew_before", a.renew_before);
    r.read_choice("key_type", a.key_type, {"P-256", "RSA-2048"});
    return a;
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
    read_watch(r, cx, a);
    r.read_duration("watch_delay", a.watch_delay);
    read_cron_restart(r, a);
    r.read("autorestart", a.autorestart);
    read_increment_var(r, a);
    if (r.read("namespace", a.namespace_)) {
        if (auto problem = group_name_problem(a.namespace_, "a namespace"))
            r.fail(r.get("namespace")->source(), r.label("namespace") + ": " + *problem);
    }
    return a;
}

// TLS counts session lifetimes in seconds: a duration under one, or not a whole number of
// them, would be rounded silently.
void read_whole_seconds(TableReader& r, std::string_view key, Duration& out) {
    if (!r.read_duration(key, out)) return;
    if (out.count() < 1000 || out.count() % 1000 != 0)
        r.fail(r.get(key)->source(), r.label(key) + ": expected whole seconds, at least 1s");
}

Tls read_tls(const toml::table& t, Context& cx) {
    TableReader r(t, "servers.tls", keys::kTls, cx.diag);
    Tls tls;
    tls.enabled = true;
    tls.where = r.where();
    r.read("acme", tls.acme);
    r.read_choices("protocols", tls.protocols, {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"});
    r.read("ciphers", tls.ciphers);
    if (tls.acme) {
        for (const char* key : {"cert", "key", "ocsp"})
            if (const toml::node* n = r.get(key))
                r.fail(n->source(), r.label(key) + ": not with acme = true (the certificate comes from [acme])");
        return tls;
    }
    r.require("cert");
    r.require("key");
    read_path(r, "cert", cx, tls.cert);
    read_path(r, "key", cx, tls.key);
    read_path(r, "ocsp", cx, tls.ocsp);
    r.read("prefer_server_ciphers", tls.prefer_server_ciphers);
    read_whole_seconds(r, "session_timeout", tls.session_timeout);
    r.read("session_tickets", tls.session_tickets);
    read_whole_seconds(r, "session_ticket_rotation", tls.session_ticket_rotation);
    return tls;
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
    r.read_duration("send_timeout", s.send_timeout);
    r.read_duration("lingering_timeout", s.lingering_timeout);
    if (const toml::node* tls = r.get("tls"); tls && tls->is_string()) {
        // tls = "auto": a certificate from [acme], everything else TLS's defaults.
        if (tls->value_or(std::string()) != "auto") r.type_error(r.label("tls"), *tls, "a table or \"auto\"");
        s.tls.enabled = s.tls.acme = true;
        s.tls.where = cx.diag.where(tls->source());
    } else if (const toml::table* t = r.table("tls")) {
        s.tls = read_tls(*t, cx);
    }
    r.read("http2", s.http2);
    // nginx takes any count; each stream may hold about 0.3 MiB of buffers (session.h).
    r.read("http2_max_concurrent_streams", s.http2_max_concurrent_streams, 1, 1024);
    r.read("redirect_https", s.redirect_https);
    if (const toml::table* gzip = r.table("gzip")) s.gzip = read_gzip(*gzip, "servers.gzip", cx.diag);
    for (const toml::table* location : r.tables("locations"))
        s.locations.push_back(read_location(*location, cx.diag, cx.base));
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
    r.read_choice("resolve_family", u.resolve_family, {"both", "ipv4", "ipv6", "prefer_ipv4", "prefer_ipv6"});
    if (const toml::node* n = r.get("servers"); n && n->is_array() && n->as_array()->empty())
        r.fail(n->source(), r.label("servers") + ": an upstream needs at least one server");
    return u;
}

Config read_config(const toml::table& doc, Context& cx) {
    TableReader r(doc, "", keys::kTop, cx.diag);
    Config c;
    if (const toml::table* t = r.table("proxy")) c.proxy = read_proxy(*t, cx);
    if (const toml::table* t = r.table("metrics")) c.metrics = read_metrics(*t, cx);
    if (const toml::table* t = r.table("acme")) c.acme = read_acme(*t, cx);
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
