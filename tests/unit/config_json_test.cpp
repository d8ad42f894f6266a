#include <gtest/gtest.h>

#include "config/json.h"
#include "config/load.h"
#include "unit/config_test_dir.h"
#include "unit/tls_test_cert.h"

namespace ne::config {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Every field differs from its default, so a field that to_json or from_json forgot comes
// back as the default and breaks the equality below.
Config every_field_set() {
    Config c;
    c.source = "/etc/nodeedge/ecosystem.toml";
    c.proxy = Proxy{"3", "www-data", "/var/log/access.log", "json", "/srv/50x.html"};
    c.metrics.listen = "127.0.0.1:9300";

    App a;
    a.name = "api";
    a.script = "/srv/api/server.js";
    a.cwd = "/srv/api";
    a.interpreter = "none";
    a.node_args = {"--max-old-space-size=512"};
    a.args = {"--verbose", "x"};
    a.instances = "max";
    a.port = 4100;
    a.reload_port = 14100;
    a.env = {{"NODE_ENV", "production"}, {"A", "b"}};
    a.max_memory_restart = 3ull << 30;  // past 32 bits on purpose
    a.kill_timeout = 7s;
    a.listen_timeout = 9s;
    a.wait_ready = true;
    a.min_uptime = 2s;
    a.max_restarts = 4;
    a.restart_delay = 250ms;
    a.exp_backoff_restart_delay = 150ms;
    a.merge_logs = false;
    a.out_file = "api.out";
    a.error_file = "api.err";
    a.log_date_format = "%H:%M";
    a.log_max_size = 123456;
    a.log_retain = 9;
    a.health_check = HealthCheck{true, "/ping", 3s, 1s, 5};
    a.where = Where{"/etc/nodeedge/ecosystem.toml", 12, 1};
    c.apps.push_back(a);

    Location l;
    l.path = "/x";
    l.match = Match::exact;
    l.app = "api";
    l.upstream = "remote";
    l.balance = "ip_hash";
    l.keepalive = 8;
    l.connect_timeout = 1s;
    l.read_timeout = 2s;
    l.send_timeout = 3s;
    l.queue_timeout = 4s;
    l.websocket = false;
    l.buffering = false;
    l.rate_limit = RateLimit{true, 5.0 / 60.0, 7, true, "http_x_key", 429};
    l.cache = Cache{true, {{200, 5min}, {404, 1min}}, {"error", "updating"}, true};
    l.root = "/srv/www";
    l.alias = "/srv/alias";
    l.index = "home.html";
    l.expires = 24h;
    l.cache_control = "no-store";
    l.access_log = false;
    l.return_ = "301 https://example.com/";
    l.where = Where{"/etc/nodeedge/ecosystem.toml", 40, 1};

    Server s;
    s.listen = {ListenAddr{"::1", 8443, Where{"/etc/nodeedge/ecosystem.toml", 31, 11}},
                ListenAddr{"0.0.0.0", 8444, Where{}}};
    s.server_name = {"example.com", "www.example.com"};
    s.headers = {{"X-Frame-Options", "DENY"}};
    s.client_max_body_size = 50ull << 20;
    s.keepalive_timeout = 30s;
    s.keepalive_requests = 10;
    s.client_header_timeout = 5s;
    s.client_body_timeout = 6s;
    s.tls = Tls{true, "/srv/cert.pem", "/srv/key.pem", {"TLSv1.3"}, "HIGH:!aNULL"};
    s.http2 = true;
    s.redirect_https = true;
    s.gzip = Gzip{true, 9, 1024, {"application/json"}};
    s.locations = {l};
    s.where = Where{"/etc/nodeedge/ecosystem.toml", 30, 1};
    c.servers.push_back(s);

    Upstream u;
    u.name = "remote";
    u.servers = {UpstreamServer{"10.0.0.5:3000", 3, 2, 20s}, UpstreamServer{"10.0.0.6:3000", 1, 0, 1s}};
    u.where = Where{"/etc/nodeedge/ecosystem.toml", 50, 1};
    c.upstreams.push_back(u);
    return c;
}

TEST(ConfigJson, RoundTripsEveryField) {
    const Config original = every_field_set();
    auto back = from_json(to_json(original));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_TRUE(*back == original) << to_json(*back).dump(2) << "\nvs\n" << to_json(original).dump(2);
}

TEST(ConfigJson, RoundTripsThroughText) {
    // The ProxyConfig message and state.db carry the JSON as text.
    const Config original = every_field_set();
    auto back = from_json(json::parse(to_json(original).dump()));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_TRUE(*back == original);
}

TEST(ConfigJson, RoundTripsTheLoadedSpecShapedFile) {
    testing::TestDir dir;
    dir.write("app.js", "");
    ASSERT_TRUE(ne::tls_testing::write_test_cert(dir.file("cert.pem"), dir.file("key.pem")));
    auto loaded = load_string(R"toml(
[[apps]]
name = "api"
script = "app.js"
instances = "-1"
health_check = { path = "/health" }

[[servers]]
listen = ["127.0.0.1:8443"]
tls = { cert = "cert.pem", key = "key.pem" }
[[servers.locations]]
path = "/"
app = "api"
cache = { valid = { "200" = "5m" } }
)toml",
                              dir.file("ecosystem.toml"));
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    auto back = from_json(to_json(*loaded));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_TRUE(*back == *loaded);
}

TEST(ConfigJson, DurationsAreMillisecondsAndSizesBytes) {
    const json j = to_json(every_field_set());
    EXPECT_EQ(j["apps"][0]["kill_timeout"], 7000);
    EXPECT_EQ(j["apps"][0]["max_memory_restart"], 3ull << 30);
    EXPECT_EQ(j["apps"][0]["instances"], "max");
    EXPECT_EQ(j["servers"][0]["client_max_body_size"], 50ull << 20);
    EXPECT_EQ(j["servers"][0]["locations"][0]["cache"]["valid"]["404"], 60000);
    EXPECT_EQ(j["servers"][0]["locations"][0]["return"], "301 https://example.com/");
    EXPECT_EQ(j["servers"][0]["listen"][0]["host"], "::1");
    EXPECT_EQ(j["apps"][0]["where"]["line"], 12);
}

TEST(ConfigJson, MissingFieldsTakeDefaultsAndUnknownOnesAreIgnored) {
    auto empty = from_json(json::object());
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(*empty == Config{});

    auto partial = from_json(json::parse(R"({"apps": [{"name": "a", "port": 5000, "future": 1}],
                                             "servers": [{"locations": [{"path": "/"}]}],
                                             "unknown": true})"));
    ASSERT_TRUE(partial.ok()) << partial.error().message;
    App expected_app;
    expected_app.name = "a";
    expected_app.port = 5000;
    ASSERT_EQ(partial->apps.size(), 1u);
    EXPECT_TRUE(partial->apps[0] == expected_app);
    Location expected_location;
    expected_location.path = "/";
    ASSERT_EQ(partial->servers.size(), 1u);
    ASSERT_EQ(partial->servers[0].locations.size(), 1u);
    EXPECT_TRUE(partial->servers[0].locations[0] == expected_location);
    EXPECT_EQ(partial->servers[0].tls.protocols, Tls{}.protocols);
}

struct BadJson { const char* json; const char* message; };

TEST(ConfigJson, WrongTypesAreErrorsNamingThePath) {
    const BadJson cases[] = {
        {R"([])", "config JSON: expected an object, got array"},
        {R"({"apps": {}})", "config JSON: apps: expected an array, got object"},
        {R"({"apps": [{"port": "3000"}]})", "config JSON: apps[0].port: expected an integer in range, got string"},
        {R"({"apps": [{"port": 1e3}]})", "config JSON: apps[0].port: expected an integer in range, got number"},
        {R"({"apps": [{"port": 4294967296}]})", "config JSON: apps[0].port: expected an integer in range, got number"},
        {R"({"apps": [{"max_memory_restart": -1}]})",
         "config JSON: apps[0].max_memory_restart: expected a non-negative integer, got number"},
        {R"({"apps": [{"kill_timeout": "5s"}]})", "config JSON: apps[0].kill_timeout: expected an integer in range, got string"},
        {R"({"apps": [{"env": {"A": 1}}]})", "config JSON: apps[0].env.A: expected a string, got number"},
        {R"({"apps": [{"wait_ready": 1}]})", "config JSON: apps[0].wait_ready: expected a boolean, got number"},
        {R"({"proxy": "x"})", "config JSON: proxy: expected an object, got string"},
        {R"({"servers": [{"listen": [{"port": true}]}]})",
         "config JSON: servers[0].listen[0].port: expected an integer in range, got boolean"},
        {R"({"servers": [{"locations": [{"cache": {"valid": {"2xx": 1}}}]}]})",
         "config JSON: servers[0].locations[0].cache.valid: key '2xx' is not an integer"},
        {R"({"servers": [{"locations": [{"rate_limit": {"rate_per_sec": "1"}}]}]})",
         "config JSON: servers[0].locations[0].rate_limit.rate_per_sec: expected a number, got string"},
    };
    for (const auto& c : cases) {
        auto r = from_json(json::parse(c.json));
        ASSERT_FALSE(r.ok()) << c.json;
        EXPECT_EQ(r.error().message, c.message) << c.json;
    }
}

}  // namespace
}  // namespace ne::config
