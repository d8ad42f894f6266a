#include <gtest/gtest.h>

#include "ipc/messages.h"

using namespace ne::ipc;
using nlohmann::json;

namespace {

Message round_trip(const Message& m) {
    auto back = decode(encode(m));
    EXPECT_TRUE(back.ok()) << (back.ok() ? "" : back.error().message);
    return back.ok() ? *back : Message{Quit{}};
}

}  // namespace

TEST(IpcMessages, BackendAddRoundTrips) {
    auto m = round_trip(BackendAdd{42, "api", 3, "127.0.0.1", 40123});
    auto* a = std::get_if<BackendAdd>(&m);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->id, 42u);
    EXPECT_EQ(a->app, "api");
    EXPECT_EQ(a->instance, 3);
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 40123);
}

TEST(IpcMessages, EveryTypeRoundTrips) {
    EXPECT_EQ(std::get<BackendDrain>(round_trip(BackendDrain{7})).id, 7u);
    EXPECT_EQ(std::get<BackendRemove>(round_trip(BackendRemove{8})).id, 8u);
    EXPECT_EQ(std::get<DrainDone>(round_trip(DrainDone{9})).id, 9u);
    auto s = std::get<Stats>(round_trip(Stats{1234, 5, 99999999999ull}));
    EXPECT_EQ(s.pid, 1234);
    EXPECT_EQ(s.connections, 5u);
    EXPECT_EQ(s.requests, 99999999999ull);
    EXPECT_TRUE(std::holds_alternative<Quit>(round_trip(Quit{})));
    json cfg = {{"servers", json::array({{{"listen", {"127.0.0.1:8080"}}}})}};
    EXPECT_EQ(std::get<ProxyConfig>(round_trip(ProxyConfig{cfg})).config, cfg);
    const std::map<std::string, std::string> keys{{"/etc/k.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n"},
                                                  {"/etc/ocsp.der", std::string("\x30\x03\x0a\x01\x06\xff\0", 7)}};
    EXPECT_EQ(std::get<ProxyConfig>(round_trip(ProxyConfig{cfg, keys})).tls_files, keys);
    auto c = std::get<AcmeChallenges>(round_trip(AcmeChallenges{3, {{"tok", "tok.thumb"}}, {{"a.test", "CERT", "KEY"}}}));
    EXPECT_EQ(c.serial, 3u);
    EXPECT_EQ(c.http.at("tok"), "tok.thumb");
    ASSERT_EQ(c.alpn.size(), 1u);
    EXPECT_EQ(c.alpn[0], (AcmeAlpnChallenge{"a.test", "CERT", "KEY"}));
    EXPECT_EQ(std::get<AcmeChallengesApplied>(round_trip(AcmeChallengesApplied{3})).serial, 3u);
}

TEST(IpcMessages, CarriesItsVersionAndType) {
    json j = json::parse(encode(BackendDrain{1}));
    EXPECT_EQ(j["v"], kVersion);
    EXPECT_EQ(j["type"], "backend_drain");
}

TEST(IpcMessages, RefusesOtherVersionsLoudly) {
    auto r = decode(R"({"v":2,"type":"quit"})");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("version 2"), std::string::npos) << r.error().message;
    EXPECT_FALSE(decode(R"({"type":"quit"})").ok());
}

TEST(IpcMessages, RefusesUnknownTypesAndMalformedFields) {
    auto unknown = decode(R"({"v":1,"type":"reboot"})");
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error().message.find("reboot"), std::string::npos);
    auto bad = decode(R"({"v":1,"type":"backend_add","id":"x"})");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("backend_add"), std::string::npos);
    EXPECT_FALSE(decode("not json").ok());
    EXPECT_FALSE(decode("[1,2]").ok());
}

TEST(IpcMessages, StatsCarryTheirRequestSeries) {
    RequestSeries loc;
    loc.server = "example.com";
    loc.name = "/api/";
    loc.by_class = {0, 7, 1, 2, 3};
    loc.latency[0] = 5;
    loc.latency.back() = 1;
    loc.latency_sum = 12.5;
    loc.bucket_sum[0] = 0.0125;
    loc.bucket_sum_sq[0] = 0.00003125;
    loc.bucket_sum.back() = 12.4875;
    loc.bucket_sum_sq.back() = 155.9377;
    loc.cache[static_cast<size_t>(CacheStatus::hit)] = 4;
    loc.rate_limit[static_cast<size_t>(RateLimitResult::rejected)] = 9;
    RequestSeries up;
    up.kind = RequestSeries::Kind::upstream;
    up.name = "api";
    up.by_class = {0, 3, 0, 0, 0};
    auto s = std::get<Stats>(round_trip(Stats{1, 2, 13, {loc, up}}));
    ASSERT_EQ(s.series.size(), 2u);
    EXPECT_EQ(s.series[0], loc);
    EXPECT_EQ(s.series[1], up);
    EXPECT_EQ(s.series[0].count(), 13u);
}

TEST(IpcMessages, RefusesASeriesWithTheWrongBucketCount) {
    json j = json::parse(encode(Stats{1, 0, 0, {RequestSeries{}}}));
    j["series"][0]["b"] = json::array({1, 2});
    auto r = decode(j.dump());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("'b'"), std::string::npos) << r.error().message;
}

TEST(IpcMessages, SeriesAddSumsEveryCounter) {
    RequestSeries a, b;
    a.by_class = {1, 2, 3, 4, 5};
    b.by_class = {1, 1, 1, 1, 1};
    a.latency[3] = 2;
    b.latency[3] = 5;
    a.latency_sum = 1.5;
    b.latency_sum = 2;
    a.bucket_sum[3] = 0.08;
    b.bucket_sum[3] = 0.2;
    b.bucket_sum_sq[3] = 0.008;
    b.cache[1] = 3;
    a.add(b);
    EXPECT_EQ(a.by_class, (std::array<uint64_t, 5>{2, 3, 4, 5, 6}));
    EXPECT_EQ(a.latency[3], 7u);
    EXPECT_DOUBLE_EQ(a.latency_sum, 3.5);
    EXPECT_DOUBLE_EQ(a.bucket_sum[3], 0.28);
    EXPECT_DOUBLE_EQ(a.bucket_sum_sq[3], 0.008);
    EXPECT_EQ(a.cache[1], 3u);
}
