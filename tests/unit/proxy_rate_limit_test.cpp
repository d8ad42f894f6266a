#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "proxy/limits/rate_limit.h"
#include "proxy/limits/rate_limit_zone.h"
#include "unit/child_process.h"

namespace ne::proxy {
namespace {

// One request of a sequence and what nginx's limit_req answers to it.
struct Step {
    uint64_t at_ms;
    bool reject;
    uint64_t excess;
    uint64_t delay_ms = 0;
    uint32_t retry_after_s = 0;
};

Limit limit(uint64_t rate_milli, uint64_t burst, bool nodelay) { return {rate_milli, burst * 1000, nodelay}; }

void expect_sequence(const Limit& l, const std::vector<Step>& steps) {
    Bucket b;
    for (size_t i = 0; i < steps.size(); ++i) {
        const Step& s = steps[i];
        const Decision d = decide(b, s.at_ms, l);
        EXPECT_EQ(d.reject, s.reject) << "request " << i << " at " << s.at_ms << " ms";
        EXPECT_EQ(d.allow(), !s.reject) << "request " << i;
        EXPECT_EQ(d.excess, s.excess) << "request " << i;
        EXPECT_EQ(d.delay_ms, s.delay_ms) << "request " << i;
        EXPECT_EQ(d.retry_after_s, s.retry_after_s) << "request " << i;
    }
}

TEST(RateLimit, BurstNAdmitsNPlusOneBackToBack) {
    // 10r/s burst=5 nodelay: six at once, the seventh is refused until 100 ms drained one.
    expect_sequence(limit(10000, 5, true), {
                                               {0, false, 0},
                                               {0, false, 1000},
                                               {0, false, 2000},
                                               {0, false, 3000},
                                               {0, false, 4000},
                                               {0, false, 5000},
                                               {0, true, 6000, 0, 1},
                                               {99, true, 5010, 0, 1},
                                               {100, false, 5000},
                                               {100, true, 6000, 0, 1},
                                           });
}

TEST(RateLimit, WithoutNodelayAdmittedRequestsWaitExcessOverRate) {
    expect_sequence(limit(10000, 3, false), {
                                                {0, false, 0, 0},
                                                {0, false, 1000, 100},
                                                {0, false, 2000, 200},
                                                {0, false, 3000, 300},
                                                {0, true, 4000, 0, 1},
                                                {250, false, 1500, 150},
                                            });
}

TEST(RateLimit, NoBurstSpacesRequestsByTheRate) {
    // 1r/s: the bucket drains 1 per ms; a request 500 ms later would leave 500 in it.
    expect_sequence(limit(1000, 0, true), {
                                              {0, false, 0},
                                              {500, true, 500, 0, 1},
                                              {999, true, 1, 0, 1},
                                              {1000, false, 0},
                                              {5000, false, 0},
                                          });
}

TEST(RateLimit, PerMinuteRatesUseNginxIntegerRate) {
    // 5r/m is 83 milli-requests per second (5000 / 60, truncated): the next request passes
    // after 12049 ms, not 12000.
    const Limit l = Limit::from({.enabled = true, .rate_per_sec = 5.0 / 60, .burst = 0, .nodelay = true});
    ASSERT_EQ(l.rate, 83u);
    expect_sequence(l, {
                           {0, false, 0},
                           {0, true, 1000, 0, 13},
                           {12048, true, 1, 0, 1},
                           {12049, false, 0},
                       });
}

TEST(RateLimit, RetryAfterCountsFromTheLastAdmittedRequest) {
    // 1r/s burst=2: three at t=0 fill it (excess 2000); at t=300 the bucket needs 1000 more
    // drained, which takes until t=1000: 700 ms from now, rounded up to 1 s. At 0.5r/s the
    // same 1000 takes 2000 ms: 2 s.
    expect_sequence(limit(1000, 2, true), {
                                              {0, false, 0},
                                              {0, false, 1000},
                                              {0, false, 2000},
                                              {300, true, 2700, 0, 1},
                                          });
    expect_sequence(limit(500, 2, true), {
                                             {0, false, 0},
                                             {0, false, 1000},
                                             {0, false, 2000},
                                             {0, true, 3000, 0, 2},
                                             {1999, true, 2001, 0, 1},
                                             {2000, false, 2000},
                                         });
}

TEST(RateLimit, RejectionLeavesTheBucketUnchanged) {
    const Limit l = limit(1000, 0, true);
    Bucket b;
    ASSERT_TRUE(decide(b, 0, l).allow());
    const Bucket before = b;
    ASSERT_TRUE(decide(b, 10, l).reject);
    EXPECT_EQ(b.last_ms, before.last_ms);
    EXPECT_EQ(b.excess, before.excess);
}

TEST(RateLimit, AClockSteppingBackCountsAsTimePassed) {
    expect_sequence(limit(1000, 0, true), {
                                              {5000, false, 0},
                                              {4000, false, 0},   // |4000 - 5000| = 1000 ms drained
                                              {4000, true, 1000, 0, 1},
                                          });
}

TEST(RateLimit, LongIdleDrainsWithoutOverflow) {
    expect_sequence(limit(1'000'000'000, 1, true), {
                                                       {0, false, 0},
                                                       {0, false, 1000},
                                                       {uint64_t{1} << 62, false, 0},
                                                   });
}

TEST(RateLimit, LimitFromConfig) {
    const Limit a = Limit::from({.enabled = true, .rate_per_sec = 30, .burst = 50, .nodelay = true});
    EXPECT_EQ(a.rate, 30000u);
    EXPECT_EQ(a.burst, 50000u);
    EXPECT_TRUE(a.nodelay);
    EXPECT_EQ(Limit::from({.rate_per_sec = 0.3}).rate, 300u);
    EXPECT_EQ(Limit::from({.rate_per_sec = 0}).rate, 1u);   // never a division by zero
    EXPECT_EQ(Limit::from({.rate_per_sec = 1, .burst = -3}).burst, 0u);
}

// ---- SharedZone ----

SharedZone attach_new(size_t buckets) {
    auto fd = SharedZone::create(SharedZone::bytes_for(buckets));
    EXPECT_TRUE(fd.ok()) << fd.error().message;
    auto zone = SharedZone::attach(fd->get());
    EXPECT_TRUE(zone.ok()) << zone.error().message;
    return std::move(zone).value();
}

using ne::testing::in_child;
using ne::testing::StartGate;
using ne::testing::wait_exit;

TEST(SharedZone, CreateRefusesTooSmallAndAttachRefusesStrangers) {
    auto small = SharedZone::create(64);
    ASSERT_FALSE(small.ok());
    EXPECT_NE(small.error().message.find("too small"), std::string::npos) << small.error().message;

    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    UniqueFd r(p[0]), w(p[1]);
    auto pipe_zone = SharedZone::attach(r.get());
    ASSERT_FALSE(pipe_zone.ok());
    EXPECT_NE(pipe_zone.error().message.find("fd " + std::to_string(r.get())), std::string::npos);

    UniqueFd zeros(::memfd_create("not-a-zone", MFD_CLOEXEC));
    ASSERT_TRUE(zeros.valid());
    ASSERT_EQ(::ftruncate(zeros.get(), 4096), 0);
    auto stranger = SharedZone::attach(zeros.get());
    ASSERT_FALSE(stranger.ok());
    EXPECT_NE(stranger.error().message.find("not a nodeedge rate limit zone"), std::string::npos);
}

TEST(SharedZone, SizeIsSealed) {
    auto fd = SharedZone::create(SharedZone::bytes_for(100));
    ASSERT_TRUE(fd.ok()) << fd.error().message;
    EXPECT_NE(::ftruncate(fd->get(), 64), 0);
    EXPECT_NE(::ftruncate(fd->get(), 1 << 20), 0);
    auto zone = SharedZone::attach(fd->get());
    ASSERT_TRUE(zone.ok());
    EXPECT_EQ(zone->capacity(), 100u);
}

TEST(SharedZone, KeyHashIsSharedByAttachmentsAndSeparatesScopes) {
    auto fd = SharedZone::create(SharedZone::bytes_for(64));
    ASSERT_TRUE(fd.ok());
    auto a = SharedZone::attach(fd->get());
    auto b = SharedZone::attach(fd->get());
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->key_hash("/api/", "10.0.0.1"), b->key_hash("/api/", "10.0.0.1"));
    EXPECT_NE(a->key_hash("/api/", "10.0.0.1"), a->key_hash("/api/", "10.0.0.2"));
    EXPECT_NE(a->key_hash("/api/", "10.0.0.1"), a->key_hash("/web/", "10.0.0.1"));
    EXPECT_NE(a->key_hash("ab", "c"), a->key_hash("a", "bc"));
    // Another zone has another seed.
    SharedZone other = attach_new(64);
    EXPECT_NE(a->key_hash("/api/", "10.0.0.1"), other.key_hash("/api/", "10.0.0.1"));
}

TEST(SharedZone, LimitKeepsOneBucketPerKey) {
    SharedZone zone = attach_new(1024);
    const Limit l = limit(1000, 1, true);
    const uint64_t x = zone.key_hash("/", "x"), y = zone.key_hash("/", "y");
    EXPECT_TRUE(zone.limit(x, 0, l)->allow());
    EXPECT_TRUE(zone.limit(x, 0, l)->allow());
    EXPECT_TRUE(zone.limit(x, 0, l)->reject);
    EXPECT_TRUE(zone.limit(y, 0, l)->allow());   // y has its own bucket
    EXPECT_TRUE(zone.limit(x, 1000, l)->allow());
}

TEST(SharedZone, FullWindowReusesTheLeastRecentlyUsedBucket) {
    SharedZone zone = attach_new(SharedZone::kProbeWindow);   // every key shares one window
    ASSERT_EQ(zone.capacity(), SharedZone::kProbeWindow);
    const Limit l = limit(1000, 5, true);
    for (uint64_t key = 1; key <= SharedZone::kProbeWindow; ++key) ASSERT_TRUE(zone.limit(key, key, l).ok());
    ASSERT_TRUE(zone.limit(1, 20, l).ok());                   // key 2 is now the least recent
    ASSERT_TRUE(zone.limit(100, 21, l).ok());                 // a ninth key takes key 2's bucket
    auto seen = [&](uint64_t key) { return zone.with_bucket(key, 22, [](Bucket& b) { return b.seen; }).value(); };
    EXPECT_TRUE(seen(1));
    EXPECT_TRUE(seen(3));
    EXPECT_TRUE(seen(100));
    EXPECT_FALSE(seen(2));   // forgotten: starts over
}

TEST(SharedZone, TwoProcessesHammeringOneKeySeeEveryRequest) {
    auto fd = SharedZone::create(SharedZone::bytes_for(256));
    ASSERT_TRUE(fd.ok());
    // No drain (time stands still) and a burst too big to reach: each request adds exactly
    // 1000, so a lost update would show in the final excess.
    constexpr int kPerChild = 200000;
    const Limit l = limit(1000, 1'000'000, true);
    const StartGate gate;
    auto hammer = [&] {
        auto zone = SharedZone::attach(fd->get());   // as an exec'd proxy worker would
        if (!zone.ok()) return 2;
        const uint64_t key = zone->key_hash("/", "client");
        if (!gate.wait()) return 5;
        for (int i = 0; i < kPerChild; ++i)
            if (!zone->limit(key, 7, l).ok()) return 3;
        return 0;
    };
    const pid_t a = in_child(hammer), b = in_child(hammer);
    gate.open(2);
    EXPECT_EQ(wait_exit(a), 0);
    EXPECT_EQ(wait_exit(b), 0);
    auto zone = SharedZone::attach(fd->get());
    ASSERT_TRUE(zone.ok());
    const auto excess = zone->with_bucket(zone->key_hash("/", "client"), 7, [](Bucket& b) { return b.excess; });
    ASSERT_TRUE(excess.ok());
    EXPECT_EQ(excess.value(), uint64_t{2 * kPerChild - 1} * 1000);   // the first request starts at 0
}

TEST(SharedZone, TwoProcessesShareOneBurst) {
    auto fd = SharedZone::create(SharedZone::bytes_for(256));
    ASSERT_TRUE(fd.ok());
    constexpr int kBurst = 100000;
    const Limit l = limit(1000, kBurst, true);
    const StartGate gate;
    int counts[2];
    ASSERT_EQ(::pipe(counts), 0);
    UniqueFd rd(counts[0]), wr(counts[1]);
    auto hammer = [&] {
        auto zone = SharedZone::attach(fd->get());
        if (!zone.ok()) return 2;
        const uint64_t key = zone->key_hash("/", "client");
        int admitted = 0;
        if (!gate.wait()) return 5;
        for (int i = 0; i < kBurst; ++i) admitted += zone->limit(key, 7, l)->allow();
        return ::write(wr.get(), &admitted, sizeof admitted) == sizeof admitted ? 0 : 4;
    };
    const pid_t a = in_child(hammer), b = in_child(hammer);
    gate.open(2);
    EXPECT_EQ(wait_exit(a), 0);
    EXPECT_EQ(wait_exit(b), 0);
    int first = 0, second = 0;
    ASSERT_EQ(::read(rd.get(), &first, sizeof first), static_cast<ssize_t>(sizeof first));
    ASSERT_EQ(::read(rd.get(), &second, sizeof second), static_cast<ssize_t>(sizeof second));
    EXPECT_EQ(first + second, kBurst + 1);   // burst N admits N + 1, whichever process asks
}

TEST(SharedZone, AHolderKilledUnderTheLockDoesNotWedgeTheOthers) {
    auto fd = SharedZone::create(SharedZone::bytes_for(64));
    ASSERT_TRUE(fd.ok());
    auto zone = SharedZone::attach(fd->get());
    ASSERT_TRUE(zone.ok());
    const Limit l = limit(1000, 10, true);
    const uint64_t victim = zone->key_hash("/", "victim"), other = zone->key_hash("/", "other");
    ASSERT_TRUE(zone->limit(victim, 0, l).ok());
    ASSERT_TRUE(zone->limit(other, 0, l).ok());
    ASSERT_TRUE(zone->limit(other, 0, l).ok());

    // The child dies in the middle of an update: holding the lock, the bucket half written.
    const pid_t child = in_child([&] {
        auto z = SharedZone::attach(fd->get());
        if (!z.ok()) return 2;
        (void)z->with_bucket(victim, 5, [](Bucket& b) {
            b.excess = 123456;
            ::_exit(0);
            return 0;
        });
        return 3;
    });
    ASSERT_EQ(wait_exit(child), 0);

    auto d = zone->limit(victim, 10, l);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_TRUE(d->allow());
    EXPECT_EQ(d->excess, 0u);   // the half-written bucket was forgotten, not trusted
    auto o = zone->limit(other, 0, l);
    ASSERT_TRUE(o.ok());
    EXPECT_EQ(o->excess, 2000u);   // other keys are intact
    EXPECT_TRUE(zone->limit(victim, 10, l).ok());   // and the lock works as before
}

}  // namespace
}  // namespace ne::proxy
