#include <gtest/gtest.h>

#include "proxy/route/router.h"

namespace ne::proxy {
namespace {

config::Server server(std::vector<std::string> names, std::vector<std::string> paths,
                      std::string listen_host = "127.0.0.1", int port = 8080) {
    config::Server s;
    s.listen.push_back({listen_host, port, {}});
    s.server_name = std::move(names);
    for (auto& p : paths) {
        config::Location l;
        if (p.rfind("= ", 0) == 0) {
            l.exact = true;
            l.path = p.substr(2);
        } else {
            l.path = p;
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
