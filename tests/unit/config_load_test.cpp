#include <gtest/gtest.h>

#include <filesystem>

#include "config/json.h"
#include "config/load.h"
#include "config/validate.h"
#include "unit/config_load_fixture.h"
#include "unit/config_test_dir.h"
#include "unit/tls_test_cert.h"

namespace ne::config {
namespace {

using namespace std::chrono_literals;
using testing::ErrorCase;
using testing::LoadTest;
using testing::TestDir;

}  // namespace

void PrintTo(const Where& w, std::ostream* os) { *os << "Where{" << w.str() << "}"; }

namespace {

// SPEC.md's ecosystem.toml example, verbatim.
constexpr const char* kSpecExample = R"toml([proxy]                         # optional; these are the defaults
workers = "auto"                # proxy workers: one per CPU
user = ""                       # drop to this user (and group) after binding, when started as root
access_log = "logs/access.log"  # relative to $NODEEDGE_HOME; "off" to disable
access_log_format = "combined"  # or "json"
error_page = ""                 # HTML file served with 502/503/504

[metrics]                       # optional Prometheus endpoint
listen = "127.0.0.1:9209"

[[apps]]
name = "api"                    # required, unique
script = "app.js"               # required; relative to cwd
cwd = "."                       # default: the folder holding ecosystem.toml
interpreter = "node"            # default "node"; "none" runs script directly
node_args = []                  # e.g. ["--max-old-space-size=512"]
args = []
instances = 2                   # integer or "max"; -i overrides
port = 3000                     # base port: instance i gets PORT = port + i
env = { NODE_ENV = "production" }
max_memory_restart = "1G"       # RSS of the worker and its children; K, M, G suffixes
kill_timeout = "5s"             # SIGTERM, then SIGKILL after this
listen_timeout = "8s"           # time allowed to become ready
wait_ready = false              # true: ready when the worker calls process.send('ready');
                                # false: ready when its PORT accepts connections
min_uptime = "1s"               # an exit sooner than this counts as unstable
max_restarts = 15               # unstable restarts in a row before status "errored"
restart_delay = "0s"
exp_backoff_restart_delay = "100ms"
merge_logs = true               # one out/err file per app instead of one per instance
out_file = ""                   # default $NODEEDGE_HOME/logs/<name>-out.log
error_file = ""                 # default $NODEEDGE_HOME/logs/<name>-error.log
log_date_format = "%Y-%m-%dT%H:%M:%S%z"
health_check = { path = "/health", interval = "5s", timeout = "2s", fails = 3 }

[[servers]]
listen = ["127.0.0.1:8080"]     # one or more host:port
server_name = ["example.com"]   # virtual hosts; default: any
headers = { "X-Content-Type-Options" = "nosniff" }   # added to every response
client_max_body_size = "50m"    # larger bodies get 413
keepalive_timeout = "65s"
tls = { cert = "cert.pem", key = "key.pem", protocols = ["TLSv1.2", "TLSv1.3"] }
http2 = true                    # with tls: offer h2 by ALPN
redirect_https = false          # true on a plain listener: 301 to https://host/uri
gzip = { level = 6, min_length = 256, types = ["text/html", "application/json"] }

[[servers.locations]]
path = "/api/"                  # prefix; "= /x" exact; longest prefix wins
app = "api"                     # proxy to that app's ready workers (or upstream = "NAME")
balance = "least_conn"          # round_robin | least_conn | ip_hash
keepalive = 64                  # idle upstream connections kept per proxy worker
read_timeout = "60s"
websocket = true                # pass Upgrade/Connection through; long-lived tunnels
rate_limit = { rate = "30r/s", burst = 50, nodelay = true, key = "remote_addr" }
cache = { valid = { "200" = "5m", "404" = "1m" }, use_stale = ["error", "timeout", "updating"], lock = true }

[[servers.locations]]
path = "/static/"
root = "public"                 # static files (alias = "..." maps the prefix away)
expires = "30d"
cache_control = "public, immutable"

[[upstreams]]                   # backends on other hosts
name = "remote"
servers = [ { address = "10.0.0.5:3000", weight = 1, max_fails = 3, fail_timeout = "10s" } ]
)toml";


TEST_F(LoadTest, SpecExampleParsesWithEveryValue) {
    auto loaded = load(kSpecExample);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    const Config& c = *loaded;
    const std::string base = dir_.path().string();
    EXPECT_EQ(c.source, eco());

    EXPECT_EQ(c.proxy.workers, "auto");
    EXPECT_EQ(c.proxy.user, "");
    EXPECT_EQ(c.proxy.access_log, "logs/access.log");
    EXPECT_EQ(c.proxy.access_log_format, "combined");
    EXPECT_EQ(c.proxy.error_page, "");
    EXPECT_EQ(c.metrics.listen, "127.0.0.1:9209");

    ASSERT_EQ(c.apps.size(), 1u);
    const App& a = c.apps[0];
    EXPECT_EQ(a.name, "api");
    EXPECT_EQ(a.script, base + "/app.js");
    EXPECT_EQ(a.cwd, base);
    EXPECT_EQ(a.interpreter, "node");
    EXPECT_TRUE(a.node_args.empty());
    EXPECT_TRUE(a.args.empty());
    EXPECT_EQ(a.instances, "2");
    EXPECT_EQ(a.port, 3000);
    EXPECT_EQ(a.env, (std::map<std::string, std::string>{{"NODE_ENV", "production"}}));
    EXPECT_EQ(a.max_memory_restart, 1ull << 30);
    EXPECT_EQ(a.kill_timeout, 5s);
    EXPECT_EQ(a.listen_timeout, 8s);
    EXPECT_FALSE(a.wait_ready);
    EXPECT_EQ(a.min_uptime, 1s);
    EXPECT_EQ(a.max_restarts, 15);
    EXPECT_EQ(a.restart_delay, 0s);
    EXPECT_EQ(a.exp_backoff_restart_delay, 100ms);
    EXPECT_TRUE(a.merge_logs);
    EXPECT_EQ(a.out_file, "");
    EXPECT_EQ(a.error_file, "");
    EXPECT_EQ(a.log_date_format, "%Y-%m-%dT%H:%M:%S%z");
    EXPECT_TRUE(a.health_check.enabled);
    EXPECT_EQ(a.health_check.path, "/health");
    EXPECT_EQ(a.health_check.interval, 5s);
    EXPECT_EQ(a.health_check.timeout, 2s);
    EXPECT_EQ(a.health_check.fails, 3);
    EXPECT_EQ(a.where, (Where{eco(), 11, 1}));

    ASSERT_EQ(c.servers.size(), 1u);
    const Server& s = c.servers[0];
    EXPECT_EQ(s.where, (Where{eco(), 36, 1}));
    ASSERT_EQ(s.listen.size(), 1u);
    EXPECT_EQ(s.listen[0].host, "127.0.0.1");
    EXPECT_EQ(s.listen[0].port, 8080);
    EXPECT_EQ(s.listen[0].where, (Where{eco(), 37, 11}));
    EXPECT_EQ(s.server_name, std::vector<std::string>{"example.com"});
    EXPECT_EQ(s.headers, (std::map<std::string, std::string>{{"X-Content-Type-Options", "nosniff"}}));
    EXPECT_EQ(s.client_max_body_size, 50ull << 20);
    EXPECT_EQ(s.keepalive_timeout, 65s);
    EXPECT_TRUE(s.tls.enabled);
    EXPECT_EQ(s.tls.cert, base + "/cert.pem");
    EXPECT_EQ(s.tls.key, base + "/key.pem");
    EXPECT_EQ(s.tls.protocols, (std::vector<std::string>{"TLSv1.2", "TLSv1.3"}));
    EXPECT_TRUE(s.tls.prefer_server_ciphers);
    EXPECT_EQ(s.tls.session_timeout, 5min);
    EXPECT_FALSE(s.tls.session_tickets);
    EXPECT_EQ(s.tls.session_ticket_rotation, 1h);
    EXPECT_TRUE(s.http2);
    EXPECT_FALSE(s.redirect_https);
    EXPECT_TRUE(s.gzip.enabled);
    EXPECT_EQ(s.gzip.level, 6);
    EXPECT_EQ(s.gzip.min_length, 256u);
    EXPECT_EQ(s.gzip.types, (std::vector<std::string>{"text/html", "application/json"}));

    ASSERT_EQ(s.locations.size(), 2u);
    const Location& api = s.locations[0];
    EXPECT_EQ(api.where, (Where{eco(), 47, 1}));
    EXPECT_EQ(api.path, "/api/");
    EXPECT_EQ(api.match, Match::prefix);
    EXPECT_EQ(api.app, "api");
    EXPECT_EQ(api.balance, "least_conn");
    EXPECT_EQ(api.keepalive, 64);
    EXPECT_EQ(api.read_timeout, 60s);
    EXPECT_TRUE(api.websocket);
    EXPECT_TRUE(api.rate_limit.enabled);
    EXPECT_DOUBLE_EQ(api.rate_limit.rate_per_sec, 30.0);
    EXPECT_EQ(api.rate_limit.burst, 50);
    EXPECT_TRUE(api.rate_limit.nodelay);
    EXPECT_EQ(api.rate_limit.key, "remote_addr");
    EXPECT_TRUE(api.cache.enabled);
    EXPECT_EQ(api.cache.valid, (std::map<int, Duration>{{200, 5min}, {404, 1min}}));
    EXPECT_EQ(api.cache.use_stale, (std::vector<std::string>{"error", "timeout", "updating"}));
    EXPECT_TRUE(api.cache.lock);
    EXPECT_EQ(api.cache.max_size, 256ull << 20);
    EXPECT_EQ(api.cache.lock_timeout, 5s);
    EXPECT_TRUE(api.cache.bypass_cookie.empty());

    const Location& files = s.locations[1];
    EXPECT_EQ(files.path, "/static/");
    EXPECT_EQ(files.root, base + "/public");
    EXPECT_EQ(files.expires, 24h * 30);
    EXPECT_EQ(files.cache_control, "public, immutable");
    EXPECT_TRUE(files.app.empty());
    EXPECT_FALSE(files.rate_limit.enabled);
    EXPECT_FALSE(files.cache.enabled);

    ASSERT_EQ(c.upstreams.size(), 1u);
    EXPECT_EQ(c.upstreams[0].name, "remote");
    ASSERT_EQ(c.upstreams[0].servers.size(), 1u);
    const UpstreamServer& remote = c.upstreams[0].servers[0];
    EXPECT_EQ(remote.address, "10.0.0.5:3000");
    EXPECT_EQ(remote.weight, 1);
    EXPECT_EQ(remote.max_fails, 3);
    EXPECT_EQ(remote.fail_timeout, 10s);
}

TEST_F(LoadTest, CacheKeysBeyondTheSpecExample) {
    const std::string text = "[[apps]]\nname = \"a\"\nscript = \"a.js\"\nport = 3000\n"
                             "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\napp = \"a\"\n"
                             "cache = { max_size = \"64M\", bypass_cookie = [\"session\", \"admin\"], lock_timeout = \"2s\" }\n";
    dir_.write("a.js", "");
    auto c = load(text);
    ASSERT_TRUE(c.ok()) << c.error().message;
    const config::Cache& cache = c->servers[0].locations[0].cache;
    EXPECT_TRUE(cache.enabled);
    EXPECT_EQ(cache.max_size, 64ull << 20);
    EXPECT_EQ(cache.bypass_cookie, (std::vector<std::string>{"session", "admin"}));
    EXPECT_EQ(cache.lock_timeout, 2s);
}

TEST_F(LoadTest, KeysAbsentFromTheSpecExampleParseToo) {
    dir_.write("sub/server.js", "");
    std::string text = R"toml(
[[apps]]
name = "web"
script = "sub/server.js"
cwd = "sub"
instances = "max"
port = 4000
reload_port = 24000
env = { WORKERS = 4, DEBUG = true }
log_max_size = "20M"
log_retain = 2
out_file = "web.out"

[[servers]]
listen = ["[::1]:8081", "0.0.0.0:8082"]
client_header_timeout = "10s"
client_body_timeout = "20s"
keepalive_requests = 50
tls = { cert = "@CERT@", key = "key.pem", ciphers = "HIGH" }

[[servers.locations]]
path = "= /exact"
upstream = "backends"
connect_timeout = "2s"
send_timeout = "3s"
queue_timeout = "500ms"
buffering = false
access_log = false
rate_limit = { rate = "5r/m", key = "http_x_api_key", status = 429 }

[[servers.locations]]
path = "/files/"
alias = "/srv/files"
index = "home.html"

[[servers.locations]]
path = "/old"
return = "301 https://example.com/new"

[[servers.locations]]
path = "/gone"
return = 410

[[upstreams]]
name = "backends"
servers = [ { address = "10.0.0.6:80" } ]
)toml";
    const std::string abs_cert = dir_.file("cert.pem");
    text.replace(text.find("@CERT@"), 6, abs_cert);
    auto c = load(text);
    ASSERT_TRUE(c.ok()) << c.error().message;
    const std::string base = dir_.path().string();
    const App& a = c->apps[0];
    EXPECT_EQ(a.script, base + "/sub/server.js");  // the file's folder, not cwd
    EXPECT_EQ(a.cwd, base + "/sub");
    EXPECT_EQ(a.instances, "max");
    EXPECT_EQ(a.reload_port, 24000);
    EXPECT_EQ(a.env, (std::map<std::string, std::string>{{"WORKERS", "4"}, {"DEBUG", "true"}}));
    EXPECT_EQ(a.log_max_size, 20ull << 20);
    EXPECT_EQ(a.log_retain, 2);
    EXPECT_EQ(a.out_file, "web.out");  // relative to $NODEEDGE_HOME, resolved by the supervisor
    EXPECT_FALSE(a.health_check.enabled);

    const Server& s = c->servers[0];
    ASSERT_EQ(s.listen.size(), 2u);
    EXPECT_EQ(s.listen[0].host, "::1");
    EXPECT_EQ(s.listen[0].port, 8081);
    EXPECT_EQ(s.listen[1].str(), "0.0.0.0:8082");
    EXPECT_EQ(s.client_header_timeout, 10s);
    EXPECT_EQ(s.client_body_timeout, 20s);
    EXPECT_EQ(s.keepalive_requests, 50);
    EXPECT_EQ(s.tls.cert, abs_cert);  // absolute stays
    EXPECT_EQ(s.tls.ciphers, "HIGH");
    EXPECT_EQ(s.tls.protocols, (std::vector<std::string>{"TLSv1.2", "TLSv1.3"}));
    EXPECT_FALSE(s.gzip.enabled);

    const Location& exact = s.locations[0];
    EXPECT_EQ(exact.match, Match::exact);
    EXPECT_EQ(exact.path, "/exact");
    EXPECT_EQ(exact.upstream, "backends");
    EXPECT_EQ(exact.balance, "round_robin");
    EXPECT_EQ(exact.connect_timeout, 2s);
    EXPECT_EQ(exact.send_timeout, 3s);
    EXPECT_EQ(exact.queue_timeout, 500ms);
    EXPECT_FALSE(exact.buffering);
    EXPECT_FALSE(exact.access_log);
    EXPECT_DOUBLE_EQ(exact.rate_limit.rate_per_sec, 5.0 / 60.0);
    EXPECT_EQ(exact.rate_limit.key, "http_x_api_key");
    EXPECT_EQ(exact.rate_limit.status, 429);

    EXPECT_EQ(s.locations[1].alias, "/srv/files");
    EXPECT_EQ(s.locations[1].index, "home.html");
    EXPECT_EQ(s.locations[2].return_, "301 https://example.com/new");
    EXPECT_EQ(s.locations[3].return_, "410");
    EXPECT_EQ(c->upstreams[0].servers[0].weight, 1);
    EXPECT_EQ(c->upstreams[0].servers[0].fail_timeout, 10s);
}

TEST_F(LoadTest, DefaultsFillAMinimalApp) {
    auto c = load("[[apps]]\nname = \"a\"\nscript = \"app.js\"\n");
    ASSERT_TRUE(c.ok()) << c.error().message;
    App expected;
    expected.name = "a";
    expected.script = dir_.file("app.js");
    expected.cwd = dir_.path().string();
    expected.where = Where{eco(), 1, 1};
    EXPECT_EQ(c->apps[0], expected);
    EXPECT_EQ(c->proxy, Proxy{});
    EXPECT_EQ(c->metrics, Metrics{});
}

TEST_F(LoadTest, Pm2ProcessKeys) {
    auto c = load(R"toml([[apps]]
name = "web"
script = "app.js"
cwd = "srv"
watch = ["src", "/etc/web.conf", "../shared"]
ignore_watch = ["logs", "./tmp/*.json", "/var/x/**", "~* \\.swp$"]
watch_delay = "250ms"
cron_restart = "0 3 * * MON-FRI"
autorestart = false
increment_var = "WORKER_PORT"
namespace = "shop"

[[apps]]
name = "api"
script = "app.js"
cwd = "srv"
port = 4000
watch = true
cron_restart = "0"
)toml");
    ASSERT_TRUE(c.ok()) << c.error().message;
    const std::string base = dir_.path().string();
    const App& a = c->apps[0];
    // Every relative path in the file hangs from the file's folder, cwd or not.
    EXPECT_EQ(a.watch, (std::vector<std::string>{base + "/src", "/etc/web.conf", dir_.path().parent_path().string() + "/shared"}));
    EXPECT_EQ(a.ignore_watch,
              (std::vector<std::string>{base + "/logs", base + "/tmp/*.json", "/var/x/**", "~* \\.swp$"}));
    EXPECT_EQ(a.watch_delay, 250ms);
    EXPECT_EQ(a.cron_restart, "0 3 * * MON-FRI");
    EXPECT_FALSE(a.autorestart);
    EXPECT_EQ(a.increment_var, "WORKER_PORT");
    EXPECT_EQ(a.namespace_, "shop");
    const App& b = c->apps[1];
    EXPECT_EQ(b.watch, (std::vector<std::string>{base + "/srv"}));  // true: the app's cwd
    EXPECT_EQ(b.cron_restart, "");                                  // "0": PM2's "no cron"
    EXPECT_TRUE(b.autorestart);
    EXPECT_EQ(b.namespace_, "default");
    EXPECT_EQ(b.watch_delay, 1000ms);
}

TEST_F(LoadTest, WatchFalseWatchesNothing) {
    auto c = load("[[apps]]\nname = \"a\"\nscript = \"app.js\"\nwatch = false\n");
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_TRUE(c->apps[0].watch.empty());
}

TEST_F(LoadTest, ErrorPageResolvesAgainstTheFileFolder) {
    auto c = load("[proxy]\nerror_page = \"errors/50x.html\"\naccess_log = \"off\"\n");
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->proxy.error_page, dir_.file("errors/50x.html"));
    EXPECT_EQ(c->proxy.access_log, "off");
}


// Each error points at the offending key or value (or, for missing keys, the table).
const ErrorCase kErrorCases[] = {
    {"toml syntax", "[[apps]]\nname = \n", 2, 8, "Error while parsing"},
    {"duplicate key (toml)", "[proxy]\nuser = \"a\"\nuser = \"b\"\n", 3, 8,
     "cannot redefine existing string 'user'"},
    {"unknown key suggests closest", "[[apps]]\nname = \"a\"\nscirpt = \"app.js\"\n", 3, 1,
     "unknown key 'scirpt' in [[apps]]; did you mean 'script'?"},
    {"unknown key lists allowed", "[proxy]\nzzz = 1\n", 2, 1,
     "unknown key 'zzz' in [proxy] (allowed: workers, user, access_log, access_log_format, error_page, drain_timeout, worker_shutdown_timeout)"},
    {"unknown top-level key", "[proxi]\nworkers = 2\n", 1, 2, "unknown key 'proxi' at the top level; did you mean 'proxy'?"},
    {"unknown key in inline table", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nhealth_check = { paht = \"/h\" }\n",
     4, 18, "unknown key 'paht' in apps.health_check; did you mean 'path'?"},
    {"wrong type string for integer", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = \"3000\"\n", 4, 8,
     "apps.port: expected an integer, got string"},
    {"wrong type integer for string", "[[apps]]\nname = 5\nscript = \"app.js\"\n", 2, 8,
     "apps.name: expected a string, got integer"},
    {"wrong type in array", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nnode_args = [\"--x\", 3]\n", 4, 21,
     "apps.node_args[1]: expected a string, got integer"},
    {"duration as integer", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nkill_timeout = 5\n", 4, 16,
     "expected a duration string such as \"5s\" (units ms, s, m, h, d), got integer"},
    {"bad duration unit", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nkill_timeout = \"5x\"\n", 4, 16,
     "apps.kill_timeout: \"5x\" is not a duration: use a number with a unit ms, s, m, h or d"},
    {"bad size unit", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nmax_memory_restart = \"1T\"\n", 4, 22,
     "apps.max_memory_restart: \"1T\" is not a size: use bytes or a number with a unit K, M or G"},
    {"negative size", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\nclient_max_body_size = -1\n", 3, 24,
     "a size cannot be negative"},
    {"bad rate", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\nroot = \"x\"\n"
     "rate_limit = { rate = \"30/s\" }\n", 6, 23,
     "servers.locations.rate_limit.rate: \"30/s\" is not a rate"},
    {"bad balance", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "upstream = \"u\"\nbalance = \"random\"\n", 6, 11,
     "servers.locations.balance: 'random' is not one of round_robin, least_conn, ip_hash"},
    {"bad access_log_format", "[proxy]\naccess_log_format = \"common\"\n", 2, 21, "is not one of combined, json"},
    {"bad tls protocol", "[[servers]]\nlisten = [\"127.0.0.1:8443\"]\n"
     "tls = { cert = \"cert.pem\", key = \"key.pem\", protocols = [\"TLSv1.3\", \"SSLv3\"] }\n", 3, 69,
     "servers.tls.protocols[1]: 'SSLv3' is not one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"},
    {"tls session_timeout in ms", "[[servers]]\nlisten = [\"127.0.0.1:8443\"]\n"
     "tls = { cert = \"cert.pem\", key = \"key.pem\", session_timeout = \"1500ms\" }\n", 3, 63,
     "servers.tls.session_timeout: expected whole seconds, at least 1s"},
    {"tls ticket rotation zero", "[[servers]]\nlisten = [\"127.0.0.1:8443\"]\n"
     "tls = { cert = \"cert.pem\", key = \"key.pem\", session_ticket_rotation = \"0s\" }\n", 3, 71,
     "servers.tls.session_ticket_rotation: expected whole seconds, at least 1s"},
    {"sticky cookie name", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "upstream = \"u\"\nsticky = { cookie = \"a b\" }\n", 6, 21, "servers.locations.sticky.cookie: 'a b' is not a cookie name"},
    {"sticky path with ;", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "upstream = \"u\"\nsticky = { path = \"/;Domain=x\" }\n", 6, 19, "may not hold spaces, ';' or control characters"},
    {"sticky samesite none without secure", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "upstream = \"u\"\nsticky = { samesite = \"none\" }\n", 6, 23, "\"none\" needs secure = true"},
    {"sticky without a backend", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "root = \"x\"\nsticky = {}\n", 6, 10, "only a location that proxies"},
    {"instances zero", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\ninstances = 0\n", 4, 13,
     "apps.instances: expected an integer > 0, \"max\" or a negative integer"},
    {"instances word", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\ninstances = \"lots\"\n", 4, 13, "got lots"},
    {"instances float", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\ninstances = 1.5\n", 4, 13, "got float"},
    {"proxy workers", "[proxy]\nworkers = \"many\"\n", 2, 11,
     "proxy.workers: expected \"auto\" or an integer > 0, got many"},
    {"port out of range", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = 70000\n", 4, 8,
     "apps.port: must be between 1 and 65535, got 70000"},
    {"unknown key before a missing one", "x = 1\n\n[[apps]]\nscript = \"app.js\"\n", 1, 1, "unknown key 'x'"},
    {"missing required name", "\n[[apps]]\nscript = \"app.js\"\n", 2, 1, "missing required key 'name' in [[apps]]"},
    {"missing required script", "[[apps]]\nname = \"a\"\n", 1, 1, "missing required key 'script' in [[apps]]"},
    {"reserved app name", "[[apps]]\nname = \"all\"\nscript = \"app.js\"\n", 2, 8, "'all' is reserved"},
    {"bad app name", "[[apps]]\nname = \"my app\"\nscript = \"app.js\"\n", 2, 8, "may only contain"},
    {"missing listen", "[[servers]]\nserver_name = [\"a\"]\n", 1, 1, "missing required key 'listen' in [[servers]]"},
    {"listen not host:port", "[[servers]]\nlisten = [\"127.0.0.1:8080\", \"8081\"]\n", 2, 29,
     "servers.listen[1]: '8081' is not host:port"},
    {"listen as string", "[[servers]]\nlisten = \"127.0.0.1:8080\"\n", 2, 10,
     "servers.listen: expected a non-empty array of \"host:port\" strings, got string"},
    {"metrics listen", "[metrics]\nlisten = \"9209\"\n", 2, 10, "metrics.listen: '9209' is not host:port"},
    {"missing location path", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n\n[[servers.locations]]\napp = \"x\"\n",
     4, 1, "missing required key 'path' in [[servers.locations]]"},
    {"location without handler", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n",
     3, 1, "needs one of app, upstream, root, alias, return"},
    {"location with two handlers", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "root = \"a\"\nalias = \"b\"\n", 3, 1, "(found root, alias)"},
    {"location path", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"api\"\nroot = \"a\"\n",
     4, 8, "servers.locations.path: 'api' must be a prefix starting with '/'"},
    {"return without url", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\nreturn = \"301\"\n",
     5, 10, "a 301 redirect needs a URL"},
    {"return garbage", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\nreturn = \"moved\"\n",
     5, 10, "is not \"CODE [text or URL]\""},
    {"return unknown variable", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "return = \"301 https://$hots$request_uri\"\n", 5, 10, "unknown variable $hots (known: $scheme"},
    {"return code out of range", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "return = \"999 x\"\n", 5, 10, "with a code from 200 to 599"},
    {"return 204 with a body", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "return = \"204 nothing\"\n", 5, 10, "a 204 response has no body"},
    {"return with a proxy", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "return = \"404\"\napp = \"a\"\n", 3, 1, "(found app, return)"},
    {"app and upstream", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "app = \"a\"\nupstream = \"u\"\n", 3, 1, "(found app, upstream)"},
    {"proxy header framing", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "app = \"a\"\nproxy_headers = { Content-Length = \"1\" }\n", 6, 36,
     "servers.locations.proxy_headers.Content-Length: Content-Length is set by the proxy itself"},
    {"proxy header name", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "app = \"a\"\nproxy_headers = { \"X Bad\" = \"1\" }\n", 6, 29, "'X Bad' is not a valid header name"},
    {"proxy header variable", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\n"
     "app = \"a\"\nproxy_headers = { X-Host = \"$hostname\" }\n", 6, 28, "unknown variable $hostname"},
    {"cache valid status", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\napp = \"a\"\n"
     "cache = { valid = { \"2xx\" = \"5m\" } }\n", 6, 21, "'2xx' is not an HTTP status code"},
    {"cache on files", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\nroot = \"/srv\"\n"
     "cache = { valid = { \"200\" = \"5m\" } }\n", 6, 9, "only a location that proxies (app or upstream)"},
    {"grpc on files", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\nroot = \"/srv\"\n"
     "grpc = true\n", 6, 8, "servers.locations.grpc: only a location that proxies (app or upstream) speaks gRPC"},
    {"cache max_size", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\napp = \"a\"\n"
     "cache = { max_size = \"lots\" }\n", 6, 22, "max_size"},
    {"rate limit key", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\napp = \"a\"\n"
     "rate_limit = { rate = \"1r/s\", key = \"cookie\" }\n", 6, 37, "'cookie' is not remote_addr or http_<header name>"},
    {"tls without key", "[[servers]]\nlisten = [\"127.0.0.1:8443\"]\ntls = { cert = \"cert.pem\" }\n", 3, 7,
     "missing required key 'key' in servers.tls"},
    {"gzip level", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\ngzip = { level = 10 }\n", 3, 18,
     "servers.gzip.level: must be between 1 and 9, got 10"},
    {"apps as a table", "[apps]\nname = \"a\"\n", 1, 1, "apps: expected an array of tables ([[apps]]), got table"},
    {"health check path", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nhealth_check = { path = \"health\" }\n", 4, 25,
     "apps.health_check.path: 'health' must start with '/'"},
    {"upstream server address", "[[upstreams]]\nname = \"u\"\nservers = [ { address = \"nohost\" } ]\n", 3, 25,
     "upstreams.servers.address: 'nohost' is not host:port"},
    {"upstream without servers", "[[upstreams]]\nname = \"u\"\nservers = []\n", 3, 11,
     "an upstream needs at least one server"},
    {"earliest error wins over key order",
     // toml++ visits keys alphabetically (port before script); the earlier line must be reported.
     "[[apps]]\nname = \"a\"\nscript = 1\nport = \"x\"\n", 3, 10, "apps.script: expected a string"},
    {"watch as a number", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nwatch = 1\n", 4, 9,
     "apps.watch: expected an array of strings, got integer"},
    {"bad ignore_watch regex", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nignore_watch = [\"x\", \"~ (a\"]\n", 4, 22,
     "apps.ignore_watch[1]: '(a' is not a valid regular expression"},
    {"bad cron_restart", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\ncron_restart = \"61 * * * *\"\n", 4, 16,
     "apps.cron_restart: minute 61 is out of range 0-59"},
    {"cron_restart with 4 fields", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\ncron_restart = \"* * * *\"\n", 4, 16,
     "apps.cron_restart: '* * * *' has 4 fields; expected 5"},
    {"cron_restart that never fires", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\ncron_restart = \"0 0 30 2 *\"\n",
     4, 16, "never fires"},
    {"watch_delay as integer", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nwatch_delay = 500\n", 4, 15,
     "apps.watch_delay: expected a duration string"},
    {"autorestart as string", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nautorestart = \"no\"\n", 4, 15,
     "apps.autorestart: expected a boolean"},
    {"bad increment_var", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nincrement_var = \"MY-VAR\"\n", 4, 17,
     "'MY-VAR' is not an environment variable name"},
    {"increment_var PORT", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nincrement_var = \"PORT\"\n", 4, 17,
     "PORT is already set per instance"},
    {"reserved namespace", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nnamespace = \"all\"\n", 4, 13, "'all' is reserved"},
    {"bad namespace", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nnamespace = \"my shop\"\n", 4, 13,
     "apps.namespace: 'my shop' may only contain"},
    {"empty namespace", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nnamespace = \"\"\n", 4, 13,
     "a namespace cannot be empty"},
};

TEST_F(LoadTest, ErrorsPointAtFileLineColumn) {
    for (const auto& c : kErrorCases) {
        SCOPED_TRACE(c.name);
        expect_error(c.toml, c.line, c.column, c.message);
    }
}

// Cross-field checks (validate()) reached through load_string, positions from each item's where.
const ErrorCase kValidateCases[] = {
    {"duplicate app name", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = 3000\n\n"
     "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = 4000\n", 6, 1, "duplicate app name 'a'"},
    {"overlapping app ports", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = 3000\ninstances = 4\n\n"
     "[[apps]]\nname = \"b\"\nscript = \"app.js\"\nport = 3003\n", 7, 1,
     "app 'b' (port 3003) overlaps app 'a' (ports 3000-3003)"},
    {"ports past 65535", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = 65535\ninstances = 2\n", 1, 1,
     "ports 65535-65536 (port + instances - 1) fall outside 1-65535"},
    {"listen clashes with an app port", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = 3000\ninstances = 2\n\n"
     "[[servers]]\nlisten = [\"127.0.0.1:8080\", \"0.0.0.0:3001\"]\n", 8, 29,
     "listen 0.0.0.0:3001 clashes with app 'a' ports 3000-3001"},
    {"unknown app", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n\n[[servers.locations]]\npath = \"/\"\napp = \"nope\"\n",
     4, 1, "location '/' names unknown app 'nope'"},
    {"unknown upstream", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"= /x\"\nupstream = \"u\"\n",
     3, 1, "location '= /x' names unknown upstream 'u'"},
};

TEST_F(LoadTest, CrossFieldErrorsPointAtTheItem) {
    for (const auto& c : kValidateCases) {
        SCOPED_TRACE(c.name);
        expect_error(c.toml, c.line, c.column, c.message);
    }
}

TEST_F(LoadTest, MessagesNameTheOtherHalfOfAConflict) {
    auto c = load("[[apps]]\nname = \"a\"\nscript = \"app.js\"\n[[apps]]\nname = \"a\"\nscript = \"app.js\"\n");
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().message.find("(" + eco() + ":1:1)"), std::string::npos) << c.error().message;
}

TEST_F(LoadTest, ListenOnAnotherInterfaceMayShareAnAppPort) {
    auto c = load("[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = 3000\n"
                  "[[servers]]\nlisten = [\"10.1.2.3:3000\"]\n");
    EXPECT_TRUE(c.ok()) << c.error().message;
}

TEST_F(LoadTest, NamedVirtualHostsMayShareAnAddress) {
    auto c = load("[[servers]]\nlisten = [\"127.0.0.1:8080\"]\nserver_name = [\"a\"]\n"
                  "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\nserver_name = [\"b\"]\n");
    EXPECT_TRUE(c.ok()) << c.error().message;
}

TEST_F(LoadTest, LoadFileReadsFromDiskAndNamesMissingFiles) {
    const std::string path = dir_.write("eco.toml", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\n");
    auto c = load_file(path);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->source, path);
    EXPECT_EQ(c->apps[0].script, dir_.file("app.js"));

    auto missing = load_file(dir_.file("nope.toml"));
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().message, dir_.file("nope.toml") + ": No such file or directory");
}

TEST_F(LoadTest, RelativeFileNameAnchorsAtTheCurrentDirectory) {
    const auto saved = std::filesystem::current_path();
    std::filesystem::current_path(dir_.path());
    auto c = load_string("[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = \"x\"\n", "eco.toml");
    std::filesystem::current_path(saved);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().message.substr(0, 13), "eco.toml:4:8:");
}

class ValidateTest : public LoadTest {
protected:
    Config two_apps(const std::string& instances) {
        Config c;
        App a;
        a.name = "a";
        a.script = dir_.file("app.js");
        a.port = 3000;
        a.instances = instances;
        App b = a;
        b.name = "b";
        b.port = 3002;
        b.instances = "1";
        c.apps = {a, b};
        return c;
    }
};

TEST_F(ValidateTest, MaxAndMinusKResolveWithTheGivenCpus) {
    EXPECT_TRUE(validate(two_apps("max"), 2).ok());
    EXPECT_FALSE(validate(two_apps("max"), 3).ok());
    EXPECT_TRUE(validate(two_apps("-1"), 3).ok());
    EXPECT_FALSE(validate(two_apps("-1"), 4).ok());
    auto bad = validate(two_apps("many"), 4);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message, "app 'a': instances 'many' is not an integer > 0, \"max\" or a negative integer");
}

TEST_F(LoadTest, AnExplicitReloadPortMovesTheReloadRange) {
    auto c = load("[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = 3000\nreload_port = 3500\n\n"
                  "[[apps]]\nname = \"b\"\nscript = \"app.js\"\nport = 13000\n");
    EXPECT_TRUE(c.ok()) << c.error().message;
}

// What the daemon validates after merging a second file into the running config.
class CrossFileTest : public LoadTest {
protected:
    static Server server(const std::string& file, int line, std::vector<std::string> names = {}) {
        Server s;
        s.listen = {ListenAddr{"127.0.0.1", 8080, Where{file, line, 11}}};
        s.server_name = std::move(names);
        s.where = Where{file, line - 1, 1};
        return s;
    }
    static Config with(std::vector<Server> servers) {
        Config c;
        c.servers = std::move(servers);
        return c;
    }
};

TEST_F(CrossFileTest, ASecondDefaultServerOnOneAddressIsRefusedNamingBothFiles) {
    auto st = validate(with({server("/a.toml", 2), server("/b.toml", 5)}), 1);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().message,
              "/b.toml:5:11: listen 127.0.0.1:8080 already has a default server (no server_name) from another "
              "file (/a.toml:2:11)");
}

TEST_F(CrossFileTest, OneServerNameOnOneAddressFromTwoFilesIsRefused) {
    auto st = validate(with({server("/a.toml", 2, {"a.test", "x.test"}), server("/b.toml", 5, {"x.test"})}), 1);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().message,
              "/b.toml:5:11: listen 127.0.0.1:8080: server_name 'x.test' is already served there from another "
              "file (/a.toml:2:11)");
}

TEST_F(CrossFileTest, VirtualHostsAndOneFilesOwnServersStayAccepted) {
    EXPECT_TRUE(validate(with({server("/a.toml", 2), server("/b.toml", 5, {"b.test"})}), 1).ok());
    EXPECT_TRUE(validate(with({server("/a.toml", 2, {"a.test"}), server("/b.toml", 5, {"b.test"})}), 1).ok());
    // Within one file the router's nginx rules decide, as they always did.
    EXPECT_TRUE(validate(with({server("/a.toml", 2), server("/a.toml", 5)}), 1).ok());
    Server elsewhere = server("/b.toml", 5);
    elsewhere.listen[0].port = 8081;
    EXPECT_TRUE(validate(with({server("/a.toml", 2), elsewhere}), 1).ok());
}

TEST_F(CrossFileTest, AppPortsOverlappingAcrossFilesNameBothFiles) {
    App a;
    a.name = "a";
    a.script = dir_.file("app.js");
    a.port = 3000;
    a.instances = "2";
    a.where = Where{"/a.toml", 1, 1};
    App b = a;
    b.name = "b";
    b.port = 3001;
    b.where = Where{"/b.toml", 4, 1};
    Config c;
    c.apps = {a, b};
    auto st = validate(c, 1);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().message,
              "/b.toml:4:1: app 'b' (ports 3001-3002) overlaps app 'a' (ports 3000-3001) (/a.toml:1:1)");
}

TEST(AppPortRange, IsPortToPortPlusInstancesMinusOne) {
    App a;
    a.port = 3000;
    EXPECT_EQ(app_port_range(a, 1).first, 3000);
    EXPECT_EQ(app_port_range(a, 1).last, 3000);
    EXPECT_EQ(app_port_range(a, 4).last, 3003);
}

TEST(AppPortRange, TheReloadRangeStartsAtReloadPortOrPortPlusTenThousand) {
    App a;
    a.port = 3000;
    EXPECT_EQ(app_reload_range(a, 2).first, 13000);
    EXPECT_EQ(app_reload_range(a, 2).last, 13001);
    a.reload_port = 5000;
    EXPECT_EQ(app_reload_range(a, 1).first, 5000);
    EXPECT_EQ(app_reload_range(a, 1).last, 5000);
}

TEST_F(LoadTest, ConfigForScriptDerivesNameAndCwd) {
    auto c = config_for_script(dir_.file("app.js"), "", "2", 5000);
    ASSERT_TRUE(c.ok()) << c.error().message;
    ASSERT_EQ(c->apps.size(), 1u);
    const App& a = c->apps[0];
    EXPECT_EQ(a.name, "app");
    EXPECT_EQ(a.script, dir_.file("app.js"));
    EXPECT_EQ(a.cwd, dir_.path().string());
    EXPECT_EQ(a.instances, "2");
    EXPECT_EQ(a.port, 5000);
    EXPECT_EQ(c->source, "");
    EXPECT_TRUE(c->servers.empty());

    auto named = config_for_script(dir_.file("app.js"), "api", "", 3000);
    ASSERT_TRUE(named.ok()) << named.error().message;
    EXPECT_EQ(named->apps[0].name, "api");
    EXPECT_EQ(named->apps[0].instances, "1");
}

TEST_F(LoadTest, ConfigForScriptRefusesBadInput) {
    auto missing = config_for_script(dir_.file("none.js"), "", "1", 3000);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().message,
              "app 'none': script " + dir_.file("none.js") + ": No such file or directory");

    auto reserved = config_for_script(dir_.file("app.js"), "all", "1", 3000);
    ASSERT_FALSE(reserved.ok());
    EXPECT_NE(reserved.error().message.find("'all' is reserved"), std::string::npos);

    auto instances = config_for_script(dir_.file("app.js"), "", "0", 3000);
    ASSERT_FALSE(instances.ok());
    EXPECT_NE(instances.error().message.find("got 0"), std::string::npos);

    auto port = config_for_script(dir_.file("app.js"), "", "2", 65535);
    ASSERT_FALSE(port.ok());
    EXPECT_NE(port.error().message.find("outside 1-65535"), std::string::npos);
}

TEST_F(LoadTest, FilesBesideAnAppAndProxyHeaders) {
    auto c = load(R"toml(
[[apps]]
name = "web"
script = "app.js"

[[servers]]
listen = ["127.0.0.1:8080"]

[[servers.locations]]
path = "/"
root = "public"
app = "web"
proxy_headers = { Host = "$host", X-Original-URI = "$request_uri", X-Empty = "" }

[[servers.locations]]
path = "/old/"
return = "https://$host$request_uri"
)toml");
    ASSERT_TRUE(c.ok()) << c.error().message;
    const Location& l = c->servers[0].locations[0];
    EXPECT_EQ(l.root, dir_.path().string() + "/public");
    EXPECT_EQ(l.app, "web");
    EXPECT_EQ(l.proxy_headers, (std::map<std::string, std::string>{
                                   {"Host", "$host"}, {"X-Original-URI", "$request_uri"}, {"X-Empty", ""}}));
    EXPECT_EQ(c->servers[0].locations[1].return_, "https://$host$request_uri");
    // The key survives the trip to the proxy.
    auto back = from_json(to_json(*c));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->servers[0].locations[0].proxy_headers, l.proxy_headers);
}

}  // namespace
}  // namespace ne::config
