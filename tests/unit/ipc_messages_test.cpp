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
