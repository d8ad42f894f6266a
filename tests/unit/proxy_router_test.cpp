#include <gtest/gtest.h>

#include "proxy/route/router.h"
#include "proxy/route/uri.h"

namespace ne::proxy {
namespace {

config::Server server(std::vector<std::string> names, std::vector<std::string> paths,
                      std::string listen_host = "127.0.0.1", int port = 8080) {
    config::Server s;
    s.listen.push_back({listen_host, port, {}});
    s.server_name = std::move(names);
    // The spellings of ecosystem.toml: "= /x", "^~ /x", "~ re", "~* re", "@name", "/x".
    static const std::pair<std::string, config::Match> kModifiers[] = {
        {"= ", config::Match::exact}, {"^~ ", config::Match::prefix_stop}, {"~* ", config::Match::regex_icase},
        {"~ ", config::Match::regex}};
    for (auto& p : paths) {
        config::Location l;
        l.path = p;
        if (p.starts_with('@')) l.match = config::Match::named;
        for (const auto& [m, match] : kModifiers) {
            if (!p.starts_with(m)) continue;
            l.match = match;
            l.path = p.substr(m.size());
            break;
        }
        s.locations.push_back(l);
    }
    return s;
}

TEST(Router, ServerByNameWildcardCatchAllAndDefault) {
    config::Config c;
    c.servers.push_back(server({"first.test"}, {"/"}));        // 0: default (first)
    c.servers.push_back(server({"api.example.com"}, {"/"}));   // 1
    c.servers.push_back(server({"*.example.com"}, {"/"}));     // 2
    c.servers.push_back(server({"*.b.example.com"}, {"/"}));   // 3: longer wildcard
    RouteTable rt(c);
    const std::string a = "127.0.0.1:8080";
    EXPECT_EQ(rt.server_for(a, "api.example.com"), 1);
    EXPECT_EQ(rt.server_for(a, "API.Example.COM:8080"), 1);
    EXPECT_EQ(rt.server_for(a, "api.example.com."), 1);
    EXPECT_EQ(rt.server_for(a, "www.example.com"), 2);
    EXPECT_EQ(rt.server_for(a, "x.b.example.com"), 3);
    EXPECT_EQ(rt.server_for(a, "example.com"), 0);  // "*.example.com" needs a label before it
    EXPECT_EQ(rt.server_for(a, "other.test"), 0);
    EXPECT_EQ(rt.server_for(a, ""), 0);
    EXPECT_EQ(rt.default_server(a), 0);
}

TEST(Router, CatchAllBeatsFirstServerForUnknownNames) {
    config::Config c;
    c.servers.push_back(server({"named.test"}, {"/"}));
    c.servers.push_back(server({}, {"/"}));
    RouteTable rt(c);
    EXPECT_EQ(rt.server_for("127.0.0.1:8080", "named.test"), 0);
    EXPECT_EQ(rt.server_for("127.0.0.1:8080", "anything.test"), 1);
}

TEST(Router, ServersAreSeparatedByListenAddress) {
    config::Config c;
    c.servers.push_back(server({"a.test"}, {"/"}, "127.0.0.1", 8080));
    c.servers.push_back(server({"a.test"}, {"/"}, "127.0.0.1", 9090));
    c.servers.push_back(server({}, {"/"}, "::1", 9090));
    RouteTable rt(c);
    EXPECT_EQ(rt.server_for("127.0.0.1:8080", "a.test"), 0);
    EXPECT_EQ(rt.server_for("127.0.0.1:9090", "a.test"), 1);
    EXPECT_EQ(rt.server_for("[::1]:9090", "[::1]:9090"), 2);
    EXPECT_EQ(rt.server_for("127.0.0.1:7070", "a.test"), -1);
    EXPECT_EQ(rt.default_server("127.0.0.1:7070"), -1);
}

TEST(Router, FirstServerToClaimANameKeepsIt) {
    config::Config c;
    c.servers.push_back(server({"dup.test"}, {"/"}));
    c.servers.push_back(server({"dup.test"}, {"/"}));
    RouteTable rt(c);
    EXPECT_EQ(rt.server_for("127.0.0.1:8080", "dup.test"), 0);
}

TEST(Router, LocationExactFirstThenLongestPrefix) {
    config::Config c;
    c.servers.push_back(server({}, {"/", "/api/", "/api/v2/", "= /api/", "= /exact"}));
    RouteTable rt(c);
    EXPECT_EQ(rt.location_for(0, "/api/"), 3);
    EXPECT_EQ(rt.location_for(0, "/api/x"), 1);
    EXPECT_EQ(rt.location_for(0, "/api/v2/users"), 2);
    EXPECT_EQ(rt.location_for(0, "/apix"), 0);
    EXPECT_EQ(rt.location_for(0, "/exact"), 4);
    EXPECT_EQ(rt.location_for(0, "/exact/more"), 0);
    EXPECT_EQ(rt.location_for(1, "/"), -1);
    EXPECT_EQ(rt.location_for(-1, "/"), -1);
}

TEST(Router, NoLocationMatches) {
    config::Config c;
    c.servers.push_back(server({}, {"/api/", "= /x"}));
    RouteTable rt(c);
    EXPECT_EQ(rt.location_for(0, "/"), -1);
    EXPECT_EQ(rt.location_for(0, "/x/"), -1);
    EXPECT_EQ(rt.location_for(0, "*"), -1);
}

TEST(Router, EqualPrefixesFirstWrittenWins) {
    config::Config c;
    c.servers.push_back(server({}, {"/a/", "/a/"}));
    RouteTable rt(c);
    EXPECT_EQ(rt.location_for(0, "/a/b"), 0);
}

// nginx's order: exact; else the longest prefix, final when it is "^~"; else the first regex
// in file order; else that longest prefix.
TEST(Router, RegexOrderFollowsNginx) {
    config::Config c;
    c.servers.push_back(server({}, {"/",                      // 0
                                    "/static/",               // 1
                                    "^~ /assets/",            // 2
                                    "~* \\.(js|css)$",        // 3
                                    "~ \\.css$",              // 4: never reached, 3 comes first
                                    "~ ^/static/(?<name>[a-z]+)\\.png$",  // 5
                                    "= /app.js",              // 6
                                    "@fallback"}));           // 7
    RouteTable rt(c);
    EXPECT_EQ(rt.location_for(0, "/app.js"), 6);              // exact beats the regex
    EXPECT_EQ(rt.location_for(0, "/x/app.JS"), 3);            // ~* is case-insensitive
    EXPECT_EQ(rt.location_for(0, "/static/site.css"), 3);     // a regex beats a plain prefix
    EXPECT_EQ(rt.location_for(0, "/assets/site.css"), 2);     // ^~ stops the regex search
    EXPECT_EQ(rt.location_for(0, "/static/logo.png"), 5);
    EXPECT_EQ(rt.location_for(0, "/static/logo.gif"), 1);     // no regex: the longest prefix
    EXPECT_EQ(rt.location_for(0, "/other"), 0);
    EXPECT_EQ(rt.location_for(0, "/@fallback"), 0);           // named: never a request's
    EXPECT_EQ(rt.named_location(0, "@fallback"), 7);
    EXPECT_EQ(rt.named_location(0, "@other"), -1);
    EXPECT_EQ(rt.named_location(3, "@fallback"), -1);
}

TEST(Router, ShorterStopPrefixDoesNotStopALongerPrefix) {
    // Only the longest prefix counts: "^~ /a/" does not stop the regexes for "/a/b/x.css",
    // whose longest prefix "/a/b/" is a plain one.
    config::Config c;
    c.servers.push_back(server({}, {"^~ /a/", "/a/b/", "~ \\.css$"}));
    RouteTable rt(c);
    EXPECT_EQ(rt.location_for(0, "/a/x.css"), 0);
    EXPECT_EQ(rt.location_for(0, "/a/b/x.css"), 2);
    EXPECT_EQ(rt.location_for(0, "/a/b/x.js"), 1);
}

TEST(Router, RegexCapturesViewThePath) {
    config::Config c;
    c.servers.push_back(server({}, {"/", "~ ^/u/(\\d+)/(?<tab>\\w+)$"}));
    RouteTable rt(c);
    config::Captures caps;
    const std::string path = "/u/42/posts";
    ASSERT_EQ(rt.location_for(0, path, &caps), 1);
    EXPECT_EQ(caps.group(0), "/u/42/posts");
    EXPECT_EQ(caps.group(1), "42");
    EXPECT_EQ(caps.group(2), "posts");
    EXPECT_EQ(caps.group(3), "");
    EXPECT_EQ(rt.capture_names(0, 1), (config::CaptureNames{{"tab", 2}}));
    EXPECT_TRUE(rt.capture_names(0, 0).empty());
    // A prefix winning clears the groups of an earlier match.
    ASSERT_EQ(rt.location_for(0, "/u/x", &caps), 0);
    EXPECT_EQ(caps.count(), 0u);
    EXPECT_EQ(caps.group(1), "");
}

TEST(Router, NormalizeUri) {
    std::string buf;
    const std::string clean = "/a/b.css";
    auto n = normalize_uri(clean, buf);
    EXPECT_EQ(n.status, 0);
    EXPECT_EQ(n.path.data(), clean.data());  // nothing to do: the same bytes, no copy
    EXPECT_EQ(normalize_uri("/a//b/./c/../d", buf).path, "/a/b/d");
    EXPECT_EQ(normalize_uri("/a/%62%2E%63ss", buf).path, "/a/b.css");
    EXPECT_EQ(normalize_uri("/a/%2e%2e/x", buf).path, "/x");
    EXPECT_EQ(normalize_uri("/a/b/..", buf).path, "/a/");
    EXPECT_EQ(normalize_uri("/a/.", buf).path, "/a/");
    EXPECT_EQ(normalize_uri("/.well-known/x", buf).path, "/.well-known/x");
    EXPECT_EQ(normalize_uri("/..", buf).status, 400);
    EXPECT_EQ(normalize_uri("/a/../..", buf).status, 400);
    EXPECT_EQ(normalize_uri("/a%zz", buf).status, 400);
    EXPECT_EQ(normalize_uri("/a%2", buf).status, 400);
    EXPECT_EQ(normalize_uri("/a%2fb", buf).status, 404);
    EXPECT_EQ(normalize_uri("/a%00", buf).status, 404);
    EXPECT_EQ(normalize_uri("/a\\b", buf).status, 404);
    EXPECT_EQ(normalize_uri("*", buf).path, "*");
}

TEST(Router, TargetPath) {
    EXPECT_EQ(target_path("/a/b?x=1"), "/a/b");
    EXPECT_EQ(target_path("/a#frag"), "/a");
    EXPECT_EQ(target_path("/"), "/");
    EXPECT_EQ(target_path("http://h.test/a/b?q"), "/a/b");
    EXPECT_EQ(target_path("http://h.test"), "/");
    EXPECT_EQ(target_path("*"), "*");
}

TEST(Router, SplitTarget) {
    auto abs = split_target("http://other.example:8080/abs?q=1");
    EXPECT_EQ(abs.authority, "other.example:8080");
    EXPECT_EQ(abs.origin, "/abs?q=1");
    auto bare = split_target("https://h.test");
    EXPECT_EQ(bare.authority, "h.test");
    EXPECT_EQ(bare.origin, "/");
    auto origin = split_target("/a?b");
    EXPECT_EQ(origin.authority, "");
    EXPECT_EQ(origin.origin, "/a?b");
    EXPECT_EQ(split_target("*").origin, "*");
}

TEST(Router, NormalizeHost) {
    char buf[16];
    EXPECT_EQ(normalize_host("Ex.COM:80", buf, sizeof buf), "ex.com");
    EXPECT_EQ(normalize_host("[::1]:80", buf, sizeof buf), "[::1]");
    EXPECT_EQ(normalize_host("a.very.long.host.name", buf, sizeof buf), "");
}

}  // namespace
}  // namespace ne::proxy
