// The configuration as plain data: what ecosystem.toml says, resolved (relative paths made
// absolute, units parsed, defaults filled in). No toml++ types leak past config/load.cpp.
// A Config is an immutable snapshot; a reload builds a new one and diffs it (every struct
// compares member-wise, so a diff can ask "did this app change?" with ==).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ne::config {

using Duration = std::chrono::milliseconds;

// Where a value came from, so cross-field errors can still say file:line:col.
struct Where {
    std::string file;
    int line = 0;
    int column = 0;
    std::string str() const;  // "file:line:col"

    bool operator==(const Where&) const = default;
};

struct HealthCheck {
    bool enabled = false;
    std::string path = "/health";
    Duration interval{5000};
    Duration timeout{2000};
    int fails = 3;

    bool operator==(const HealthCheck&) const = default;
};

struct App {
    std::string name;
    // Relative paths in the file resolve against the file's folder (SPEC), also `script` when
    // `cwd` is set. Resolved paths are absolute, normalised, without a trailing '/'.
    std::string script;          // absolute
    std::string cwd;             // absolute; default: the file's folder
    std::string interpreter = "node";  // "none": run script directly
    std::vector<std::string> node_args;
    std::vector<std::string> args;
    // "instances" as written: an integer N > 0, "max" (usable CPUs), or -K (CPUs - K).
    // Resolved by resolve_instances(); kept as written so `save` round-trips it.
    std::string instances = "1";
    int port = 3000;
    // Base of the range a rolling reload alternates with: instance i on port + i is replaced
    // on reload_port + i and the next replacement moves it back, so both ports of every
    // instance are known in advance (firewall rules, direct checks). 0: reload_base() default.
    int reload_port = 0;
    std::map<std::string, std::string> env;
    uint64_t max_memory_restart = 0;  // bytes; 0 = no limit
    Duration kill_timeout{5000};
    Duration listen_timeout{8000};
    bool wait_ready = false;
    Duration min_uptime{1000};
    int max_restarts = 15;
    Duration restart_delay{0};
    Duration exp_backoff_restart_delay{100};
    bool merge_logs = true;
    // As written: "" = $NODEEDGE_HOME/logs/<name>-out.log; relative paths are resolved against
    // $NODEEDGE_HOME by the supervisor, which knows it (the loader does not).
    std::string out_file;
    std::string error_file;
    std::string log_date_format = "%Y-%m-%dT%H:%M:%S%z";
    uint64_t log_max_size = 10ull << 20;  // bytes; rotate when a file passes this
    int log_retain = 5;                   // rotated files kept
    HealthCheck health_check;
    // Run the workers as this user (name or uid) and group (default: the user's primary
    // group), PM2's uid/gid; the daemon must be root for that. Empty: as the daemon.
    std::string user;
    std::string group;
    // PM2's watch: restart the app (rolling, as `reload`) when a file under one of these
    // paths changes. TOML `watch = true` means [cwd]; paths are absolute. Empty: off.
    std::vector<std::string> watch;
    // PM2's ignore_watch: absolute globs (the loader anchors relative ones at the file's
    // folder) or "~ REGEX" / "~* REGEX" (config/ignore_pattern.h). Empty: PM2's defaults.
    std::vector<std::string> ignore_watch;
    Duration watch_delay{1000};  // changes closer together than this make one restart
    std::string cron_restart;    // PM2's cron_restart: "0 3 * * *" (5 or 6 fields); "" = none
    bool autorestart = true;     // false: a worker that exits stays stopped (PM2's autorestart)
    // PM2's increment_var: this env var (e.g. "INSTANCE_PORT") gets its value + i in instance i.
    std::string increment_var;
    std::string namespace_ = "default";  // PM2's namespace: verbs take it as a group of apps
    Where where;                 // the [[apps]] table

    bool operator==(const App&) const = default;
};

struct RateLimit {
    bool enabled = false;
    double rate_per_sec = 0;     // "30r/s" -> 30, "5r/m" -> 5/60
    int burst = 0;
    bool nodelay = false;
    std::string key = "remote_addr";  // or "http_<header>"
    int status = 503;

    bool operator==(const RateLimit&) const = default;
};

struct Cache {
    bool enabled = false;
    std::map<int, Duration> valid;           // status -> freshness
    std::vector<std::string> use_stale;      // error, timeout, updating
    bool lock = false;
    uint64_t max_size = 256ull << 20;        // bytes on disk for this location; LRU beyond
    std::vector<std::string> bypass_cookie;  // a request with one of these cookies skips the cache
    Duration lock_timeout{5000};             // how long a request waits for another to fill

    bool operator==(const Cache&) const = default;
};

// How a location's path is matched, nginx's modifiers.
enum class Match : uint8_t {
    prefix,       // "/p"
    exact,        // "= /p"
    prefix_stop,  // "^~ /p": a prefix that, when it is the longest, stops the regex search
    regex,        // "~ REGEX"
    regex_icase,  // "~* REGEX"
    named,        // "@name": only try_files reaches it, never a request path
};

// nginx's `sticky cookie`: the proxy names the chosen backend in a cookie and sends a client
// that returns it to the same backend while that one is eligible.
struct Sticky {
    bool enabled = false;
    std::string cookie = "route";
    std::string path = "/";
    std::string domain;          // "": none (the host that set it)
    Duration expires{0};         // Max-Age; 0: a session cookie
    bool secure = false;
    bool httponly = false;
    std::string samesite;        // "", "strict", "lax", "none"

    bool operator==(const Sticky&) const = default;
};

struct Gzip {
    bool enabled = false;
    int level = 6;
    uint64_t min_length = 256;
    std::vector<std::string> types{"text/html"};

    bool operator==(const Gzip&) const = default;
};

struct Location {
    // The path without its modifier: "/api/" (prefix, exact, prefix_stop), the pattern
    // (regex, regex_icase), or "@name" (named).
    std::string path;
    Match match = Match::prefix;
    std::string app;             // proxy to that app's ready workers
    std::string upstream;        // or to a named [[upstreams]]
    std::string balance = "round_robin";  // round_robin | least_conn | ip_hash
    int keepalive = 64;
    // nginx's keepalive_timeout in an upstream block: an idle upstream connection is closed
    // after this. Below Node's keepAliveTimeout (5 s), so that it is never Node that closes a
    // connection a request is being written into (nginx's 60 s would race it).
    Duration keepalive_timeout{4000};
    Duration connect_timeout{5000};
    Duration read_timeout{60000};
    Duration send_timeout{60000};
    Duration queue_timeout{1000};
    bool websocket = true;
    // gRPC (nginx's grpc_pass): HTTP/2 cleartext to the backend, trailers both ways, the
    // proxy's own errors answered as gRPC statuses.
    bool grpc = false;
    bool buffering = true;
    RateLimit rate_limit;
    Cache cache;
    Sticky sticky;
    std::string root;            // static files (absolute)
    // Static files, prefix mapped away (absolute, no trailing '/'). In a regex location it
    // may hold captures ("/srv/img/$1") and names the file itself, as in nginx.
    std::string alias;
    std::string index = "index.html";
    Duration expires{0};         // 0: no Expires / max-age header
    std::string cache_control;
    bool access_log = true;
    std::string return_;         // "301 https://x" or "200 text" (config/template.h parses it)
    std::map<std::string, std::string> proxy_headers;  // set on the request sent upstream; "" removes
    // nginx's try_files: each element but the last is a file ("$uri") or directory ("$uri/")
    // tried under root/alias; the last is the fallback: "=404", "/uri" or "@name".
    std::vector<std::string> try_files;
    // Absent: the server's (nginx's inheritance). `headers` present replaces the server's
    // set entirely, as a location's add_header does.
    std::optional<uint64_t> client_max_body_size;
    std::optional<Duration> client_body_timeout;
    std::optional<std::map<std::string, std::string>> headers;
    std::optional<Gzip> gzip;    // `gzip = false` is a Gzip with enabled = false
    Where where;

    bool operator==(const Location&) const = default;
};

// The path as written: "= /x", "^~ /static/", "~* \.css$", "@app", "/api/".
std::string spelling(const Location& l);
// "prefix", "exact", "^~", "~", "~*", "@" (the JSON form); parse_match is its inverse.
std::string_view match_name(Match m);
std::optional<Match> parse_match(std::string_view name);

struct Tls {
    bool enabled = false;
    std::string cert;            // absolute
    std::string key;             // absolute
    std::vector<std::string> protocols{"TLSv1.2", "TLSv1.3"};
    std::string ciphers;         // TLS 1.2 cipher list; "" = Mozilla's intermediate list
    std::string ocsp;            // absolute; a DER OCSP response stapled to handshakes; "" = none
    // nginx's ssl_prefer_server_ciphers, but on by default: the server's order (strongest
    // first) rather than the client's, which testssl.sh reports as HIGH when absent.
    bool prefer_server_ciphers = true;
    Duration session_timeout{300000};        // nginx's ssl_session_timeout (5m)
    bool session_tickets = false;            // nginx's ssl_session_tickets (nginx: on)
    Duration session_ticket_rotation{3600000};  // a new ticket key this often (whole seconds)
    // `tls = "auto"` (or `acme = true`): the certificate comes from the [acme] CA; the daemon
    // keeps it under $NODEEDGE_HOME/acme/certs/<first server_name>.{crt,key} (cert and key
    // stay "" here).
    bool acme = false;
    Where where;                 // the tls table

    bool operator==(const Tls&) const = default;
};

struct ListenAddr {
    std::string host;            // "127.0.0.1", "0.0.0.0", "::1"
    int port = 0;
    std::string str() const;     // "127.0.0.1:8080" / "[::1]:8080"
    Where where;

    bool operator==(const ListenAddr&) const = default;
};

struct Server {
    std::vector<ListenAddr> listen;
    std::vector<std::string> server_name;   // empty: any
    std::map<std::string, std::string> headers;
    uint64_t client_max_body_size = 1ull << 20;  // nginx's default 1m
    Duration keepalive_timeout{65000};
    int keepalive_requests = 1000;           // HTTP/2: streams per connection
    int http2_max_concurrent_streams = 128;
    Duration client_header_timeout{60000};
    Duration client_body_timeout{60000};
    Duration send_timeout{60000};            // a client that reads nothing this long is cut off
    Duration lingering_timeout{5000};        // after the last answer, waiting for the client's FIN
    Tls tls;
    bool http2 = false;
    bool redirect_https = false;
    Gzip gzip;
    std::vector<Location> locations;
    Where where;

    bool operator==(const Server&) const = default;
};

// A request's limits and response settings: its location's when it sets them, else its
// server's. `l` may be null (no location matched).
uint64_t body_limit(const Server& s, const Location* l);
Duration body_timeout(const Server& s, const Location* l);
const std::map<std::string, std::string>& response_headers(const Server& s, const Location* l);
const Gzip& gzip_for(const Server& s, const Location* l);

struct UpstreamServer {
    std::string address;         // host:port
    int weight = 1;
    int max_fails = 1;
    Duration fail_timeout{10000};

    bool operator==(const UpstreamServer&) const = default;
};

struct Upstream {
    std::string name;
    std::vector<UpstreamServer> servers;
    // Servers given by a DNS name are resolved without blocking and again after this interval;
    // 0: after the record's TTL.
    Duration resolve{0};
    std::string resolver;        // "host:port" of the DNS server; "": those of /etc/resolv.conf
    // Which records a name's backends come from: "both" (A and AAAA, nginx's default),
    // "ipv4" / "ipv6" (only A / only AAAA, nginx's ipv6=off / ipv4=off), "prefer_ipv4" /
    // "prefer_ipv6" (the other family only when the name has none of this one).
    std::string resolve_family = "both";
    Where where;

    bool operator==(const Upstream&) const = default;
};

struct Proxy {
    std::string workers = "auto";  // "auto" or a count, as written
    std::string user;
    std::string access_log = "logs/access.log";  // relative to $NODEEDGE_HOME; "off"
    std::string access_log_format = "combined";  // or "json"
    std::string error_page;        // absolute, or empty
    // How long a draining Node worker may keep requests (and tunnels) in flight before it is
    // stopped anyway (reload, scale down, stop, replacement).
    Duration drain_timeout{30000};
    // After a reload that forks new proxy workers, the old ones keep their open connections
    // (WebSocket tunnels, long responses) this long, then close them (nginx's name).
    Duration worker_shutdown_timeout{std::chrono::hours(1)};

    bool operator==(const Proxy&) const = default;
};

struct Metrics {
    std::string listen;            // empty: disabled

    bool operator==(const Metrics&) const = default;
};

// [acme]: the CA that issues the certificates of `tls = "auto"` servers.
struct Acme {
    static constexpr const char* kLetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory";
    std::string email;             // the account's contact; "" = none
    std::string directory = kLetsEncrypt;
    std::string ca_bundle;         // absolute; trusted for the directory; "" = the system's CAs
    std::string challenge;         // "http-01", "tls-alpn-01"; "" = http-01 when a plain listener exists
    Duration renew_before{0};      // 0: a third of the certificate's lifetime
    std::string key_type = "P-256";  // or "RSA-2048"

    bool operator==(const Acme&) const = default;
};

struct Config {
    std::string source;            // absolute path of the ecosystem.toml ("" for `start app.js`)
    Proxy proxy;
    Metrics metrics;
    Acme acme;
    std::vector<App> apps;
    std::vector<Server> servers;
    std::vector<Upstream> upstreams;

    bool operator==(const Config&) const = default;
};

// Number of usable CPUs (sched_getaffinity), at least 1.
int usable_cpus();

// Far enough above `port` that apps packed PM2-style at 3000, 4000, 5000, 8000, 8080 keep clear
// of each other's alternate ranges (port + 1000 would put 3000's on 4000), and below the
// kernel's ephemeral ports (32768 up) for every port below 22768.
constexpr int kReloadPortOffset = 10000;
// The alternate range's first port: reload_port, or port + kReloadPortOffset when unset (so
// it follows `start --port`).
int reload_base(const App& a);

// "4" -> 4, "max" -> cpus, "-1" -> cpus - 1 (at least 1). nullopt for anything else.
std::optional<int> resolve_instances(const std::string& written, int cpus);

}  // namespace ne::config
