// nginx text -> ecosystem.toml text: each case names the lines the output must hold (keys with
// their values, comments naming the source line) and the directives reported as left out.
#include <gtest/gtest.h>

#include "config/apps_toml.h"
#include "config/load.h"
#include "config/nginx/mapper.h"
#include "config/nginx/parser.h"
#include "config_test_dir.h"

namespace ne::config::nginx {
namespace {

using testing::TestDir;

struct Output {
    std::string toml;
    std::vector<std::string> left_out;  // "file:line: directive"
};

Output map_text(const std::string& text, const std::vector<App>& apps = {}, const std::vector<Server>& servers = {}) {
    auto tree = parse_text(text, "site.conf");
    EXPECT_TRUE(tree) << (tree ? "" : tree.error().message);
    if (!tree) return {};
    Config source;
    source.apps = apps;
    source.servers = servers;
    Mapped m = map_nginx({*tree}, source);
    std::vector<toml_text::Table> tables = m.proxy;
    tables.insert(tables.end(), m.upstreams.begin(), m.upstreams.end());
    tables.insert(tables.end(), m.servers.begin(), m.servers.end());
    Output out{toml_text::render(tables), {}};
    for (const Finding& f : m.left_out) out.left_out.push_back(f.where + ": " + f.directive);
    return out;
}

App app(const std::string& name, int port, const std::string& instances) {
    App a;
    a.name = name;
    a.port = port;
    a.instances = instances;
    return a;
}

struct MapCase {
    const char* name;
    std::string nginx;
    std::vector<std::string> contains;   // lines (or parts of lines) the TOML must hold
    std::vector<std::string> left_out;   // exactly these, in order
    std::vector<std::string> absent = {};
};

const std::string kServer = "server {\n  listen 80;\n";  // lines 1-2; a case's lines start at 3

TEST(NginxMapper, MapsDirectivesToKeys) {
    const MapCase cases[] = {
        {"listen forms",
         "server { listen 8080; listen 127.0.0.1:81 default_server; listen [::]:443 ssl http2;\n"
         " ssl_certificate c.pem; ssl_certificate_key k.pem; }",
         {"listen = [\"0.0.0.0:8080\", \"127.0.0.1:81\"]", "listen = [\"[::]:443\"]", "http2 = true",
          "tls = { cert = \"", "c.pem\", key = \"", "# nginx: site.conf:1 listen [::]:443 ssl http2;"},
         {}},
        {"server_name catch-all and wildcard",
         kServer + "  server_name _ .example.com www.example.org;\n}",
         {"server_name = [\"example.com\", \"*.example.com\", \"www.example.org\"]"}, {}},
        {"location modifiers",
         kServer + "  root /srv;\n  location = /a {}\n  location ^~ /b/ {}\n  location ~ \\.php$ {}\n"
                   "  location ~* \\.(js|css|png)$ { expires 7d; }\n  location @app { proxy_pass http://127.0.0.1:9000; }\n}",
         {"path = \"= /a\"", "path = \"^~ /b/\"", "path = \"~ \\\\.php$\"", "path = \"~* \\\\.(js|css|png)$\"",
          "expires = \"7d\"", "path = \"@app\"", "upstream = \"127.0.0.1:9000\"",
          "name = \"127.0.0.1:9000\"", "servers = [{ address = \"127.0.0.1:9000\" }]"},
         {}},
        {"upstream matched to a PM2 app by its worker ports",
         "upstream api { least_conn; server 127.0.0.1:3000; server 127.0.0.1:3001; server 127.0.0.1:3002;\n"
         " server 127.0.0.1:3003; keepalive 64; }\n" + kServer + "  location / { proxy_pass http://api; }\n}",
         {"app = \"api\"", "balance = \"least_conn\"", "keepalive = 64",
          "# nginx: site.conf:1 upstream api { (its servers are the workers of app 'api')"},
         {}, {"[[upstreams]]"}},
        {"sticky cookie and the upstream keepalive_timeout go on the location",
         "upstream chat { server 10.0.0.5:3000; server 10.0.0.6:3000; keepalive 16; keepalive_timeout 30s;\n"
         " sticky cookie srv_id expires=1h path=/ httponly secure samesite=lax; }\n" + kServer +
             "  location / { proxy_pass http://chat; }\n}",
         {"sticky = { cookie = \"srv_id\", expires = \"1h\", path = \"/\", httponly = true, secure = true, samesite = \"lax\" }",
          "keepalive_timeout = \"30s\""},
         {}},
        {"sticky route has no counterpart",
         "upstream chat { server 10.0.0.5:3000; sticky route $route_cookie; }\n" + kServer +
             "  location / { proxy_pass http://chat; }\n}",
         {}, {"site.conf:1: sticky"}},
        {"upstream of other hosts",
         "upstream remote { ip_hash; server 10.0.0.5:3000 weight=2 max_fails=3 fail_timeout=30s;\n"
         " server 10.0.0.6:3000 backup; }\n" + kServer + "  location / { proxy_pass http://remote; }\n}",
         {"name = \"remote\"", "{ address = \"10.0.0.5:3000\", weight = 2, max_fails = 3, fail_timeout = \"30s\" }",
          "upstream = \"remote\"", "balance = \"ip_hash\""},
         {"site.conf:2: server"}},
        {"proxy_pass with the location's own URI is the same request",
         kServer + "  location /api/ { proxy_pass http://127.0.0.1:3000/api/; }\n}", {"app = \"api\""}, {}},
        {"proxy_pass replacing the prefix is reported",
         kServer + "  location /api/ { proxy_pass http://127.0.0.1:3000/; }\n}", {"app = \"api\""},
         {"site.conf:3: proxy_pass"}},
        {"proxy settings",
         kServer + "  location /ws/ {\n    proxy_pass http://127.0.0.1:3000;\n    proxy_http_version 1.1;\n"
                   "    proxy_set_header Upgrade $http_upgrade;\n    proxy_set_header Connection 'upgrade';\n"
                   "    proxy_set_header X-Forwarded-Host $host;\n    proxy_connect_timeout 5;\n"
                   "    proxy_read_timeout 86400s;\n    proxy_send_timeout 1h30m;\n    proxy_buffering off;\n  }\n}",
         {"proxy_headers = { X-Forwarded-Host = \"$host\" }", "connect_timeout = \"5s\"", "read_timeout = \"1d\"",
          "send_timeout = \"90m\"", "buffering = false",
          "# nginx: site.conf:6 proxy_set_header Upgrade $http_upgrade; -- built in"},
         {}},
        {"proxy_set_header inherited from the server unless the location has its own",
         kServer + "  proxy_set_header X-A a;\n  location /one/ { proxy_pass http://127.0.0.1:3000; }\n"
                   "  location /two/ { proxy_pass http://127.0.0.1:3000; proxy_set_header X-B b; }\n}",
         {"proxy_headers = { X-A = \"a\" }", "proxy_headers = { X-B = \"b\" }"}, {}},
        {"server headers, always or not",
         kServer + "  add_header X-Frame-Options DENY always;\n  add_header X-Plain yes;\n}",
         {"headers = { X-Frame-Options = \"DENY\", X-Plain = \"yes\" }",
          "site.conf:4 add_header X-Plain yes; (nodeedge adds it to every answer"},
         {}},
        {"a location's add_header replaces the server's; Cache-Control of files is cache_control",
         kServer + "  add_header X-S s always;\n  root /srv;\n  location /static/ { add_header Cache-Control \"public, immutable\"; }\n}",
         {"cache_control = \"public, immutable\"", "headers = {}"}, {}},
        {"static files",
         kServer + "  root /var/www;\n  index home.html;\n  location / { try_files $uri $uri/ /index.html; }\n"
                   "  location /static/ { alias /srv/static/; try_files $uri =404; expires max; }\n}",
         {"root = \"/var/www\"", "index = \"home.html\"", "try_files = [\"$uri\", \"$uri/\", \"/index.html\"]",
          "alias = \"/srv/static\"", "expires = \"3650d\"", "-- built in: a missing file is answered 404"},
         {}, {"try_files = [\"$uri\", \"=404\"]"}},
        {"gzip with nginx's defaults",
         kServer + "  gzip on;\n  gzip_types text/css application/json;\n  gzip_vary on;\n}",
         {"gzip = { level = 1, min_length = 20, types = [\"text/css\", \"application/json\"] }",
          "gzip_vary on; -- built in"},
         {}},
        {"gzip settings",
         kServer + "  gzip on;\n  gzip_comp_level 6;\n  gzip_min_length 256;\n  location /raw/ { gzip off; root /srv; }\n}",
         {"gzip = { level = 6, min_length = 256 }", "gzip = false"}, {}},
        {"rate limits",
         "limit_req_zone $binary_remote_addr zone=api:10m rate=30r/s;\nlimit_req_zone $binary_remote_addr zone=auth:10m rate=5r/m;\n" +
             kServer + "  limit_req_status 429;\n  location /api/ { limit_req zone=api burst=50 nodelay; proxy_pass http://127.0.0.1:3000; }\n"
                       "  location /auth/ { limit_req zone=auth burst=3; proxy_pass http://127.0.0.1:3000; }\n}",
         {"rate_limit = { rate = \"30r/s\", burst = 50, nodelay = true, status = 429 }",
          "rate_limit = { rate = \"5r/m\", burst = 3, status = 429 }"},
         {}},
        {"response cache",
         "proxy_cache_path /var/cache/nginx/api levels=1:2 keys_zone=api_cache:10m max_size=100m inactive=60m;\n" + kServer +
             "  location /api/products {\n    proxy_pass http://127.0.0.1:3000;\n    proxy_cache api_cache;\n"
             "    proxy_cache_valid 200 5m;\n    proxy_cache_valid 404 1m;\n    proxy_cache_use_stale error timeout updating;\n"
             "    proxy_cache_lock on;\n    proxy_cache_methods GET HEAD;\n    proxy_cache_bypass $http_authorization $cookie_session;\n"
             "    add_header X-Cache-Status $upstream_cache_status;\n  }\n}",
         {"cache = { valid = { 200 = \"5m\", 404 = \"1m\" }, use_stale = [\"error\", \"timeout\", \"updating\"], lock = true, "
          "bypass_cookie = [\"session\"], max_size = \"100M\" }",
          "X-Cache-Status $upstream_cache_status; -- built in"},
         {}},
        {"return in a location and in a port-80 server",
         "server { listen 80; server_name example.com; return 301 https://example.com$request_uri; location /x/ {} }\n" +
             kServer + "  location = /gone { return 410; }\n  location /hi { return 200 \"hello\"; }\n}",
         {"path = \"/\"", "return = \"301 https://example.com$request_uri\"", "return = \"410\"", "return = \"200 hello\""},
         {}, {"path = \"/x/\""}},
        {"a returned text keeps its type only when it is text/plain",
         kServer + "  location = /health { default_type text/plain; return 200 ok; }\n"
                   "  location = /j { default_type application/json; return 200 '{}'; }\n}",
         {"default_type text/plain; -- built in", "return = \"200 {}\""}, {"site.conf:4: default_type"}},
        {"limits and timeouts",
         kServer + "  client_max_body_size 50m;\n  keepalive_timeout 65;\n  keepalive_requests 100;\n  client_body_timeout 12;\n"
                   "  location /upload { client_max_body_size 10m; proxy_pass http://127.0.0.1:3000; }\n}",
         {"client_max_body_size = \"50M\"", "keepalive_timeout = \"65s\"", "keepalive_requests = 100",
          "client_body_timeout = \"12s\"", "client_max_body_size = \"10M\""},
         {}},
        {"error_page for the proxy's 5xx",
         kServer + "  error_page 502 503 504 /50x.html;\n  location = /50x.html { root /usr/share/nginx/html; }\n"
                   "  error_page 404 /404.html;\n}",
         {"[proxy]", "error_page = \"/usr/share/nginx/html/50x.html\""}, {"site.conf:5: error_page"}},
        {"access logs",
         "log_format api_log '$remote_addr [$time_local] \"$request\" $status rt=$request_time';\n" +
             kServer + "  access_log /var/log/nginx/api.log api_log;\n  location /static/ { root /srv; access_log off; }\n}",
         {"access_log = \"/var/log/nginx/api.log\"", "access_log_format = \"combined\"", "access_log = false"},
         {"site.conf:1: log_format"}},
        {"json access log",
         "log_format j escape=json '{\"t\":\"$time_iso8601\"}';\naccess_log /var/log/a.json j;\n" + kServer + "}",
         {"access_log_format = \"json\""}, {}},
        {"TLS",
         "server {\n  listen 443 ssl;\n  http2 on;\n  ssl_certificate /etc/ssl/a.crt;\n  ssl_certificate_key /etc/ssl/a.key;\n"
         "  ssl_protocols TLSv1.2 TLSv1.3;\n  ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256;\n  ssl_prefer_server_ciphers off;\n"
         "  ssl_session_cache shared:SSL:10m;\n  ssl_session_timeout 1d;\n  ssl_session_tickets off;\n  ssl_stapling on;\n"
         "  ssl_stapling_verify on;\n  resolver 8.8.8.8 8.8.4.4 valid=300s;\n}",
         {"tls = { cert = \"/etc/ssl/a.crt\", key = \"/etc/ssl/a.key\", protocols = [\"TLSv1.2\", \"TLSv1.3\"], ciphers = "
          "\"ECDHE-RSA-AES128-GCM-SHA256\", session_timeout = \"1d\", prefer_server_ciphers = false, session_tickets = false }",
          "http2 = true", "resolver 8.8.8.8 8.8.4.4 valid=300s; -- built in"},
         {"site.conf:12: ssl_stapling"}},
        {"stapling from a file",
         "server { listen 443 ssl; ssl_certificate a.crt; ssl_certificate_key a.key; ssl_stapling on; ssl_stapling_file /o.der; }",
         {"ocsp = \"/o.der\""}, {}},
        {"one server listening plain and TLS becomes two",
         "server { listen 80; listen 443 ssl; ssl_certificate /a.crt; ssl_certificate_key /a.key; location / { return 204; } }",
         {"listen = [\"0.0.0.0:80\"]", "listen = [\"0.0.0.0:443\"]"}, {}},
        {"a full nginx.conf: main, events, http",
         "user www-data;\nworker_processes auto;\npid /run/nginx.pid;\nevents { worker_connections 768; }\n"
         "http {\n  sendfile on;\n  include_none_here on;\n  server { listen 80; location / { return 204; } }\n}",
         {"user = \"www-data\"", "workers = \"auto\"", "pid /run/nginx.pid; -- built in",
          "sendfile on; -- built in", "events { -- built in"},
         {"site.conf:7: include_none_here"}},
        {"websocket map",
         "map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n" + kServer +
             "  location / { proxy_pass http://127.0.0.1:3000; proxy_set_header Connection $connection_upgrade; }\n}",
         {"map $http_upgrade $connection_upgrade { -- built in", "proxy_set_header Connection $connection_upgrade; -- built in"},
         {}},
        {"what nodeedge cannot do is reported with its line",
         kServer + "  rewrite ^/old$ /new;\n  location / {\n    if ($x) { return 403; }\n    auth_basic \"x\";\n"
                   "    proxy_pass https://backend;\n    location /inner/ {}\n  }\n}",
         {"# not imported: site.conf:3 rewrite ^/old$ /new; -- nodeedge does not rewrite URIs"},
         {"site.conf:3: rewrite", "site.conf:5: if", "site.conf:6: auth_basic", "site.conf:7: proxy_pass", "site.conf:8: location"}},
        {"default_server goes first",
         "server { listen 80; server_name a; location / { return 204; } }\n"
         "server { listen 80 default_server; server_name b; location / { return 204; } }",
         {}, {}},
    };
    const std::vector<App> apps{app("api", 3000, "4"), app("web", 4000, "2")};
    for (const MapCase& c : cases) {
        Output out = map_text(c.nginx, apps);
        for (const std::string& line : c.contains)
            EXPECT_NE(out.toml.find(line), std::string::npos) << c.name << ": missing " << line << "\n" << out.toml;
        for (const std::string& line : c.absent)
            EXPECT_EQ(out.toml.find(line), std::string::npos) << c.name << ": should not hold " << line << "\n" << out.toml;
        EXPECT_EQ(out.left_out, c.left_out) << c.name << "\n" << out.toml;
    }
}

// PM2's cluster mode: the app's instances shared one port, which nginx proxied to; nodeedge
// runs them on ports of their own behind a server on that port.
TEST(NginxMapper, PortOfAServerInFrontOfAnAppIsThatApp) {
    Server front;
    front.listen.push_back(ListenAddr{"0.0.0.0", 3000, {}});
    Location all;
    all.path = "/";
    all.app = "api";
    front.locations.push_back(all);
    Output out = map_text("upstream one { server 127.0.0.1:3000; }\n"
                          "server { listen 80; location / { proxy_pass http://one; } location /x/ { proxy_pass http://localhost:3000; } }",
                          {app("api", 3001, "4")}, {front});
    EXPECT_EQ(out.toml.find("[[upstreams]]"), std::string::npos) << out.toml;
    EXPECT_NE(out.toml.find("proxy_pass http://localhost:3000; (a port of app 'api')\napp = \"api\""), std::string::npos) << out.toml;
    EXPECT_NE(out.toml.find("upstream one { (its servers are the workers of app 'api')"), std::string::npos) << out.toml;
}

TEST(NginxMapper, DefaultServerIsWrittenFirst) {
    Output out = map_text("server { listen 80; server_name a; location / { return 204; } }\n"
                          "server { listen 80 default_server; server_name b; location / { return 204; } }");
    EXPECT_LT(out.toml.find("server_name = [\"b\"]"), out.toml.find("server_name = [\"a\"]")) << out.toml;
}

TEST(NginxMapper, OutputLoadsAsEcosystemToml) {
    TestDir dir;
    Output out = map_text(
        "upstream node_cluster { least_conn; server 127.0.0.1:3000; server 127.0.0.1:3001; keepalive 64; }\n"
        "server {\n  listen 127.0.0.1:8080;\n  server_name example.com;\n  root /var/www/app/public;\n"
        "  client_max_body_size 50m;\n  gzip on;\n"
        "  location /static/ { expires 30d; add_header Cache-Control \"public, immutable\"; access_log off; try_files $uri =404; }\n"
        "  location = /favicon.ico { access_log off; log_not_found off; }\n"
        "  location / { proxy_pass http://node_cluster; proxy_read_timeout 60s; proxy_set_header X-Forwarded-Host $host; }\n}\n"
        "server { listen 127.0.0.1:8081; return 301 https://$host$request_uri; }\n");
    auto loaded = load_string(out.toml, dir.file("ecosystem.toml"));
    ASSERT_TRUE(loaded) << loaded.error().message << "\n" << out.toml;
    ASSERT_EQ(loaded->servers.size(), 2u);
    const Server& s = loaded->servers[0];
    EXPECT_EQ(s.client_max_body_size, 50u << 20);
    ASSERT_EQ(s.locations.size(), 3u);
    EXPECT_EQ(s.locations[0].cache_control, "public, immutable");
    EXPECT_FALSE(s.locations[0].access_log);
    EXPECT_EQ(s.locations[1].path, "/favicon.ico");  // "= /favicon.ico": exact
    EXPECT_EQ(s.locations[2].upstream, "node_cluster");
    EXPECT_EQ(s.locations[2].balance, "least_conn");
    EXPECT_EQ(loaded->servers[1].locations[0].return_, "301 https://$host$request_uri");
    ASSERT_EQ(loaded->upstreams.size(), 1u);
    EXPECT_EQ(loaded->upstreams[0].servers.size(), 2u);
}

TEST(NginxParser, FollowsIncludesWithGlobsAndReportsMissingOnes) {
    TestDir dir;
    dir.write("conf.d/b.conf", "upstream b { server 127.0.0.1:2; }\n");
    dir.write("conf.d/a.conf", "upstream a { server 127.0.0.1:1; }\n");
    dir.write("sites/app.conf", "server {\n  include snippets/x.conf;\n}\n");
    dir.write("sites/snippets/x.conf", "listen 80;\n");
    const std::string main = dir.write("nginx.conf", "http {\n  include conf.d/*.conf;\n  include sites/app.conf;\n  include none/*.conf;\n}\n");
    auto tree = parse_file(main);
    ASSERT_TRUE(tree) << tree.error().message;
    const auto& http = tree->at(0).children;
    ASSERT_EQ(http.size(), 3u);
    EXPECT_EQ(http[0].args.at(0), "a");  // sorted, as glob(3) gives them
    EXPECT_EQ(http[1].args.at(0), "b");
    EXPECT_EQ(http[1].file, dir.file("conf.d/b.conf"));
    EXPECT_EQ(http[2].children.at(0).name, "listen");
    EXPECT_EQ(http[2].children.at(0).where(), dir.file("sites/snippets/x.conf") + ":1");

    const std::string broken = dir.write("broken.conf", "http {\n\n  include missing.conf;\n}\n");
    auto err = parse_file(broken);
    ASSERT_FALSE(err);
    EXPECT_EQ(err.error().message.rfind(broken + ":3: include missing.conf: no such file", 0), 0u) << err.error().message;
}

TEST(NginxParser, StructuralErrors) {
    const std::pair<std::string, std::string> cases[] = {
        {"server {\n listen 80;\n", "t.conf:2: unexpected end of file, expecting \"}\" (block opened at line 1)"},
        {"listen 80;\n}\n", "t.conf:2: unexpected \"}\""},
        {"server { listen 80 }", "t.conf:1: unexpected \"}\": \"listen\" is not terminated by \";\""},
        {"listen 80", "t.conf:1: unexpected end of file, expecting \";\" or \"}\""},
        {";", "t.conf:1: unexpected \";\""},
    };
    for (const auto& [text, message] : cases) {
        auto tree = parse_text(text, "t.conf");
        ASSERT_FALSE(tree) << text;
        EXPECT_EQ(tree.error().message, message) << text;
    }
}

TEST(AppsToml, WritesWhatDiffersFromDefaultsWithPm2Keys) {
    TestDir dir;
    dir.write("app.js", "");
    App a;
    a.name = "api";
    a.script = dir.file("app.js");
    a.cwd = dir.path().string();
    a.instances = "max";
    a.port = 3000;
    a.env = {{"NODE_ENV", "production"}};
    a.max_memory_restart = 1ull << 30;
    a.kill_timeout = Duration{3000};
    a.error_file = "/var/log/pm2/error.log";
    App plain;
    plain.name = "worker";
    plain.script = dir.file("app.js");
    plain.cwd = dir.path().string();
    plain.port = 4000;
    plain.instances = "2";
    const std::string toml = toml_text::render(apps_tables({a, plain}, dir.path().string()));
    for (const char* line : {"# pm2: script\nscript = \"app.js\"", "# pm2: instances\ninstances = \"max\"",
                             "# pm2: env.PORT\nport = 4000", "env = { NODE_ENV = \"production\" }",
                             "max_memory_restart = \"1G\"", "kill_timeout = \"3s\"",
                             "error_file = \"/var/log/pm2/error.log\"", "instances = 2"})
        EXPECT_NE(toml.find(line), std::string::npos) << line << "\n" << toml;
    EXPECT_EQ(toml.find("cwd"), std::string::npos) << toml;
    EXPECT_EQ(toml.find("port = 3000"), std::string::npos) << toml;  // the default
    auto loaded = load_string(toml, dir.file("ecosystem.toml"));
    ASSERT_TRUE(loaded) << loaded.error().message;
    ASSERT_EQ(loaded->apps.size(), 2u);
    App expected = a;
    expected.where = loaded->apps[0].where;
    EXPECT_EQ(loaded->apps[0], expected);
}

}  // namespace
}  // namespace ne::config::nginx
