#include <gtest/gtest.h>

#include "cli/startup.h"
#include "unit/cli_test_support.h"

namespace ne::cli {
namespace {

using testing::lines_of;

bool has_line(const std::string& unit, const std::string& line) {
    auto lines = lines_of(unit);
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

UnitParams system_params() { return UnitParams{"/usr/bin/nodeedge", "/home/ann/.nodeedge", "/usr/bin:/bin", "ann", false}; }

TEST(CliStartup, SystemUnit) {
    std::string unit = systemd_unit(system_params());
    for (const char* line : {"[Service]", "Type=notify", "User=ann", "Environment=NODEEDGE_HOME=/home/ann/.nodeedge",
                             "Environment=PATH=/usr/bin:/bin", "ExecStart=/usr/bin/nodeedge daemon --foreground",
                             "ExecStartPost=/usr/bin/nodeedge resurrect", "ExecReload=/usr/bin/nodeedge reload all",
                             "ExecStop=-/usr/bin/nodeedge kill", "Restart=always", "KillMode=process",
                             "NoNewPrivileges=yes", "ProtectSystem=full", "PrivateTmp=yes", "[Install]",
                             "WantedBy=multi-user.target"})
        EXPECT_TRUE(has_line(unit, line)) << line << "\n" << unit;
    bool timeout = false;
    for (const auto& l : lines_of(unit)) timeout |= l.rfind("TimeoutStopSec=", 0) == 0;
    EXPECT_TRUE(timeout);
    // Hardening that would break Node's JIT or its writes to its own home stays out.
    for (const char* absent : {"MemoryDenyWriteExecute=yes", "ProtectHome=yes", "ProtectSystem=strict"})
        EXPECT_FALSE(has_line(unit, absent)) << absent;
}

TEST(CliStartup, UserUnitHasNoUserAndNoPrivilegedSandboxing) {
    UnitParams p = system_params();
    p.user_unit = true;
    std::string unit = systemd_unit(p);
    EXPECT_EQ(unit.find("User="), std::string::npos);
    EXPECT_FALSE(has_line(unit, "ProtectSystem=full"));
    EXPECT_FALSE(has_line(unit, "PrivateTmp=yes"));
    EXPECT_TRUE(has_line(unit, "NoNewPrivileges=yes"));
    EXPECT_TRUE(has_line(unit, "WantedBy=default.target"));
    EXPECT_TRUE(has_line(unit, "Type=notify"));
}

TEST(CliStartup, PathsAreQuotedForSystemd) {
    EXPECT_EQ(systemd_quote("/usr/bin/nodeedge"), "/usr/bin/nodeedge");
    EXPECT_EQ(systemd_quote("/opt/my apps/nodeedge"), "\"/opt/my apps/nodeedge\"");
    EXPECT_EQ(systemd_quote("/srv/100%"), "/srv/100%%");
    EXPECT_EQ(systemd_quote("a\"b"), "\"a\\\"b\"");
    EXPECT_EQ(systemd_quote(""), "\"\"");

    UnitParams p = system_params();
    p.binary = "/opt/my apps/nodeedge";
    p.home = "/srv/ne home";
    std::string unit = systemd_unit(p);
    EXPECT_TRUE(has_line(unit, "ExecStart=\"/opt/my apps/nodeedge\" daemon --foreground")) << unit;
    EXPECT_TRUE(has_line(unit, "Environment=\"NODEEDGE_HOME=/srv/ne home\"")) << unit;
}

TEST(CliStartup, InstallPath) {
    EXPECT_EQ(unit_install_path(true, "/home/ann/.config"), "/etc/systemd/system/nodeedge.service");
    EXPECT_EQ(unit_install_path(false, "/home/ann/.config"), "/home/ann/.config/systemd/user/nodeedge.service");
}

}  // namespace
}  // namespace ne::cli
