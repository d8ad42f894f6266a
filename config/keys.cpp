#include "config/keys.h"

namespace ne::config::keys {

const List kTop = {"proxy", "metrics", "acme", "apps", "servers", "upstreams"};

const List kProxy = {"workers", "user", "access_log", "access_log_format", "error_page", "drain_timeout",
                     "worker_shutdown_timeout"};

const List kMetrics = {"listen"};

const List kAcme = {"email", "directory", "ca_bundle", "challenge", "renew_before", "key_type"};

const List kApp = {"name", "script", "cwd", "interpreter", "node_args", "args", "instances", "port",
                   "reload_port", "env", "max_memory_restart", "kill_timeout", "listen_timeout",
                   "wait_ready", "min_uptime", "max_restarts", "restart_delay",
                   "exp_backoff_restart_delay", "merge_logs", "out_file", "error_file",
                   "log_date_format", "log_max_size", "log_retain", "health_check", "user",
                   "group", "watch", "ignore_watch", "watch_delay", "cron_restart", "autorestart",
                   "increment_var", "namespace"};

const List kHealthCheck = {"path", "interval", "timeout", "fails"};

const List kServer = {"listen", "server_name", "headers", "client_max_body_size",
                      "keepalive_timeout", "keepalive_requests", "client_header_timeout",
                      "client_body_timeout", "send_timeout", "lingering_timeout", "tls", "http2", "http2_max_concurrent_streams",
                      "redirect_https", "gzip", "locations"};

const List kTls = {"acme", "cert", "key", "protocols", "ciphers", "ocsp", "prefer_server_ciphers",
                   "session_timeout", "session_tickets", "session_ticket_rotation"};

const List kGzip = {"level", "min_length", "types"};

const List kLocation = {"path", "app", "upstream", "balance", "keepalive", "keepalive_timeout", "connect_timeout",
                        "read_timeout", "send_timeout", "queue_timeout", "websocket", "grpc", "buffering",
                        "rate_limit", "cache", "sticky", "root", "alias", "index", "expires",
                        "cache_control", "access_log", "return", "proxy_headers", "try_files",
                        "client_max_body_size", "client_body_timeout", "headers", "gzip"};

const List kRateLimit = {"rate", "burst", "nodelay", "key", "status"};

const List kCache = {"valid", "use_stale", "lock", "max_size", "bypass_cookie", "lock_timeout"};

const List kSticky = {"cookie", "path", "domain", "expires", "secure", "httponly", "samesite"};

const List kUpstream = {"name", "servers", "resolve", "resolver", "resolve_family"};

const List kUpstreamServer = {"address", "weight", "max_fails", "fail_timeout"};

const std::vector<Table>& tables() {
    static const std::vector<Table> all = {
        {"", kTop},
        {"proxy", kProxy},
        {"metrics", kMetrics},
        {"acme", kAcme},
        {"apps", kApp},
        {"apps.health_check", kHealthCheck},
        {"servers", kServer},
        {"servers.tls", kTls},
        {"servers.gzip", kGzip},
        {"servers.locations", kLocation},
        {"servers.locations.gzip", kGzip},
        {"servers.locations.rate_limit", kRateLimit},
        {"servers.locations.cache", kCache},
        {"servers.locations.sticky", kSticky},
        {"upstreams", kUpstream},
        {"upstreams.servers", kUpstreamServer},
    };
    return all;
}

}  // namespace ne::config::keys
