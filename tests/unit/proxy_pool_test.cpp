#include <gtest/gtest.h>

#include <vector>

#include "proxy/upstream/pool.h"

namespace ne::proxy {
namespace {

std::shared_ptr<Backend> backend(uint64_t id, int port = 3000) {
    auto b = make_backend(id, "api", 0, "127.0.0.1", port);
    EXPECT_TRUE(b.ok());
    return *b;
}

TEST(MakeBackend, ResolvesNumericAndNamesAddress) {
    auto b = make_backend(7, "api", 1, "127.0.0.1", 3001);
    ASSERT_TRUE(b.ok()) << b.error().message;
    EXPECT_EQ((*b)->address, "127.0.0.1:3001");
    EXPECT_EQ((*b)->addr.ss_family, AF_INET);
    auto v6 = make_backend(8, "api", 0, "::1", 3002);
    ASSERT_TRUE(v6.ok());
    EXPECT_EQ((*v6)->address, "[::1]:3002");
}

TEST(MakeBackend, BadHostIsAnErrorNamingIt) {
    auto b = make_backend(7, "api", 1, "no such host.invalid", 3001);
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.error().message.find("no such host.invalid"), std::string::npos);
}

TEST(Pool, AddIgnoresRepeatedId) {
    Pool p("api");
    p.add(backend(1));
    p.add(backend(1, 4000));
    ASSERT_EQ(p.backends().size(), 1u);
    EXPECT_EQ(p.find(1)->address, "127.0.0.1:3000");
    EXPECT_EQ(p.find(2), nullptr);
}

TEST(Pool, DrainWithNothingInFlightCompletesAtOnceAndOnlyOnce) {
    Pool p("api");
    p.add(backend(1));
    EXPECT_TRUE(p.drain(1));
    EXPECT_EQ(p.find(1)->admin, Backend::Admin::draining);
    EXPECT_FALSE(p.drain(1));
    EXPECT_EQ(p.ready_count(), 0u);
}

TEST(Pool, DrainCompletesWhenLastRequestEnds) {
    Pool p("api");
    p.add(backend(1));
    Backend& b = *p.find(1);
    Pool::begin_request(b);
    Pool::begin_request(b);
    EXPECT_FALSE(p.drain(1));
    EXPECT_FALSE(Pool::end_request(b));
    EXPECT_TRUE(Pool::end_request(b));
    Pool::begin_request(b);
    EXPECT_FALSE(Pool::end_request(b));  // reported once
}

TEST(Pool, EndRequestOnReadyBackendReportsNothing) {
    Pool p("api");
    p.add(backend(1));
    Pool::begin_request(*p.find(1));
    EXPECT_FALSE(Pool::end_request(*p.find(1)));
}

TEST(Pool, DrainOfUnknownIdIsComplete) {
    Pool p("api");
    EXPECT_TRUE(p.drain(42));
}

TEST(Pool, RemovedBackendLivesWhileReferenced) {
    Pool p("api");
    p.add(backend(1));
    p.add(backend(2));
    std::shared_ptr<Backend> held = p.find(1)->shared_from_this();
    Pool::begin_request(*held);
    auto removed = p.remove(1);
    ASSERT_EQ(removed, held);
    removed.reset();
    EXPECT_EQ(p.find(1), nullptr);
    EXPECT_EQ(p.backends().size(), 1u);
    EXPECT_EQ(held->admin, Backend::Admin::removed);
    EXPECT_EQ(held.use_count(), 1);  // only the "connection" holds it now
    EXPECT_FALSE(Pool::end_request(*held));  // removed, not draining: no DrainDone
    EXPECT_EQ(p.remove(1), nullptr);
}

TEST(Pool, PassiveHealthMarksDownAfterMaxFails) {
    Pool p("api");
    p.add(backend(1));
    Backend& b = *p.find(1);
    b.max_fails = 2;
    b.fail_timeout = std::chrono::seconds(10);
    auto now = Clock::now();
    Pool::note_failure(b, now);
    EXPECT_TRUE(b.up(now));
    Pool::note_success(b);
    Pool::note_failure(b, now);
    EXPECT_TRUE(b.up(now));  // the success reset the count
    Pool::note_failure(b, now);
    EXPECT_FALSE(b.up(now));
    EXPECT_FALSE(b.up(now + std::chrono::seconds(9)));
    EXPECT_TRUE(b.up(now + std::chrono::seconds(10)));
}

TEST(Pool, MaxFailsZeroNeverMarksDown) {
    Pool p("api");
    p.add(backend(1));
    Backend& b = *p.find(1);
    b.max_fails = 0;
    auto now = Clock::now();
    for (int i = 0; i < 5; ++i) Pool::note_failure(b, now);
    EXPECT_TRUE(b.up(now));
}

struct RecordingWaiter : PoolWaiter {
    RecordingWaiter(std::vector<int>& log, int n) : log(log), n(n) {}
    void on_backend_ready() override { log.push_back(n); }
    std::vector<int>& log;
    int n;
};

TEST(Pool, WaitersWakeInOrderOnlyWithReadyBackend) {
    Pool p("api");
    std::vector<int> log;
    RecordingWaiter w1(log, 1), w2(log, 2), w3(log, 3);
    EXPECT_TRUE(p.enqueue(w1));
    EXPECT_TRUE(p.enqueue(w2));
    EXPECT_TRUE(p.enqueue(w3));
    EXPECT_TRUE(p.enqueue(w1));  // already queued: no second place
    EXPECT_EQ(p.waiting(), 3u);
    p.cancel(w2);
    p.wake_waiters();
    EXPECT_TRUE(log.empty());  // nothing ready
    p.add(backend(1));
    p.wake_waiters();
    EXPECT_EQ(log, (std::vector<int>{1, 3}));
    EXPECT_EQ(p.waiting(), 0u);
}

TEST(Pool, WaitQueueIsBounded) {
    Pool p("api");
    std::vector<int> log;
    std::vector<std::unique_ptr<RecordingWaiter>> ws;
    for (size_t i = 0; i < Pool::kMaxWaiting; ++i) {
        ws.push_back(std::make_unique<RecordingWaiter>(log, static_cast<int>(i)));
        ASSERT_TRUE(p.enqueue(*ws.back()));
    }
    RecordingWaiter extra(log, -1);
    EXPECT_FALSE(p.enqueue(extra));
    p.cancel(extra);  // not queued: harmless
    EXPECT_EQ(p.waiting(), Pool::kMaxWaiting);
}

TEST(PoolSet, PoolOfFindsAppPools) {
    PoolSet ps;
    ps.app("api").add(backend(5));
    ps.app("web").add(backend(6));
    EXPECT_EQ(ps.pool_of(6), &ps.app("web"));
    EXPECT_EQ(ps.pool_of(7), nullptr);
}

TEST(PoolSet, SyncUpstreamsKeepsStateOfServersThatStay) {
    PoolSet ps;
    config::Upstream u;
    u.name = "remote";
    u.servers = {{"127.0.0.1:3000", 1, 1, std::chrono::milliseconds(10000)},
                 {"127.0.0.1:3001", 2, 3, std::chrono::milliseconds(5000)}};
    EXPECT_TRUE(ps.sync_upstreams({u}).empty());
    Pool& p = ps.upstream("remote");
    ASSERT_EQ(p.backends().size(), 2u);
    auto kept = p.backends()[1];
    EXPECT_EQ(kept->weight, 2);
    EXPECT_EQ(kept->max_fails, 3);
    kept->in_flight = 4;
    auto dropped = p.backends()[0];

    u.servers = {{"127.0.0.1:3001", 5, 3, std::chrono::milliseconds(5000)},
                 {"not-a-host-port", 1, 1, std::chrono::milliseconds(1)}};
    auto errors = ps.sync_upstreams({u});
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].message.find("not-a-host-port"), std::string::npos);
    ASSERT_EQ(p.backends().size(), 1u);
    EXPECT_EQ(p.backends()[0], kept);
    EXPECT_EQ(kept->in_flight, 4u);
    EXPECT_EQ(kept->weight, 5);
    EXPECT_EQ(dropped->admin, Backend::Admin::removed);

    EXPECT_TRUE(ps.sync_upstreams({}).empty());
    EXPECT_TRUE(p.backends().empty());
    EXPECT_EQ(kept->admin, Backend::Admin::removed);
}

}  // namespace
}  // namespace ne::proxy
