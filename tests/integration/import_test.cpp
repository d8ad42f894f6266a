// `nodeedge import` on the reference article's nginx configuration and on realistic site
// files (tests/integration/nginx/): the imported file passes `check`, and nodeedge running it
// answers as nginx (Debian's /usr/sbin/nginx) running the original does, in front of the same
// Node workers: same status, the headers that matter, same bodies.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.h"
#include "tls_support.h"

namespace ne::itest {
namespace {

namespace fs = std::filesystem;

constexpr const char* kNginx = "/usr/sbin/nginx";

std::string source(const std::string& name) {
    return read_file(std::string(NODEEDGE_SOURCE_DIR) + "/tests/integration/nginx/" + name);
}

// nginx in the foreground as this test's child, stopped by its pid.
class NginxProcess {
public:
    NginxProcess(const std::string& prefix, const std::string& conf) {
        fs::create_directories(prefix + "/logs");
        const std::string globals = "daemon off; master_process off; pid " + prefix + "/nginx.pid; error_log " +
                                    prefix + "/error.log;";
        pid_ = ::fork();
        if (pid_ == 0) {
            ::execl(kNginx, kNginx, "-p", prefix.c_str(), "-c", conf.c_str(), "-g", globals.c_str(), nullptr);
            ::_exit(127);
        }
        log_ = prefix + "/error.log";
    }
    ~NginxProcess() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int status = 0;
        for (int i = 0; i < 100 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) ::usleep(50000);
        if (::waitpid(pid_, &status, WNOHANG) == 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
        }
    }
    NginxProcess(const NginxProcess&) = delete;
    NginxProcess& operator=(const NginxProcess&) = delete;

    bool running() { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
    std::string log() const { return read_file(log_); }

private:
    pid_t pid_ = -1;
    std::string log_;
};

struct SiteAnswer {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names, repeated ones joined ", "
    std::string body;                            // decoded when it came compressed
    time_t received = 0;
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
};

struct SiteRequest {
    std::string path;
    std::string host;
    bool tls = false;
    std::string curl_args;      // more of curl's arguments (headers, a body)
    bool own_page = false;      // an answer the server writes itself (404, 301): nginx signs its pages
};

// What must be equal between nginx and nodeedge.
const char* const kCompared[] = {"location", "content-encoding", "cache-control", "x-cache-status",
                                 "strict-transport-security", "x-content-type-options", "x-frame-options",
                                 "x-xss-protection", "referrer-policy"};

std::string media_type(std::string type) {
    type = type.substr(0, type.find(';'));
    // RFC 9239 made text/javascript the type of JavaScript; nginx 1.22's mime.types still says
    // application/javascript, nodeedge says text/javascript. Both mean the same to browsers.
    return type == "application/javascript" ? "text/javascript" : type;
}

// Seconds from the answer's Date to its Expires: what `expires` set, whenever it was asked.
// nodeedge sends no Date on the answers it makes itself, so then the second the answer
// arrived stands in for it: the two may then differ by the second that passed meanwhile.
long expires_after_date(const SiteAnswer& a) {
    if (a.header("expires").empty()) return -1;
    auto parse = [](const std::string& text) {
        std::tm tm{};
        if (!::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) return static_cast<time_t>(-1);
        return ::timegm(&tm);
    };
    const time_t date = a.header("date").empty() ? a.received : parse(a.header("date"));
    return static_cast<long>(parse(a.header("expires")) - date);
}

class ImportTest : public IntegrationTest {
protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        if (!fs::exists(kNginx)) GTEST_SKIP() << kNginx << " is not installed (Debian's nginx-light); nothing to compare with";
        root_ = dir() + "/www";
        fs::create_directories(root_);
    }

    void put(const std::string& rel, const std::string& text) {
        const fs::path p = fs::path(root_) / rel;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
    }

    // The site file twice: nginx's copy on its ports, nodeedge's on others (the same apps).
    struct Ports {
        int http = 0, https = 0;
    };
    std::map<std::string, std::string> vars(const Ports& p, const std::map<std::string, std::string>& more) {
        std::map<std::string, std::string> v = more;
        v["HTTP"] = std::to_string(p.http);
        v["HTTPS"] = std::to_string(p.https);
        v["ROOT"] = root_;
        v["CERT"] = dir() + "/site.pem";
        v["KEY"] = dir() + "/site.key";
        v["CACHE"] = dir() + "/nginx-cache";
        v["LOGS"] = dir();
        return v;
    }

    // Writes both copies, imports nodeedge's (with the apps of `apps_toml`), checks and starts
    // it, and starts nginx on its copy. Returns import's run for the caller to look at.
    RunResult start_both(const std::string& site, const std::string& apps_toml,
                         const std::map<std::string, std::string>& app_ports) {
        make_cert(dir(), "site", "example.com");
        nginx_ports_ = {free_port(), free_port()};
        edge_ports_ = {free_port(), free_port()};
        const std::string original = source(site);
        write_file("nginx-site.conf", original, vars(nginx_ports_, app_ports));
        const std::string edge_site = write_file("edge-" + site, original, vars(edge_ports_, app_ports));
        const std::string apps = write_file("apps.toml", apps_toml, app_ports);
        RunResult imported = run("import", apps, "--nginx", edge_site, "-o", dir() + "/ecosystem.toml");
        std::cout << "import stderr:\n" << imported.err;
        std::cout << "ecosystem.toml:\n" << read_file(dir() + "/ecosystem.toml");
        RunResult checked = run("check", dir() + "/ecosystem.toml");
        EXPECT_EQ(checked.code, 0) << checked.err;
        if (checked.code != 0) return imported;
        RunResult started = run("start", dir() + "/ecosystem.toml");
        EXPECT_EQ(started.code, 0) << started.err << started.out;
        track_processes();

        const std::string conf = write_file("nginx.conf",
            "events {}\nhttp {\n"
            "    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
            "    client_body_temp_path ${DIR}/nginx/body;\n    proxy_temp_path ${DIR}/nginx/proxy;\n"
            "    fastcgi_temp_path ${DIR}/nginx/fastcgi;\n    uwsgi_temp_path ${DIR}/nginx/uwsgi;\n"
            "    scgi_temp_path ${DIR}/nginx/scgi;\n    access_log off;\n"
            "    include ${DIR}/nginx-site.conf;\n}\n",
            {{"DIR", dir()}});
        nginx_ = std::make_unique<NginxProcess>(dir() + "/nginx", conf);
        EXPECT_TRUE(wait_until([&] { return !nginx_->running() || port_accepts(nginx_ports_.http); }, 10s));
        EXPECT_TRUE(nginx_->running()) << nginx_->log();
        return imported;
    }

    static bool port_accepts(int port) {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        return connect_loopback(fd.get(), port);
    }

    SiteAnswer fetch(const SiteRequest& r, const Ports& ports) {
        const int port = r.tls ? ports.https : ports.http;
        const std::string url = std::string(r.tls ? "https" : "http") + "://" + r.host + ":" + std::to_string(port) + r.path;
        const std::string head = dir() + "/head.txt";
        const std::string body = dir() + "/body.bin";
        const std::string status = curl("-sk --http1.1 --compressed -o " + body + " -D " + head + " -w '%{http_code}'" +
                                        curl_resolve(r.host, port) + r.curl_args + " '" + url + "'");
        SiteAnswer a;
        a.received = std::time(nullptr);
        a.status = std::atoi(status.c_str());
        a.body = read_file(body);
        std::istringstream lines(read_file(head));
        std::string line;
        while (std::getline(lines, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.starts_with("HTTP/")) a.headers.clear();
            const size_t colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string name = line.substr(0, colon);
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            std::string value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(' '));
            auto& slot = a.headers[name];
            slot = slot.empty() ? value : slot + ", " + value;
        }
        return a;
    }

    // Sends each request to nginx, then to nodeedge, and compares the answers.
    void compare(const std::vector<SiteRequest>& requests) {
        for (size_t i = 0; i < requests.size(); ++i) {
            const SiteRequest& r = requests[i];
            const SiteAnswer want = fetch(r, nginx_ports_);
            const SiteAnswer got = fetch(r, edge_ports_);
            const std::string what = "request " + std::to_string(i) + " " + std::string(r.tls ? "https://" : "http://") +
                                     r.host + r.path + " " + r.curl_args;
            ASSERT_NE(want.status, 0) << what << ": nginx did not answer\n" << nginx_->log();
            EXPECT_EQ(got.status, want.status) << what;
            EXPECT_EQ(media_type(got.header("content-type")), media_type(want.header("content-type"))) << what;
            for (const char* name : kCompared) {
                // The pages each server writes itself (404, 301) differ anyway (nginx signs its
                // own): nodeedge marks them no-store and does not compress them, nginx gzips them.
                if (r.own_page && (std::string(name) == "cache-control" || std::string(name) == "content-encoding")) continue;
                // nodeedge adds X-Cache-Status to every answer of a cached location; nginx's
                // add_header (without `always`) only to 2xx and 3xx.
                if (want.status >= 400 && std::string(name) == "x-cache-status") continue;
                EXPECT_EQ(got.header(name), want.header(name)) << what << ": " << name;
            }
            const long want_expires = expires_after_date(want), got_expires = expires_after_date(got);
            EXPECT_EQ(want_expires < 0, got_expires < 0) << what << ": Expires";
            EXPECT_LE(std::labs(got_expires - want_expires), got.header("date").empty() ? 1 : 0) << what << ": Expires - Date";
            if (!r.own_page) EXPECT_EQ(got.body, want.body) << what;
        }
    }

    std::string root_;
    Ports nginx_ports_, edge_ports_;
    std::unique_ptr<NginxProcess> nginx_;
};

const char* const kOneApp =
    "[[apps]]\nname = \"api\"\nscript = \"${APPS}/pages.js\"\ninstances = 4\nport = ${APP0}\n"
    "env = { APP_NAME = \"api\" }\n";

std::map<std::string, std::string> four_ports(int base) {
    return {{"APP0", std::to_string(base)}, {"APP1", std::to_string(base + 1)},
            {"APP2", std::to_string(base + 2)}, {"APP3", std::to_string(base + 3)}};
}

TEST_F(ImportTest, ReferenceArticleAnswersAsNginxDoes) {
    put("static/app.css", "body { color: #333; }\n" + std::string(400, ' ') + "\n");
    put("static/logo.png", std::string("\x89PNG\r\n\x1a\n", 8) + std::string(64, 'x'));
    put("uploads/photo.png", std::string("\x89PNG\r\n\x1a\n", 8) + std::string(32, 'y'));
    put("favicon.ico", "icon");
    put("robots.txt", "User-agent: *\nDisallow:\n");
    put("next-static/chunks/main.js", "console.log('next');\n");
    const RunResult imported = start_both("reference.conf", kOneApp, four_ports(free_port_range(4)));
    // What the article asks for and nodeedge cannot do is listed, and the file still written.
    EXPECT_EQ(imported.code, 1);
    for (const char* left : {": large_client_header_buffers: ",
                             ": ssl_stapling: ", ": log_format: "})
        EXPECT_NE(imported.err.find(left), std::string::npos) << left << "\n" << imported.err;
    EXPECT_NE(imported.err.find("directives were not imported (listed above)"), std::string::npos) << imported.err;
    const std::string toml = read_file(dir() + "/ecosystem.toml");
    EXPECT_NE(toml.find("app = \"api\""), std::string::npos);
    EXPECT_NE(toml.find("session_timeout = \"1d\""), std::string::npos) << toml;
    EXPECT_EQ(toml.find("[[upstreams]]"), std::string::npos) << "every upstream is the PM2 app's workers";
    if (HasFailure()) return;

    const std::string gzip = "-H 'Accept-Encoding: gzip' ";
    compare({
        {"/", "example.com"},
        {"/some/page?x=1", "example.com"},
        {"/big", "example.com", false, gzip},
        {"/static/app.css", "example.com"},
        {"/static/app.css", "example.com", false, gzip},
        {"/static/logo.png", "example.com"},
        {"/static/missing.css", "example.com", false, "", true},
        {"/uploads/photo.png", "example.com"},
        {"/favicon.ico", "example.com"},
        {"/robots.txt", "example.com"},
        {"/single/x", "example.com"},
        {"/api/products", "example.com"},
        {"/api/products", "example.com"},
        {"/api/products", "example.com", false, "-H 'Authorization: Bearer x' "},
        {"/api/products/missing", "example.com"},
        {"/anything?q=2", "www.example.com", false, "", true},
        {"/", "example.com", true},
        {"/account", "example.com", true, gzip},
        {"/ws/chat", "example.com", true},
        {"/api/users", "api.example.com", true},
        {"/auth/login", "api.example.com", true, "-X POST --data-binary 'user=a' "},
        {"/_next/static/chunks/main.js", "next.example.com", true},
        {"/about", "next.example.com", true},
        {"/socket.io/?EIO=4&transport=polling", "realtime.example.com", true},
    });
}

TEST_F(ImportTest, TlsSiteWithRedirectAnswersAsNginxDoes) {
    put("assets/site.css", "h1 { margin: 0 }\n");
    const auto ports = four_ports(free_port_range(4));
    const std::string apps = "[[apps]]\nname = \"shop\"\nscript = \"${APPS}/pages.js\"\ninstances = 2\nport = ${APP0}\n"
                             "env = { APP_NAME = \"shop\" }\n";
    const RunResult imported = start_both("tls.conf", apps, ports);
    EXPECT_EQ(imported.code, 0) << imported.err;
    if (HasFailure()) return;
    compare({
        {"/cart?item=3", "shop.example", false, "", true},
        {"/", "shop.example", true},
        {"/cart/big", "shop.example", true, "-H 'Accept-Encoding: gzip' "},
        {"/orders", "shop.example", true, "-H 'Accept-Encoding: gzip' "},
        {"/assets/site.css", "shop.example", true},
        {"/assets/none.css", "shop.example", true, "", true},
        {"/x/missing", "shop.example", true},
    });
}

// Needs the locations branch: try_files, regex locations and per-location headers.
TEST_F(ImportTest, SinglePageAppAnswersAsNginxDoes) {
    put("spa/index.html", "<!doctype html><title>spa</title>\n");
    put("spa/app.js", "console.log('spa');\n");
    put("spa/app.css", "body{}\n");
    put("spa/img/logo.png", std::string("\x89PNG\r\n\x1a\n", 8));
    put("spa/docs/index.html", "<p>docs</p>\n");
    const RunResult imported = start_both("spa.conf", kOneApp, four_ports(free_port_range(4)));
    EXPECT_EQ(imported.code, 0) << imported.err;
    if (HasFailure()) return;
    compare({
        {"/", "spa.example"},
        {"/index.html", "spa.example"},
        {"/settings/profile", "spa.example"},
        {"/docs/", "spa.example"},
        {"/app.js", "spa.example"},
        {"/APP.CSS", "spa.example", false, "", true},
        {"/img/logo.png", "spa.example"},
        {"/img/none.png", "spa.example", false, "", true},
        {"/api/items?page=2", "spa.example"},
    });
}

// Needs the locations branch: client_max_body_size per location.
TEST_F(ImportTest, ApiGatewayWithTwoAppsAnswersAsNginxDoes) {
    const int users = free_port_range(2);
    const int orders = free_port_range(2);
    const std::map<std::string, std::string> ports{{"USERS0", std::to_string(users)}, {"USERS1", std::to_string(users + 1)},
                                                   {"ORDERS0", std::to_string(orders)}, {"ORDERS1", std::to_string(orders + 1)}};
    const std::string apps =
        "[[apps]]\nname = \"users\"\nscript = \"${APPS}/pages.js\"\ninstances = 2\nport = ${USERS0}\nenv = { APP_NAME = \"users\" }\n\n"
        "[[apps]]\nname = \"orders\"\nscript = \"${APPS}/pages.js\"\ninstances = 2\nport = ${ORDERS0}\nenv = { APP_NAME = \"orders\" }\n";
    const RunResult imported = start_both("gateway.conf", apps, ports);
    EXPECT_EQ(imported.code, 0) << imported.err;
    const std::string toml = read_file(dir() + "/ecosystem.toml");
    EXPECT_NE(toml.find("app = \"users\""), std::string::npos);
    EXPECT_NE(toml.find("app = \"orders\""), std::string::npos);
    if (HasFailure()) return;
    const std::string two_k = "-X POST --data-binary '" + std::string(2048, 'b') + "' ";
    compare({
        {"/users/42", "gw.example"},
        {"/orders/7?full=1", "gw.example"},
        {"/users/", "gw.example", false, two_k, true},
        {"/orders/new", "gw.example", false, two_k},
        {"/health", "gw.example"},
        {"/other", "gw.example", false, "", true},
    });
}

TEST_F(ImportTest, WholeNginxConfWithIncludesImportsAndPassesCheck) {
    fs::create_directories(dir() + "/conf.d");
    write_file("conf.d/site.conf", "server {\n    listen 127.0.0.1:${PORT};\n    location / { return 200 \"up\"; }\n}\n",
               {{"PORT", std::to_string(free_port())}});
    const std::string conf = write_file("nginx.conf",
        "user www-data;\nworker_processes auto;\npid /run/nginx.pid;\n"
        "events {\n    worker_connections 768;\n}\n"
        "http {\n    sendfile on;\n    tcp_nopush on;\n    include /etc/nginx/mime.types;\n"
        "    default_type application/octet-stream;\n    proxy_temp_path /var/lib/nginx/proxy;\n"
        "    gzip on;\n    include conf.d/*.conf;\n    include sites-enabled/*;\n}\n");
    const RunResult r = run("import", "--nginx", conf, "-o", dir() + "/ecosystem.toml");
    // Debian's stock default_type makes nginx send the returned "up" as application/octet-stream;
    // nodeedge sends text/plain, which is reported, and the file is written all the same.
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err, conf + ":11: default_type: nodeedge sends a returned text as text/plain, not application/octet-stream; "
                     "answer from the app when the type matters\n"
                     "nodeedge: 1 directive was not imported (listed above); " + dir() + "/ecosystem.toml was written all the same\n");
    const std::string toml = read_file(dir() + "/ecosystem.toml");
    for (const char* line : {"user = \"www-data\"", "workers = \"auto\"", "types { -- built in",
                             "return = \"200 up\"", "gzip = { level = 1, min_length = 20 }"})
        EXPECT_NE(toml.find(line), std::string::npos) << line << "\n" << toml;
    EXPECT_EQ(run("check", dir() + "/ecosystem.toml").code, 0);
}

// The reference article's PM2 file as it is (cluster mode on PORT 3000, 4 instances) and its
// load-balancing nginx site: the upstream of 3000..3003 is the app, wherever its workers went.
TEST_F(ImportTest, Pm2FileAndNginxSiteImportAsOneFile) {
    const int port = free_port_range(5);
    write_file("app.js", "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT);\n");
    const std::string pm2 = write_file("ecosystem.config.js",
        "module.exports = {\n  apps: [{\n    name: 'my-app',\n    script: 'app.js',\n    instances: 4,\n"
        "    exec_mode: 'cluster',\n    env: {\n      NODE_ENV: 'production',\n      PORT: ${PORT}\n    },\n"
        "    max_memory_restart: '1G',\n    merge_logs: true,\n    vizion: false\n  }]\n};\n",
        {{"PORT", std::to_string(port)}});
    const std::string site = write_file("site.conf",
        "upstream node_cluster {\n    least_conn;\n    server 127.0.0.1:${P0};\n    server 127.0.0.1:${P1};\n"
        "    server 127.0.0.1:${P2};\n    server 127.0.0.1:${P3};\n    keepalive 64;\n}\n"
        "server {\n    listen 127.0.0.1:${HTTP};\n    location / {\n        proxy_pass http://node_cluster;\n    }\n}\n",
        {{"P0", std::to_string(port)}, {"P1", std::to_string(port + 1)}, {"P2", std::to_string(port + 2)},
         {"P3", std::to_string(port + 3)}, {"HTTP", std::to_string(free_port())}});
    const RunResult r = run("import", pm2, "--nginx", site, "-o", dir() + "/ecosystem.toml");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("apps[0].vizion: not supported by nodeedge (ignored)"), std::string::npos) << r.err;
    const std::string toml = read_file(dir() + "/ecosystem.toml");
    for (const char* line : {"name = \"my-app\"", "instances = 4", "max_memory_restart = \"1G\"",
                             "env = { NODE_ENV = \"production\" }", "app = \"my-app\"", "balance = \"least_conn\""})
        EXPECT_NE(toml.find(line), std::string::npos) << line << "\n" << toml;
    EXPECT_EQ(toml.find("[[upstreams]]"), std::string::npos) << toml;
    EXPECT_EQ(run("check", dir() + "/ecosystem.toml").code, 0);
}

TEST_F(ImportTest, MissingIncludeIsAnErrorNamingItsLine) {
    const std::string site = write_file("site.conf", "server {\n    listen 8080;\n    include snippets/none.conf;\n}\n");
    const RunResult r = run("import", "--nginx", site);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find(site + ":3: include snippets/none.conf: no such file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ne::itest
