// The loader's side of nginx's locations: the path spellings (regexes compiled at load),
// try_files, captures in templates, named locations, and the settings a location takes over
// from its server; with the errors each gives at its file:line:col.
#include <gtest/gtest.h>

#include "config/json.h"
#include "unit/config_load_fixture.h"

namespace ne::config {
namespace {

using namespace std::chrono_literals;
using testing::ErrorCase;
using testing::LoadTest;

const ErrorCase kLocationErrorCases[] = {
    {"bad regex", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\n"
     "path = '~ ^/(a'\nroot = \"/srv\"\n",
     4, 8, "servers.locations.path: '~ ^/(a' is not a valid regex: missing closing parenthesis at offset 4"},
    {"bad case-insensitive regex", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\n"
     "path = '~* [z-a]'\nroot = \"/srv\"\n",
     4, 8, "is not a valid regex: range out of order in character class at offset"},
    {"bad named location", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\n"
     "path = \"@a b\"\nreturn = \"204\"\n",
     4, 8, "servers.locations.path: '@a b' is not a named location"},
    {"try_files without root", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\n"
     "path = \"/\"\ntry_files = [\"$uri\", \"=404\"]\n",
     5, 13, "servers.locations.try_files: needs root or alias"},
    {"named location used as a file", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\n"
     "path = \"/\"\nroot = \"/srv\"\ntry_files = [\"@app\", \"/x\"]\n",
     6, 13, "servers.locations.try_files[0]: '@app': a named location is never matched against a path"},
    {"try_files fallback", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\n"
     "path = \"/\"\nroot = \"/srv\"\ntry_files = [\"$uri\", \"index.html\"]\n",
     6, 13, "the last element is the fallback: \"=CODE\" (200-599)"},
    {"try_files variable", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\n"
     "path = \"/\"\nroot = \"/srv\"\ntry_files = [\"$url\", \"=404\"]\n",
     6, 13, "unknown variable $url"},
    {"try_files beside an app", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\n"
     "path = \"/\"\nroot = \"/srv\"\napp = \"a\"\ntry_files = [\"$uri\", \"=404\"]\n",
     7, 13, "with app or upstream in the same location, put the app in a named location"},
    {"alias variables outside a regex", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\n"
     "path = \"/x/\"\nalias = \"/srv/$1\"\n",
     5, 9, "variables in alias need a regex location"},
    {"an unknown named capture", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\n"
     "path = '~ ^/(?<id>\\d+)$'\nreturn = \"200 $idx\"\n",
     5, 10, "unknown variable $idx"},
    {"location gzip type", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\n"
     "path = \"/\"\nroot = \"/srv\"\ngzip = 1\n",
     6, 8, "servers.locations.gzip: expected a table like the server's gzip, or false"},
    {"location gzip level", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\n"
     "path = \"/\"\nroot = \"/srv\"\ngzip = { level = 10 }\n",
     6, 18, "servers.locations.gzip.level: must be between 1 and 9"},
    {"location body size", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\n"
     "path = \"/\"\nroot = \"/srv\"\nclient_max_body_size = \"lots\"\n",
     6, 24, "servers.locations.client_max_body_size"},
};

// Cross-field checks (validate()), at the location.
const ErrorCase kLocationValidateCases[] = {
    {"try_files falls back to a named location that is not there",
     "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"/\"\nroot = \"/srv\"\n"
     "try_files = [\"$uri\", \"@app\"]\n", 3, 1,
     "location '/': try_files falls back to '@app', which no location of this server is"},
    {"a named location twice", "[[servers]]\nlisten = [\"127.0.0.1:8080\"]\n[[servers.locations]]\npath = \"@app\"\n"
     "return = \"204\"\n[[servers.locations]]\npath = \"@app\"\nreturn = \"204\"\n", 6, 1,
     "location '@app' is already defined in this server"},
    {"missing script", "[[apps]]\nname = \"a\"\nscript = \"missing.js\"\n", 1, 1,
     "missing.js: No such file or directory"},
    {"missing tls cert", "[[servers]]\nlisten = [\"127.0.0.1:8443\"]\ntls = { cert = \"none.pem\", key = \"key.pem\" }\n",
     3, 7, "none.pem: No such file or directory"},
    {"tls and plain on one address", "[[servers]]\nlisten = [\"127.0.0.1:8443\"]\ntls = { cert = \"cert.pem\", key = \"key.pem\" }\n\n"
     "[[servers]]\nlisten = [\"127.0.0.1:8443\"]\n", 6, 11, "listen 127.0.0.1:8443 is plain here but TLS in another server"},
    {"reload ports overlap another app", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = 3000\n\n"
     "[[apps]]\nname = \"b\"\nscript = \"app.js\"\nport = 13000\n", 6, 1,
     "app 'b' (port 13000) overlaps app 'a' (reload port 13000)"},
    {"reload ports overlap another app's reload ports", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = 3000\n"
     "instances = 2\nreload_port = 5000\n\n[[apps]]\nname = \"b\"\nscript = \"app.js\"\nport = 4000\nreload_port = 5001\n",
     8, 1, "app 'b' (reload port 5001) overlaps app 'a' (reload ports 5000-5001)"},
    {"reload_port inside the app's own ports", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = 3000\n"
     "instances = 4\nreload_port = 3002\n", 1, 1, "app 'a' (reload ports 3002-3005) overlaps app 'a' (ports 3000-3003)"},
    {"default reload ports past 65535", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = 60000\n", 1, 1,
     "app 'a': reload port 70000 (port + 10000 + instances - 1, as reload_port is not set) fall outside 1-65535"},
    {"listen clashes with a reload port", "[[apps]]\nname = \"a\"\nscript = \"app.js\"\nport = 3000\ninstances = 2\n\n"
     "[[servers]]\nlisten = [\"0.0.0.0:13001\"]\n", 8, 11, "listen 0.0.0.0:13001 clashes with app 'a' reload ports 13000-13001"},
    {"duplicate upstream", "[[upstreams]]\nname = \"u\"\nservers = [{ address = \"a:1\" }]\n"
     "[[upstreams]]\nname = \"u\"\nservers = [{ address = \"a:2\" }]\n", 4, 1, "duplicate upstream name 'u'"},
};

TEST_F(LoadTest, LocationErrorsPointAtFileLineColumn) {
    for (const auto& c : kLocationErrorCases) {
        SCOPED_TRACE(c.name);
        expect_error(c.toml, c.line, c.column, c.message);
    }
    for (const auto& c : kLocationValidateCases) {
        SCOPED_TRACE(c.name);
        expect_error(c.toml, c.line, c.column, c.message);
    }
}

TEST_F(LoadTest, NginxLocationSpellingsTryFilesAndPerLocationSettings) {
    auto c = load(R"toml(
[[apps]]
name = "web"
script = "app.js"

[[servers]]
listen = ["127.0.0.1:8080"]
client_max_body_size = "1k"
headers = { X-Server = "s" }
gzip = { level = 5 }

[[servers.locations]]
path = "/"
root = "public"
try_files = ["$uri", "$uri/", "/index.html"]

[[servers.locations]]
path = "^~ /static/"
root = "public"
gzip = false
headers = { Cache-Control = "public" }

[[servers.locations]]
path = '~* \.(js|css)$'
root = "public"

[[servers.locations]]
path = '~ ^/u/(?<user>\w+)/(\d+)$'
return = "302 /users/$user?page=$2"

[[servers.locations]]
path = '~ ^/img/(.+)$'
alias = "images/$1"

[[servers.locations]]
path = "= /upload"
app = "web"
client_max_body_size = "10m"
client_body_timeout = "5m"
gzip = { level = 9, types = ["application/json"] }

[[servers.locations]]
path = "@web"
app = "web"

[[servers.locations]]
path = "/app/"
root = "public"
try_files = ["$uri", "@web"]
)toml");
    ASSERT_TRUE(c.ok()) << c.error().message;
    const auto& locs = c->servers[0].locations;
    ASSERT_EQ(locs.size(), 8u);
    EXPECT_EQ(locs[0].match, Match::prefix);
    EXPECT_EQ(locs[0].try_files, (std::vector<std::string>{"$uri", "$uri/", "/index.html"}));
    EXPECT_FALSE(locs[0].client_max_body_size);  // absent: the server's
    EXPECT_FALSE(locs[0].headers);
    EXPECT_FALSE(locs[0].gzip);
    EXPECT_EQ(locs[1].match, Match::prefix_stop);
    EXPECT_EQ(locs[1].path, "/static/");
    ASSERT_TRUE(locs[1].gzip);
    EXPECT_FALSE(locs[1].gzip->enabled);
    EXPECT_EQ(response_headers(c->servers[0], &locs[1]), (std::map<std::string, std::string>{{"Cache-Control", "public"}}));
    EXPECT_EQ(response_headers(c->servers[0], &locs[0]), c->servers[0].headers);  // inherited
    EXPECT_EQ(locs[2].match, Match::regex_icase);
    EXPECT_EQ(locs[2].path, "\\.(js|css)$");
    EXPECT_EQ(spelling(locs[2]), "~* \\.(js|css)$");
    EXPECT_EQ(locs[3].match, Match::regex);
    EXPECT_EQ(locs[4].alias, dir_.path().string() + "/images/$1");
    EXPECT_EQ(locs[5].match, Match::exact);
    EXPECT_EQ(body_limit(c->servers[0], &locs[5]), 10u << 20);
    EXPECT_EQ(body_limit(c->servers[0], &locs[0]), 1024u);
    EXPECT_EQ(body_limit(c->servers[0], nullptr), 1024u);
    EXPECT_EQ(body_timeout(c->servers[0], &locs[5]), 5min);
    EXPECT_EQ(gzip_for(c->servers[0], &locs[5]).level, 9);
    EXPECT_EQ(gzip_for(c->servers[0], &locs[0]).level, 5);
    EXPECT_EQ(locs[6].match, Match::named);
    EXPECT_EQ(spelling(locs[6]), "@web");
    // Everything survives the trip to the proxy.
    auto back = from_json(to_json(*c));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->servers[0].locations, locs);
}

}  // namespace
}  // namespace ne::config
