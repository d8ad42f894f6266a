#include <gtest/gtest.h>

#include "config/json.h"
#include "config/load.h"

using namespace ne::config;

TEST(ConfigUpstreamResolve, ReadsResolveAndResolverAndRoundTrips) {
    auto c = load_string(R"([[upstreams]]
name = "remote"
servers = [ { address = "api.internal:3000" } ]
resolve = "5s"
resolver = "127.0.0.1:5353"
)", "/x/ecosystem.toml");
    ASSERT_TRUE(c.ok()) << c.error().message;
    ASSERT_EQ(c->upstreams.size(), 1u);
    EXPECT_EQ(c->upstreams[0].resolve, Duration(5000));
    EXPECT_EQ(c->upstreams[0].resolver, "127.0.0.1:5353");
    auto back = from_json(to_json(*c));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->upstreams[0], c->upstreams[0]);
}

TEST(ConfigUpstreamResolve, DefaultsFollowTheTtlAndTheSystemResolvers) {
    auto c = load_string("[[upstreams]]\nname = \"r\"\nservers = [ { address = \"a.test:80\" } ]\n", "/x/e.toml");
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->upstreams[0].resolve, Duration(0));
    EXPECT_EQ(c->upstreams[0].resolver, "");
}

TEST(ConfigUpstreamResolve, ABadResolverIsReportedWithItsPlace) {
    auto c = load_string("[[upstreams]]\nname = \"r\"\nservers = [ { address = \"a.test:80\" } ]\nresolver = \"nope\"\n",
                         "/x/e.toml");
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().message.find("/x/e.toml:4:"), std::string::npos) << c.error().message;
}
