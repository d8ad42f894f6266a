// Version skew on the control socket: a request of another protocol version is refused naming
// both programs' versions, except the verbs that must work across versions (a newly installed
// CLI can always see, upgrade and stop an older daemon).
#include <gtest/gtest.h>

#include "ipc/control.h"
#include "ipc/version.h"

namespace ne::ipc::control {
namespace {

std::string request_of_version(const std::string& cmd, int v) {
    json r = request(cmd);
    r["v"] = v;
    r["version"] = "9.9.9";
    return r.dump();
}

TEST(ControlVersion, RequestsCarryTheProtocolAndTheProgramVersion) {
    json r = request("status");
    EXPECT_EQ(r["v"], kVersion);
    EXPECT_EQ(r["version"], version());
    EXPECT_EQ(ok()["daemon_version"], version());
    EXPECT_TRUE(parse_request(r.dump()));
}

TEST(ControlVersion, OtherProtocolVersionsGetOnlyStatusUpgradeKillAndPing) {
    for (const char* cmd : {"status", "upgrade", "kill", "ping"})
        EXPECT_TRUE(parse_request(request_of_version(cmd, kVersion + 1))) << cmd;
    auto refused = parse_request(request_of_version("start", kVersion + 1));
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("9.9.9"), std::string::npos) << refused.error().message;
    EXPECT_NE(refused.error().message.find(version()), std::string::npos) << refused.error().message;
    EXPECT_NE(refused.error().message.find("nodeedge upgrade"), std::string::npos) << refused.error().message;
    // A request without any version is another protocol too.
    EXPECT_FALSE(parse_request(R"({"cmd":"reload"})"));
    EXPECT_TRUE(parse_request(R"({"cmd":"status"})"));
}

TEST(ControlVersion, TheSuffixNamesAnotherBuild) {
    const std::string plain = version();
    ::setenv("NODEEDGE_VERSION_SUFFIX", "-next", 1);
    EXPECT_EQ(version(), plain + "-next");
    ::unsetenv("NODEEDGE_VERSION_SUFFIX");
    EXPECT_EQ(version(), plain);
}

}  // namespace
}  // namespace ne::ipc::control
