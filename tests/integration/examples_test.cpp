// The apps of ecosystem-examples/ run through nodeedge exactly as shipped (their own
// ecosystem.toml, only the ports swapped for free ones) and used by real clients: curl for the
// Express API, the Next.js server and its static assets, socket.io-client over WebSocket and
// over long-polling. `.ci/setup.sh` installs their npm packages and runs `next build`. The
// containers' entrypoint runs too, as PID 1 of a new PID namespace (what `docker run` gives it).
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "integration/foreground_daemon.h"
#include "integration/harness.h"

namespace ne::itest {
namespace {

namespace fs = std::filesystem;

const std::string kExamples = std::string(NODEEDGE_SOURCE_DIR) + "/ecosystem-examples";

// The JSON object in `text`, or an empty object (so value() lookups fail the test, not throw).
json object_in(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    return j.is_object() ? j : json::object();
}

class ExamplesTest : public IntegrationTest {
protected:
    // Stages the example with its app port range and its listen address replaced by free
    // ones (the proxy's in `port`); returns its ecosystem.toml.
    std::string stage_on_free_ports(const std::string& name, int instances, int app_port, const std::string& listen) {
        const int base = free_port_range(instances);
        port = free_port();
        return stage_example(name, {{"port = " + std::to_string(app_port), "port = " + std::to_string(base)},
                                    {listen, "127.0.0.1:" + std::to_string(port)}});
    }

    // Stages and starts the example, and checks that `instances` workers of `app` are online.
    void start_example(const std::string& name, const std::string& app, int instances, int app_port,
                       const std::string& listen) {
        RunResult r = run("start", stage_on_free_ports(name, instances, app_port, listen));
        ASSERT_EQ(r.code, 0) << r.out << r.err;
        auto workers = workers_of(app);
        ASSERT_EQ(workers.size(), static_cast<size_t>(instances)) << status_json().dump(2);
        for (const auto& w : workers) {
            EXPECT_EQ(w.value("status", ""), "online") << w.dump();
            app_pids.insert(w.value("pid", 0));
        }
    }

    HttpResponse request(const std::string& method, const std::string& target, const Headers& headers = {},
                         const std::string& body = {}) {
        HttpConnection conn(port);
        Headers with_close = headers;
        with_close.emplace_back("Connection", "close");
        auto r = conn.request(method, target, with_close, body);
        EXPECT_TRUE(r) << method << " " << target << ": " << r.error().message;
        return r ? *r : HttpResponse{};
    }
    HttpResponse get(const std::string& target, const Headers& headers = {}) {
        return request("GET", target, headers);
    }

    // curl from another loopback source address (127.0.N.1): the client address the proxy
    // sees, forwards, hashes and rate-limits by.
    std::string curl_from(const std::string& source, const std::string& args) {
        return curl("--interface " + source + " " + args);
    }
    std::string url(const std::string& target) const {
        return "'http://127.0.0.1:" + std::to_string(port) + target + "'";
    }

    int port = 0;
    std::set<int> app_pids;
};

// ---- express-api -------------------------------------------------------------------------

TEST_F(ExamplesTest, ExpressApiServesItsRoutesHeadersStaticFilesAndRateLimitsAuth) {
    start_example("express-api", "api", 2, 3100, "127.0.0.1:8081");

    HttpResponse health = get("/health");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(object_in(health.body).value("status", ""), "ok") << health.body;

    // trust proxy: Express reports the client's address from X-Forwarded-For, not the
    // proxy's 127.0.0.1; the request id the proxy generated reaches the app.
    json ip = object_in(curl_from("127.0.7.1", "-H 'X-Request-ID: ex-ip-1' " + url("/ip")));
    EXPECT_EQ(ip.value("ip", ""), "127.0.7.1") << ip.dump();
    EXPECT_EQ(ip.value("forwarded", ""), "127.0.7.1") << ip.dump();
    EXPECT_EQ(ip.value("request_id", ""), "ex-ip-1") << ip.dump();

    // /api/ through least_conn: both instances answer, security headers on every response.
    std::set<std::string> instances;
    for (int i = 0; i < 6; ++i) {
        HttpResponse products = get("/api/products");
        ASSERT_EQ(products.status, 200) << products.body;
        json body = object_in(products.body);
        EXPECT_EQ(body["products"].size(), 3u) << products.body;
        instances.insert(body.value("instance", ""));
        EXPECT_EQ(products.header("x-frame-options"), "DENY");
        EXPECT_EQ(products.header("x-content-type-options"), "nosniff");
        EXPECT_EQ(products.header("referrer-policy"), "strict-origin-when-cross-origin");
    }
    EXPECT_EQ(instances, (std::set<std::string>{"0", "1"}));
    EXPECT_EQ(get("/api/products/2").body, R"({"id":2,"name":"Mouse","price":19})");
    EXPECT_EQ(get("/api/products/9").status, 404);

    // Static files from public/, never from Express.
    HttpResponse css = get("/static/app.css");
    EXPECT_EQ(css.status, 200);
    EXPECT_EQ(css.body, read_file(kExamples + "/express-api/public/static/app.css"));
    EXPECT_EQ(css.header("content-type").rfind("text/css", 0), 0u) << css.header("content-type");
    EXPECT_EQ(css.header("cache-control"), "max-age=2592000, public, immutable");
    EXPECT_FALSE(css.header("expires").empty());
    EXPECT_FALSE(css.header("etag").empty());
    EXPECT_EQ(css.header("x-frame-options"), "DENY");
    HttpResponse robots = get("/robots.txt");
    EXPECT_EQ(robots.status, 200);
    EXPECT_EQ(robots.body, read_file(kExamples + "/express-api/public/robots.txt"));

    // The article's api_log as access_log_format = "json": request and upstream times per
    // request; the /static/ location has access_log = false.
    const std::string access_log = home() + "/logs/access.log";
    EXPECT_TRUE(wait_until([&] { return read_file(access_log).find(R"("uri":"/api/products/9")") != std::string::npos; }, 5s))
        << read_file(access_log);
    const std::string logged = read_file(access_log);
    json first = object_in(logged.substr(0, logged.find('\n')));
    EXPECT_TRUE(first.contains("request_time") && first.contains("upstream_response_time")) << first.dump();
    EXPECT_EQ(logged.find("/static/"), std::string::npos) << logged;

    const Headers json_body{{"Content-Type", "application/json"}};
    HttpResponse login = request("POST", "/auth/login", json_body, R"({"username":"demo","password":"demo"})");
    EXPECT_EQ(login.status, 200) << login.body;
    EXPECT_EQ(object_in(login.body).value("token", "").size(), 32u) << login.body;
    EXPECT_EQ(request("POST", "/auth/login", json_body, R"({"username":"demo","password":"x"})").status, 401);

    // /auth/ is limited to 5r/m with burst 3 nodelay per client address: a fresh client gets
    // 1 + 3 answers from the app, then 429 (one request per 12 s is allowed again).
    const std::string bad_login = "-o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' "
                                  "-d '{\"username\":\"demo\",\"password\":\"x\"}' " + url("/auth/login");
    std::vector<std::string> codes;
    for (int i = 0; i < 6; ++i) codes.push_back(curl_from("127.0.8.1", bad_login));
    EXPECT_EQ(codes, (std::vector<std::string>{"401", "401", "401", "401", "429", "429"}));
    const std::string limited = curl_from("127.0.8.1", "-D - -o /dev/null -X POST " + url("/auth/login"));
    EXPECT_NE(limited.find(" 429"), std::string::npos) << limited;
    EXPECT_NE(limited.find("Retry-After:"), std::string::npos) << limited;
    // Another client, and another location, are not limited by that client's bucket.
    EXPECT_EQ(curl_from("127.0.9.1", bad_login), "401");
    EXPECT_EQ(curl_from("127.0.8.1", "-o /dev/null -w '%{http_code}' " + url("/api/products")), "200");
}

// ---- nextjs ------------------------------------------------------------------------------

// The first `/_next/static/...<ext>` reference in a page.
std::string asset_in(const std::string& html, const std::string& ext) {
    std::smatch m;
    const std::regex re("/_next/static/[A-Za-z0-9_./-]+\\." + ext);
    return std::regex_search(html, m, re) ? m.str() : "";
}

TEST_F(ExamplesTest, NextJsPagesComeFromNextAndStaticAssetsFromDiskWithImmutableCaching) {
    ASSERT_TRUE(fs::exists(kExamples + "/nextjs/.next/BUILD_ID"))
        << "ecosystem-examples/nextjs is not built: run .ci/setup.sh (it runs `next build`)";
    start_example("nextjs", "next", 2, 3200, "127.0.0.1:8082");

    HttpResponse home = get("/", {{"X-Request-ID", "next-home-1"}});
    ASSERT_EQ(home.status, 200) << home.body;
    EXPECT_EQ(home.header("content-type").rfind("text/html", 0), 0u) << home.header("content-type");
    EXPECT_NE(home.body.find("Hello from Next.js behind nodeedge"), std::string::npos) << home.body;
    // Rendered for this request: the page shows the request id the proxy passed on.
    EXPECT_NE(home.body.find("next-home-1"), std::string::npos);
    HttpResponse about = get("/about");
    EXPECT_EQ(about.status, 200);
    EXPECT_NE(about.body.find("<h1>About</h1>"), std::string::npos) << about.body;

    const std::string css_path = asset_in(home.body, "css");
    const std::string svg_path = asset_in(home.body, "svg");
    ASSERT_FALSE(css_path.empty()) << home.body;
    ASSERT_FALSE(svg_path.empty()) << home.body;
    auto check_asset = [&](const std::string& target, const std::string& type) {
        SCOPED_TRACE(target);
        HttpResponse asset = get(target);
        EXPECT_EQ(asset.status, 200);
        EXPECT_EQ(asset.header("cache-control"), "public, max-age=31536000, immutable");
        EXPECT_EQ(asset.header("content-type").rfind(type, 0), 0u) << asset.header("content-type");
        EXPECT_FALSE(asset.header("etag").empty());
        const std::string on_disk = kExamples + "/nextjs/.next/static/" + target.substr(std::string("/_next/static/").size());
        EXPECT_EQ(asset.body, read_file(on_disk));
        EXPECT_EQ(get(target, {{"If-None-Match", asset.header("etag")}}).status, 304);
    };
    check_asset(css_path, "text/css");
    check_asset(svg_path, "image/svg+xml");
    EXPECT_EQ(get("/_next/static/chunks/missing.js").status, 404);

    // Proof that nodeedge, not Next, serves the assets: with the app stopped, pages get 503
    // and the assets are still there.
    RunResult stop = run("stop", "next");
    ASSERT_EQ(stop.code, 0) << stop.out << stop.err;
    EXPECT_EQ(get("/about").status, 503);
    EXPECT_EQ(get(css_path).status, 200);
}

// ---- socketio ----------------------------------------------------------------------------

TEST_F(ExamplesTest, SocketIoOverWebSocketAndLongPollingStaysOnOneInstanceEachAcrossTwo) {
    const std::string apps_modules = std::string(NODEEDGE_SOURCE_DIR) + "/tests/integration/apps/node_modules";
    ASSERT_TRUE(fs::exists(apps_modules + "/socket.io-client"))
        << "socket.io-client is not installed in tests/integration/apps: run .ci/setup.sh";
    start_example("socketio", "chat", 2, 3300, "127.0.0.1:8083");

    HttpResponse page = get("/");
    EXPECT_EQ(page.status, 200);
    EXPECT_NE(page.body.find("/socket.io/socket.io.js"), std::string::npos);

    // Six clients from six /24s (ip_hash keys IPv4 clients by /24), so both instances get some.
    const std::vector<std::string> sources{"127.0.1.1", "127.0.2.1", "127.0.3.1",
                                           "127.0.4.1", "127.0.5.1", "127.0.6.1"};
    for (const std::string transport : {"websocket", "polling"}) {
        SCOPED_TRACE(transport);
        std::vector<std::string> argv{"node", std::string(NODEEDGE_SOURCE_DIR) + "/tests/integration/apps/socketio_client.js",
                                      "http://127.0.0.1:" + std::to_string(port), transport};
        argv.insert(argv.end(), sources.begin(), sources.end());
        RunResult r = run_command(argv, 30s);
        ASSERT_EQ(r.code, 0) << r.out << r.err;

        std::set<int> pids;
        std::set<std::string> clients;
        std::istringstream lines(r.out);
        for (std::string line; std::getline(lines, line);) {
            json c = object_in(line);
            ASSERT_FALSE(c.empty()) << line;
            EXPECT_EQ(c.value("transport", ""), transport) << line;
            EXPECT_EQ(c.value("echoes", 0), 3) << line;
            // X-Forwarded-For carries the real client through the tunnel and the polls.
            EXPECT_EQ(c.value("client", ""), c.value("addr", "")) << line;
            EXPECT_EQ(app_pids.count(c.value("pid", 0)), 1u) << line;
            pids.insert(c.value("pid", 0));
            clients.insert(c.value("addr", ""));
        }
        EXPECT_EQ(clients, std::set<std::string>(sources.begin(), sources.end())) << r.out;
        EXPECT_EQ(pids, app_pids) << r.out;
    }
}

// ---- the container entrypoint ------------------------------------------------------------

// "NSpid:\t4242\t1" -> the pid in the innermost namespace (1 for a namespace's init).
int innermost_pid(pid_t pid) {
    const auto ids = proc_status_numbers(pid, "NSpid");
    return ids.empty() ? 0 : static_cast<int>(ids.back());
}

TEST_F(ExamplesTest, ContainerEntrypointRunsTheDaemonAsPid1StartsTheAppAndDrainsOnSigterm) {
    if (run_command({"unshare", "--pid", "--fork", "--mount-proc", "true"}).code != 0)
        GTEST_SKIP() << "cannot create a PID namespace here (unshare needs CAP_SYS_ADMIN)";
    // The daemon gets a home of its own: the fixture's TearDown must never see "pid 1".
    const std::string ns_home = dir() + "/container-home";
    const std::string file = stage_on_free_ports("express-api", 2, 3100, "127.0.0.1:8081");
    const std::string log = dir() + "/container.log";
    // --kill-child: if the test fails early, killing unshare takes the whole namespace down.
    ForegroundProcess container({"unshare", "--pid", "--mount-proc", "--kill-child", "sh", kExamples + "/container-start.sh"},
                                {"NODEEDGE_HOME=" + ns_home, "NODEEDGE_ECOSYSTEM=" + file,
                                 "PATH=" + fs::path(NODEEDGE_BIN).parent_path().string() + ":" + std::getenv("PATH")},
                                log);
    ASSERT_GT(container.pid(), 0);

    // The entrypoint exec'd the daemon: unshare's child is nodeedge, pid 1 in its namespace.
    pid_t init = 0;
    ASSERT_TRUE(wait_until([&] {
        auto kids = descendants(container.pid());
        if (kids.empty()) return false;
        init = kids.front().pid;
        return read_file("/proc/" + std::to_string(init) + "/comm") == "nodeedge\n";
    }, 10s)) << read_file(log);
    EXPECT_EQ(innermost_pid(init), 1);

    // The background child started the app, which now serves through the proxy.
    ASSERT_TRUE(wait_until([&] {
        auto r = http_get(port, "/health");
        return (r && r->status == 200) || container.exited();
    }, 60s)) << read_file(log);
    ASSERT_FALSE(container.exited()) << "the container stopped: " << read_file(log);
    EXPECT_EQ(get("/api/products").status, 200);
    // That shell was the entrypoint's child, so it is PID 1's now: once it exits, PID 1 must
    // reap it, or it stays a zombie ("sh Z").
    auto shell_left = [&] {
        auto kids = children_of(init);
        return std::any_of(kids.begin(), kids.end(), [](const ProcStat& k) { return k.name == "sh"; });
    };
    auto kids_of_init = [&] {
        std::string out;
        for (const auto& k : children_of(init)) out += k.name + " " + k.state + "; ";
        return out;
    };
    EXPECT_TRUE(wait_until([&] { return !shell_left(); }, 10s)) << "children of pid 1: " << kids_of_init();

    // SIGTERM (what `docker stop` sends PID 1) stops every worker and the daemon exits 0.
    const auto workers = descendants(init);
    EXPECT_GE(workers.size(), 2u);
    ASSERT_EQ(::kill(init, SIGTERM), 0);
    EXPECT_TRUE(wait_until([&] { return container.exited(); }, 45s)) << read_file(log);
    EXPECT_EQ(container.code(), std::optional<int>(0)) << read_file(log);
    for (const auto& w : workers) EXPECT_FALSE(alive(w)) << "pid " << w.pid << " outlived the container";
}

}  // namespace
}  // namespace ne::itest
