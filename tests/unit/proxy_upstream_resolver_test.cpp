#include <gtest/gtest.h>

#include "proxy/upstream/pool.h"
#include "proxy/upstream/resolver.h"

using namespace ne;
using namespace ne::proxy;
using std::chrono::milliseconds;

namespace {

config::Upstream upstream(std::vector<std::string> addresses) {
    config::Upstream u;
    u.name = "remote";
    for (auto& a : addresses) u.servers.push_back(config::UpstreamServer{a, 2, 3, milliseconds(7000)});
    return u;
}

std::vector<std::string> addresses(Pool& p) {
    std::vector<std::string> out;
    for (auto& b : p.backends()) out.push_back(b->address);
    return out;
}

}  // namespace

TEST(ProxyUpstreamResolver, ResolvesAgainAfterTheTtlOrTheConfiguredInterval) {
    EXPECT_EQ(UpstreamResolver::next_delay(milliseconds(0), 30, false), milliseconds(30000));
    EXPECT_EQ(UpstreamResolver::next_delay(milliseconds(0), 0, false), milliseconds(1000));  // TTL 0: once a second
    EXPECT_EQ(UpstreamResolver::next_delay(milliseconds(0), 86400, false), milliseconds(3600000));
    EXPECT_EQ(UpstreamResolver::next_delay(milliseconds(200), 30, false), milliseconds(200));
    EXPECT_EQ(UpstreamResolver::next_delay(milliseconds(0), 30, true), milliseconds(5000));
    EXPECT_EQ(UpstreamResolver::next_delay(milliseconds(200), 30, true), milliseconds(200));
}

TEST(ProxyUpstreamResolver, ResolveFamilyPicksTheAnswersBackendsComeFrom) {
    using V = std::vector<std::string>;
    const V v4{"10.0.0.1"}, v6{"2001:db8::1", "::1"}, none;
    EXPECT_EQ(UpstreamResolver::addresses("both", v4, v6), (V{"10.0.0.1", "2001:db8::1", "::1"}));
    EXPECT_EQ(UpstreamResolver::addresses("both", none, v6), v6);   // an AAAA-only name
    EXPECT_EQ(UpstreamResolver::addresses("ipv4", v4, v6), v4);
    EXPECT_EQ(UpstreamResolver::addresses("ipv4", none, v6), none);
    EXPECT_EQ(UpstreamResolver::addresses("ipv6", v4, v6), v6);
    EXPECT_EQ(UpstreamResolver::addresses("prefer_ipv4", v4, v6), v4);
    EXPECT_EQ(UpstreamResolver::addresses("prefer_ipv4", none, v6), v6);
    EXPECT_EQ(UpstreamResolver::addresses("prefer_ipv6", v4, v6), v6);
    EXPECT_EQ(UpstreamResolver::addresses("prefer_ipv6", v4, none), v4);
}

TEST(ProxyPoolSet, NamedServersWaitForTheResolverInsteadOfBlocking) {
    PoolSet pools;
    auto errors = pools.sync_upstreams({upstream({"10.0.0.1:80", "backend.test:3000"})});
    EXPECT_TRUE(errors.empty());
    EXPECT_EQ(addresses(pools.upstream("remote")), std::vector<std::string>{"10.0.0.1:80"});
}

TEST(ProxyPoolSet, ResolvedAddressesComeAndGoWithTheRecord) {
    PoolSet pools;
    auto u = upstream({"10.0.0.1:80", "backend.test:3000"});
    pools.sync_upstreams({u});
    const auto& named = u.servers[1];
    EXPECT_TRUE(pools.set_resolved("remote", named, 3000, {"10.1.0.1", "10.1.0.2"}));
    Pool& p = pools.upstream("remote");
    EXPECT_EQ(addresses(p), (std::vector<std::string>{"10.0.0.1:80", "10.1.0.1:3000", "10.1.0.2:3000"}));
    EXPECT_EQ(p.backends()[1]->weight, 2);   // the server's settings apply to each address
    EXPECT_EQ(p.backends()[1]->max_fails, 3);
    auto kept = p.backends()[2];
    kept->fails = 1;                         // state of an address that stays is kept
    EXPECT_FALSE(pools.set_resolved("remote", named, 3000, {"10.1.0.1", "10.1.0.2"}));
    EXPECT_TRUE(pools.set_resolved("remote", named, 3000, {"10.1.0.2", "10.1.0.3"}));
    EXPECT_EQ(addresses(p), (std::vector<std::string>{"10.0.0.1:80", "10.1.0.2:3000", "10.1.0.3:3000"}));
    EXPECT_EQ(p.backends()[1], kept);
    EXPECT_EQ(kept->fails, 1);
    // A config change keeps what was resolved; a name that no longer exists empties its share.
    pools.sync_upstreams({u});
    EXPECT_EQ(addresses(p).size(), 3u);
    EXPECT_TRUE(pools.set_resolved("remote", named, 3000, {}));
    EXPECT_EQ(addresses(p), std::vector<std::string>{"10.0.0.1:80"});
    EXPECT_EQ(kept->admin, Backend::Admin::removed);
}
