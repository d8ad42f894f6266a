// Exact pick sequences per policy, Envoy style: hosts in, picks out.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/upstream/balancer.h"

namespace ne::proxy {
namespace {

class BalancerTest : public ::testing::Test {
protected:
    Backend* add(const std::string& name, int weight = 1) {
        auto b = std::make_shared<Backend>();
        b->id = next_id_++;
        b->address = name;
        b->weight = weight;
        pool_.add(b);
        return b.get();
    }
    // Picks n times, counting each pick in flight as a caller would (and releasing it when
    // `release` is set), and returns the names.
    std::vector<std::string> picks(const Balancer& policy, int n, bool release = true, PickContext ctx = {}) {
        std::vector<std::string> out;
        for (int i = 0; i < n; ++i) {
            Backend* b = policy.pick(pool_, ctx);
            out.push_back(b ? b->address : "-");
            if (b && !release) Pool::begin_request(*b);
        }
        return out;
    }
    using V = std::vector<std::string>;

    Pool pool_{"api"};
    uint64_t next_id_ = 1;
};

TEST_F(BalancerTest, RoundRobinNoHosts) {
    EXPECT_EQ(picks(round_robin_balancer(), 2), (V{"-", "-"}));
}

TEST_F(BalancerTest, RoundRobinSingleHost) {
    add("a");
    EXPECT_EQ(picks(round_robin_balancer(), 3), (V{"a", "a", "a"}));
}

TEST_F(BalancerTest, RoundRobinRotatesInPoolOrder) {
    add("a");
    add("b");
    add("c");
    EXPECT_EQ(picks(round_robin_balancer(), 7), (V{"a", "b", "c", "a", "b", "c", "a"}));
}

TEST_F(BalancerTest, RoundRobinWeightedIsSmooth) {
    add("a", 5);
    add("b");
    add("c");
    // nginx's smooth weighted round robin: a a b a c a a, then again.
    EXPECT_EQ(picks(round_robin_balancer(), 14),
              (V{"a", "a", "b", "a", "c", "a", "a", "a", "a", "b", "a", "c", "a", "a"}));
}

TEST_F(BalancerTest, RoundRobinSkipsDrainingDownAndTried) {
    Backend* a = add("a");
    Backend* b = add("b");
    add("c");
    add("d");
    a->admin = Backend::Admin::draining;
    b->down_until = Clock::now() + std::chrono::hours(1);
    const uint64_t tried[] = {3};  // c
    PickContext ctx;
    ctx.now = Clock::now();
    ctx.tried = tried;
    EXPECT_EQ(picks(round_robin_balancer(), 3, true, ctx), (V{"d", "d", "d"}));
}

TEST_F(BalancerTest, AllDownStillServedBySecondPass) {
    Backend* a = add("a");
    Backend* b = add("b");
    a->down_until = b->down_until = Clock::now() + std::chrono::hours(1);
    PickContext ctx;
    ctx.now = Clock::now();
    EXPECT_EQ(round_robin_balancer().pick(pool_, ctx), nullptr);
    Backend* first = pick_backend(round_robin_balancer(), pool_, ctx);
    Backend* second = pick_backend(round_robin_balancer(), pool_, ctx);
    ASSERT_NE(first, nullptr);
    ASSERT_NE(second, nullptr);
    EXPECT_NE(first, second);
}

TEST_F(BalancerTest, DrainingIsNeverChosenEvenInSecondPass) {
    Backend* a = add("a");
    a->admin = Backend::Admin::draining;
    EXPECT_EQ(pick_backend(round_robin_balancer(), pool_, {}), nullptr);
}

TEST_F(BalancerTest, LeastConnPicksFewestInFlight) {
    Backend* a = add("a");
    add("b");
    Backend* c = add("c");
    a->in_flight = 2;
    c->in_flight = 1;
    EXPECT_EQ(picks(least_conn_balancer(), 1), (V{"b"}));
}

TEST_F(BalancerTest, LeastConnTiesRotateAmongTheTiedOnly) {
    add("a");
    add("b");
    add("c");
    // Nothing released: each pick adds one in flight. As in nginx, round-robin credit moves
    // only among tied backends, and a backend that is alone in the lead is taken without
    // paying for it: a | a b tie: b | c alone | 3-way tie, c richest: c | a b tie: b | a alone.
    EXPECT_EQ(picks(least_conn_balancer(), 6, false), (V{"a", "b", "c", "c", "b", "a"}));
}

TEST_F(BalancerTest, LeastConnTiesRotateWhenReleased) {
    add("a");
    add("b");
    // Always 0 in flight: pure round robin among the tied.
    EXPECT_EQ(picks(least_conn_balancer(), 4), (V{"a", "b", "a", "b"}));
}

TEST_F(BalancerTest, LeastConnWeighted) {
    Backend* a = add("a", 2);
    Backend* b = add("b", 1);
    a->in_flight = 1;  // 1/2 per weight
    b->in_flight = 1;  // 1/1
    EXPECT_EQ(picks(least_conn_balancer(), 1), (V{"a"}));
    a->in_flight = 3;  // 3/2 > 1/1
    EXPECT_EQ(picks(least_conn_balancer(), 1), (V{"b"}));
}

TEST_F(BalancerTest, IpHashFollowsNginxHash) {
    add("a");
    add("b");
    add("c");
    std::vector<std::string> got;
    for (uint8_t i = 0; i < 8; ++i) {
        const uint8_t key[] = {10, 0, i};
        PickContext ctx;
        ctx.client_key = key;
        got.push_back(ip_hash_balancer().pick(pool_, ctx)->address);
    }
    EXPECT_EQ(got, (V{"a", "b", "c", "a", "b", "c", "a", "b"}));
}

TEST_F(BalancerTest, IpHashIsStickyAndRehashesAroundDraining) {
    add("a");
    Backend* b = add("b");
    add("c");
    const uint8_t key[] = {10, 1, 2};
    PickContext ctx;
    ctx.client_key = key;
    EXPECT_EQ(picks(ip_hash_balancer(), 3, true, ctx), (V{"b", "b", "b"}));
    b->admin = Backend::Admin::draining;
    EXPECT_EQ(picks(ip_hash_balancer(), 3, true, ctx), (V{"c", "c", "c"}));
}

TEST_F(BalancerTest, IpHashIpv6UsesWholeAddress) {
    add("a");
    add("b");
    add("c");
    uint8_t key[16] = {0x20, 0x01, 0x0d, 0xb8};
    key[15] = 1;
    PickContext ctx;
    ctx.client_key = key;
    EXPECT_EQ(picks(ip_hash_balancer(), 2, true, ctx), (V{"c", "c"}));
}

TEST_F(BalancerTest, IpHashWithoutKeyIsRoundRobin) {
    add("a");
    add("b");
    EXPECT_EQ(picks(ip_hash_balancer(), 3), (V{"a", "b", "a"}));
}

TEST(BalancerNames, KnownAndUnknown) {
    EXPECT_EQ(balancer_named("round_robin"), &round_robin_balancer());
    EXPECT_EQ(balancer_named("least_conn"), &least_conn_balancer());
    EXPECT_EQ(balancer_named("ip_hash"), &ip_hash_balancer());
    EXPECT_EQ(balancer_named("random"), nullptr);
}

}  // namespace
}  // namespace ne::proxy
