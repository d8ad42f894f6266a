// plan_request() as a table: raw request bytes through the real parser, a snapshot built from
// an ecosystem.toml the way the master sends it, and the connection's facts; each row says
// what the request gets.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/json.h"
#include "config/load.h"
#include "config_test_dir.h"
#include "proxy/conn/request_plan.h"
#include "tls_test_cert.h"

namespace ne::proxy {
namespace {

using Action = RequestPlan::Action;

constexpr const char* kPlanConfig = R"([[apps]]
name = "app"
script = "app.js"
port = 3000

[[servers]]
listen = ["127.0.0.1:8080"]
server_name = ["a.test"]
client_max_body_size = "1k"
keepalive_requests = 10

[[servers.locations]]
path = "/"
app = "app"

[[servers.locations]]
path = "/files/"
root = "site"

[[servers.locations]]
path = "/mixed/"
root = "site"
app = "app"

[[servers.locations]]
path = "/nows/"
app = "app"
websocket = false

[[servers.locations]]
path = "= /old"
return = "301 https://$host$request_uri"

[[servers.locations]]
path = "= /hello"
return = "200 hello $host from $remote_addr"

[[servers.locations]]
path = "= /gone"
return = "410"

[[servers.locations]]
path = "/limited/"
app = "app"
rate_limit = { rate = "1r/s", burst = 5, key = "http_x_api_key", status = 429 }

[[servers.locations]]
path = "/cached/"
app = "app"
cache = { valid = { "200" = "1m" } }

[[servers.locations]]
path = "/upload/"
app = "app"
client_max_body_size = "10m"

[[servers.locations]]
path = "^~ /assets/"
root = "site"

[[servers.locations]]
path = '~* \.(js|css)$'
root = "site"
expires = "7d"

[[servers.locations]]
path = "/spa/"
root = "site"
try_files = ["$uri", "$uri/", "/spa/index.html"]

[[servers.locations]]
path = "/strict/"
root = "site"
try_files = ["$uri", "=404"]

[[servers.locations]]
path = "/appfallback/"
root = "site"
try_files = ["$uri", "@app"]

[[servers.locations]]
path = "@app"
app = "app"

[[servers.locations]]
path = "@self"
root = "site"
try_files = ["$uri", "@self"]

[[servers.locations]]
path = "/selfloop/"
root = "site"
try_files = ["$uri", "@self"]

[[servers.locations]]
path = "/loop/"
root = "site"
try_files = ["$uri", "/loop/again"]

[[servers.locations]]
path = '~ ^/users/(\d+)/(?<tab>\w+)$'
return = "200 user $1 tab $tab"

[[servers.locations]]
path = '~ ^/img/(.+)$'
alias = "site/images/$1"

[[servers.locations]]
path = '~ ^/cap/(\w+)$'
root = "site"
try_files = ["/spa/$1.txt", "=410"]

[[servers]]
listen = ["127.0.0.1:8080"]
server_name = ["b.test"]
redirect_https = true

[[servers.locations]]
path = "/"
app = "app"

[[servers]]
listen = ["127.0.0.1:8443"]
server_name = ["b.test"]
tls = { cert = "b.pem", key = "b.key" }

[[servers.locations]]
path = "/"
app = "app"

[[servers]]
listen = ["127.0.0.1:8080"]
server_name = ["c.test"]
redirect_https = true

[[servers.locations]]
path = "/api/"
app = "app"
)";

// The zone as a row scripts it; remembers the key it was asked about.
class ScriptedContext final : public PlanContext {
public:
    std::optional<Decision> decision;
    std::string asked;
    int asked_count = 0;

    std::optional<Decision> rate(const RateRule&, std::string_view key) override {
        asked = key;
        ++asked_count;
        return decision;
    }
    std::time_t now() override { return 1'700'000'000; }
    // One ACME http-01 challenge in progress.
    std::string_view acme_http01(std::string_view token) override { return token == "tok" ? "tok.thumb" : ""; }
};

struct Row {
    const char* what;
    std::string_view request;
    Action action;
    int status = 0;                  // respond/ret: the answer; static_file: the file plan's
    std::string_view header = "";    // headers() as "Name: value", "" for none
    bool keep_alive = true;
    int server = 0;
    std::string_view text = "";      // ret: the expanded text
    // the connection and the zone
    std::string_view scheme = "http";
    int served = 0;
    bool quitting = false;
    std::optional<Decision> zone = std::nullopt;
    // more of the plan
    uint64_t delay_ms = 0;
    bool expect_continue = false;
    bool head_request = false;
    bool cache = false;
    bool no_config = false;          // before the first config arrived
    std::string_view location = "";  // the location that answers, as written ("" = not checked)
    int redirects = 0;               // try_files internal redirects taken
};

Decision rejected(uint32_t retry_after_s) {
    Decision d;
    d.reject = true;
    d.retry_after_s = retry_after_s;
    return d;
}

Decision delayed(uint64_t ms) {
    Decision d;
    d.delay_ms = ms;
    return d;
}

class RequestPlanTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_.write("app.js", "");
        dir_.write("site/files/a.txt", "file a\n");
        dir_.write("site/mixed/m.txt", "file m\n");
        dir_.write("site/files/site.css", "body {}\n");
        dir_.write("site/assets/app.js", "js\n");
        dir_.write("site/spa/index.html", "spa\n");
        dir_.write("site/spa/real.txt", "real\n");
        dir_.write("site/spa/sub/index.html", "sub\n");
        dir_.write("site/appfallback/f.txt", "f\n");
        dir_.write("site/images/logo.png", "png\n");
        ASSERT_TRUE(tls_testing::write_test_cert(dir_.file("b.pem"), dir_.file("b.key"), "b.test"));
        auto cfg = config::load_string(kPlanConfig, dir_.file("ecosystem.toml"));
        ASSERT_TRUE(cfg.ok()) << cfg.error().message;
        // A `return` that does not parse cannot come from a file (load rejects it), only from a
        // payload the proxy reads again: the snapshot logs it and the location answers 500.
        config::Location broken;
        broken.match = config::Match::exact;
        broken.path = "/broken";
        broken.return_ = "not a return";
        cfg->servers[0].locations.push_back(broken);
        auto files = config::read_tls_files(*cfg);
        EXPECT_TRUE(files.ok()) << files.error().message;
        auto snap = build_snapshot(config::to_json(*cfg), files.ok() ? *files : config::TlsFiles{}, pools_, nullptr);
        ASSERT_TRUE(snap.ok()) << snap.error().message;
        snap_ = *snap;
    }

    // Plans `request` as a row's connection would; the row's expectations are checked by the caller.
    void plan(const Row& row, RequestPlan& out) {
        parser_.begin();
        ASSERT_EQ(parser_.parse_head(row.request), MessageParser::Progress::head_complete) << row.what;
        context_.decision = row.zone;
        RequestFacts facts;
        facts.head = &parser_;
        facts.listen = "127.0.0.1:8080";
        facts.scheme = row.scheme;
        facts.remote_addr = "192.0.2.7";
        facts.request_id = "rid-1";
        facts.served = row.served;
        facts.quitting = row.quitting;
        plan_request(facts, row.no_config ? nullptr : snap_.get(), context_, out);
    }

    config::testing::TestDir dir_;
    PoolSet pools_;
    std::shared_ptr<const Snapshot> snap_;
    MessageParser parser_{MessageParser::Type::request, {8192, 16384, 100}};
    ScriptedContext context_;
};

std::string header_text(const RequestPlan& p) {
    std::string out;
    for (const Header& h : p.headers()) out.append(h.name).append(": ").append(h.value);
    return out;
}

TEST_F(RequestPlanTest, Table) {
    const std::vector<Row> rows = {
        {.what = "no config yet", .request = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::respond,
         .status = 503, .server = -1, .no_config = true},
        {.what = "CONNECT is refused and closes", .request = "CONNECT a.test:443 HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::respond, .status = 405, .keep_alive = false},
        {.what = "redirect_https on http keeps the TLS server's port",
         .request = "GET /x?y=1 HTTP/1.1\r\nHost: b.test\r\n\r\n", .action = Action::respond, .status = 301,
         .header = "Location: https://b.test:8443/x?y=1", .server = 1},
        {.what = "redirect_https without a TLS server goes to 443, no port",
         .request = "GET /api/ HTTP/1.1\r\nHost: C.test:8080\r\n\r\n", .action = Action::respond, .status = 301,
         .header = "Location: https://c.test/api/", .server = 3},
        {.what = "ACME http-01 is answered before redirect_https",
         .request = "GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: b.test\r\n\r\n", .action = Action::ret,
         .status = 200, .server = 1, .text = "tok.thumb"},
        {.what = "an unknown ACME token is redirected like any path",
         .request = "GET /.well-known/acme-challenge/other HTTP/1.1\r\nHost: b.test\r\n\r\n", .action = Action::respond,
         .status = 301, .header = "Location: https://b.test:8443/.well-known/acme-challenge/other", .server = 1},
        {.what = "ACME http-01 is not answered over TLS",
         .request = "GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: c.test\r\n\r\n", .action = Action::respond,
         .status = 404, .server = 3, .scheme = "https"},
        {.what = "redirect_https does not apply behind TLS", .request = "GET /api/ HTTP/1.1\r\nHost: c.test\r\n\r\n",
         .action = Action::proxy, .server = 3, .scheme = "https"},
        {.what = "an announced body over client_max_body_size",
         .request = "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 2048\r\n\r\n", .action = Action::respond,
         .status = 413, .keep_alive = false},
        {.what = "a body at the limit is proxied",
         .request = "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1024\r\n\r\n", .action = Action::proxy},
        {.what = "no location matches (c.test has only /api/)",
         .request = "GET /other HTTP/1.1\r\nHost: c.test\r\n\r\n", .action = Action::respond, .status = 404,
         .server = 3, .scheme = "https"},
        {.what = "rate limited: the location's status and Retry-After",
         .request = "GET /limited/ HTTP/1.1\r\nHost: a.test\r\nX-Api-Key: k1\r\n\r\n", .action = Action::respond,
         .status = 429, .header = "Retry-After: 7", .zone = rejected(7)},
        {.what = "rate limit passes with a delay",
         .request = "GET /limited/ HTTP/1.1\r\nHost: a.test\r\nX-Api-Key: k1\r\n\r\n", .action = Action::proxy,
         .zone = delayed(250), .delay_ms = 250},
        {.what = "an empty rate key is not limited", .request = "GET /limited/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::proxy, .zone = rejected(7)},
        {.what = "return with a redirect expands $host and $request_uri",
         .request = "GET /old?q=2 HTTP/1.1\r\nHost: A.Test\r\n\r\n", .action = Action::ret, .status = 301,
         .header = "Location: https://a.test/old?q=2", .text = "https://a.test/old?q=2"},
        {.what = "return with a text", .request = "GET /hello HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::ret, .status = 200, .text = "hello a.test from 192.0.2.7"},
        {.what = "return with a code alone", .request = "GET /gone HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::ret, .status = 410},
        {.what = "a static file that exists", .request = "GET /files/a.txt HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::static_file, .status = 200},
        {.what = "a static file that is missing, no app", .request = "GET /files/no.txt HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::static_file, .status = 404},
        {.what = "a file beside an app that exists", .request = "GET /mixed/m.txt HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::static_file, .status = 200},
        {.what = "a file beside an app that is missing is the app's",
         .request = "GET /mixed/no.txt HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::proxy},
        {.what = "POST beside an app is the app's",
         .request = "POST /mixed/m.txt HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\n\r\n", .action = Action::proxy},
        {.what = "POST to files alone: the file planner's 405",
         .request = "POST /files/a.txt HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\n\r\n",
         .action = Action::static_file, .status = 405},
        {.what = "HEAD of a file", .request = "HEAD /files/a.txt HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::static_file, .status = 200, .head_request = true},
        {.what = "HEAD proxied", .request = "HEAD / HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::proxy,
         .head_request = true},
        {.what = "plain GET proxied", .request = "GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::proxy},
        {.what = "websocket upgrade on a websocket location",
         .request = "GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
         .action = Action::tunnel},
        {.what = "upgrade on a location without websocket is plainly proxied",
         .request = "GET /nows/ HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
         .action = Action::proxy},
        {.what = "expect 100-continue with a body",
         .request = "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
         .action = Action::proxy, .expect_continue = true},
        {.what = "expect 100-continue from HTTP/1.0 is not answered",
         .request = "POST / HTTP/1.0\r\nHost: a.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
         .action = Action::proxy, .keep_alive = false},
        {.what = "keepalive_requests reached", .request = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::proxy, .keep_alive = false, .served = 9},
        {.what = "one before keepalive_requests", .request = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::proxy, .served = 8},
        {.what = "quitting", .request = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::proxy,
         .keep_alive = false, .quitting = true},
        {.what = "Connection: close", .request = "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
         .action = Action::proxy, .keep_alive = false},
        {.what = "the Host header picks the virtual host", .request = "GET / HTTP/1.1\r\nHost: b.test\r\n\r\n",
         .action = Action::proxy, .server = 1, .scheme = "https"},
        {.what = "an absolute-form authority beats the Host header",
         .request = "GET http://b.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::respond, .status = 301,
         .header = "Location: https://b.test:8443/x", .server = 1},
        {.what = "an unknown host gets the first server", .request = "GET /files/a.txt HTTP/1.1\r\nHost: z.test\r\n\r\n",
         .action = Action::static_file, .status = 200},
        {.what = "a `return` that did not parse", .request = "GET /broken HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::respond, .status = 500},
        {.what = "a caching location", .request = "GET /cached/x HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::proxy, .cache = true},
        // client_max_body_size per location, checked after routing.
        {.what = "an upload location's own limit (10m) under a 1k server",
         .request = "POST /upload/f HTTP/1.1\r\nHost: a.test\r\nContent-Length: 102400\r\n\r\n",
         .action = Action::proxy, .location = "/upload/"},
        {.what = "an upload location's limit with Expect: 100-continue",
         .request = "POST /upload/f HTTP/1.1\r\nHost: a.test\r\nContent-Length: 102400\r\nExpect: 100-continue\r\n\r\n",
         .action = Action::proxy, .expect_continue = true, .location = "/upload/"},
        {.what = "over the upload location's own limit",
         .request = "POST /upload/f HTTP/1.1\r\nHost: a.test\r\nContent-Length: 10485761\r\n\r\n",
         .action = Action::respond, .status = 413, .keep_alive = false},
        // nginx's order.
        {.what = "a regex beats a plain prefix", .request = "GET /files/site.css HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::static_file, .status = 200, .location = "~* \\.(js|css)$"},
        {.what = "a case-insensitive regex", .request = "GET /files/SITE.CSS HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::static_file, .status = 404, .location = "~* \\.(js|css)$"},
        {.what = "^~ stops the regex search", .request = "GET /assets/app.js HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::static_file, .status = 200, .location = "^~ /assets/"},
        {.what = "the decoded path is matched", .request = "GET /assets/../files/site%2ecss HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::static_file, .status = 200, .location = "~* \\.(js|css)$"},
        {.what = "a named location is no request path", .request = "GET /@app HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::proxy, .location = "/"},
        // try_files.
        {.what = "try_files: a file that exists", .request = "GET /spa/real.txt HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::static_file, .status = 200, .location = "/spa/"},
        {.what = "try_files: $uri/ serves a directory's index", .request = "GET /spa/sub/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::static_file, .status = 200, .location = "/spa/"},
        {.what = "try_files: a route redirects to /spa/index.html",
         .request = "GET /spa/some/route?x=1 HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::static_file,
         .status = 200, .location = "/spa/", .redirects = 1},
        {.what = "try_files: =404", .request = "GET /strict/nothing HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::respond, .status = 404, .location = "/strict/"},
        {.what = "try_files: the file before the named fallback",
         .request = "GET /appfallback/f.txt HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::static_file,
         .status = 200, .location = "/appfallback/"},
        {.what = "try_files: the named fallback proxies",
         .request = "GET /appfallback/nothing HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::proxy,
         .location = "@app", .redirects = 1},
        {.what = "try_files: POST goes to the fallback",
         .request = "POST /appfallback/f.txt HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\n\r\n",
         .action = Action::proxy, .location = "@app", .redirects = 1},
        {.what = "try_files: a redirect loop ends in 500", .request = "GET /loop/x HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::respond, .status = 500, .location = "/loop/", .redirects = 11},
        {.what = "try_files: a named location falling back to itself ends in 500",
         .request = "GET /selfloop/x HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::respond, .status = 500,
         .location = "@self", .redirects = 11},
        {.what = "try_files with a capture", .request = "GET /cap/real HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::static_file, .status = 200, .location = "~ ^/cap/(\\w+)$"},
        {.what = "try_files with a capture, none found", .request = "GET /cap/none HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::respond, .status = 410, .location = "~ ^/cap/(\\w+)$"},
        // Captures.
        {.what = "numbered and named captures in return", .request = "GET /users/42/posts HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::ret, .status = 200, .text = "user 42 tab posts"},
        {.what = "a capture in alias", .request = "GET /img/logo.png HTTP/1.1\r\nHost: a.test\r\n\r\n",
         .action = Action::static_file, .status = 200, .location = "~ ^/img/(.+)$"},
        {.what = "a capture in alias cannot climb out of it",
         .request = "GET /img/a/../../../site/spa/real.txt HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::static_file,
         .status = 404, .location = "~ ^/img/(.+)$"},
    };
    for (const Row& row : rows) {
        SCOPED_TRACE(row.what);
        RequestPlan p;
        plan(row, p);
        EXPECT_EQ(p.action, row.action);
        const int status = p.action == Action::static_file ? (p.files ? p.files->status : -1) : p.status;
        EXPECT_EQ(status, row.status);
        EXPECT_EQ(header_text(p), row.header);
        EXPECT_EQ(p.keep_alive, row.keep_alive);
        EXPECT_EQ(p.server, row.server);
        if (p.action == Action::ret) EXPECT_EQ(p.text, row.text);
        EXPECT_EQ(p.delay_ms, row.delay_ms);
        EXPECT_EQ(p.expect_continue, row.expect_continue);
        EXPECT_EQ(p.head_request, row.head_request);
        EXPECT_EQ(p.cache, row.cache);
        if (!row.location.empty()) {
            ASSERT_NE(p.location, nullptr);
            EXPECT_EQ(config::spelling(*p.location), row.location);
        }
        EXPECT_EQ(p.redirects, row.redirects);
    }
}

TEST_F(RequestPlanTest, TheRateKeyAndWhatTheLogSays) {
    RequestPlan p;
    const std::string_view req = "GET /limited/ HTTP/1.1\r\nHost: a.test\r\nX-Api-Key: k9\r\n\r\n";
    plan({.what = "passed", .request = req, .action = Action::proxy, .zone = Decision{}}, p);
    EXPECT_EQ(context_.asked, "k9");
    EXPECT_EQ(p.rate, RequestRecord::RateLimit::passed);
    plan({.what = "delayed", .request = req, .action = Action::proxy, .zone = delayed(5)}, p);
    EXPECT_EQ(p.rate, RequestRecord::RateLimit::delayed);
    plan({.what = "rejected", .request = req, .action = Action::respond, .zone = rejected(1)}, p);
    EXPECT_EQ(p.rate, RequestRecord::RateLimit::rejected);
    // The zone could not count it: it passes and the log says nothing of a limit.
    plan({.what = "uncounted", .request = req, .action = Action::proxy}, p);
    EXPECT_EQ(p.action, Action::proxy);
    EXPECT_EQ(p.rate, RequestRecord::RateLimit::none);
    // Unlimited locations never ask the zone.
    const int asked = context_.asked_count;
    plan({.what = "unlimited", .request = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::proxy}, p);
    EXPECT_EQ(context_.asked_count, asked);
}

TEST_F(RequestPlanTest, APlanIsReusedWithoutLeftovers) {
    RequestPlan p;
    plan({.what = "file", .request = "GET /files/a.txt HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::static_file}, p);
    ASSERT_TRUE(p.files.has_value());
    plan({.what = "return", .request = "GET /old HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::ret}, p);
    EXPECT_FALSE(p.files.has_value());
    EXPECT_EQ(p.text, "https://a.test/old");
    plan({.what = "proxy", .request = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", .action = Action::proxy}, p);
    EXPECT_TRUE(p.text.empty());
    EXPECT_TRUE(p.headers().empty());
}

}  // namespace
}  // namespace ne::proxy
