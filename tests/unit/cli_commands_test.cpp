#include <gtest/gtest.h>

#include "cli/commands.h"
#include "unit/cli_test_support.h"

namespace ne::cli {
namespace {

using nlohmann::json;
using testing::TempDir;

TEST(CliCommands, StartScriptIsResolvedAgainstCwd) {
    TempDir dir;
    std::filesystem::create_directory(dir.path() / "srv");
    std::string script = dir.write("srv/app.js", "");
    auto req = start_request(StartCmd{"srv/../srv/app.js", "", "", "", 0}, dir.path());
    ASSERT_TRUE(req.ok()) << req.error().message;
    EXPECT_EQ(*req, (json{{"v", 1}, {"cmd", "start"}, {"script", script}}));
}

TEST(CliCommands, StartFileCarriesOptionsAsWritten) {
    TempDir dir;
    std::string file = dir.write("eco.toml", "");
    auto req = start_request(StartCmd{file, "-1", "", "api", 4000}, "/elsewhere");
    ASSERT_TRUE(req.ok()) << req.error().message;
    EXPECT_EQ(*req, (json{{"v", 1}, {"cmd", "start"}, {"file", file}, {"instances", "-1"}, {"only", "api"},
                          {"port", 4000}}));

    auto named = start_request(StartCmd{"app.js", "max", "web", "", 0}, dir.path());
    ASSERT_FALSE(named.ok()) << "app.js does not exist yet";
    dir.write("app.js", "");
    named = start_request(StartCmd{"app.js", "max", "web", "", 0}, dir.path());
    ASSERT_TRUE(named.ok());
    EXPECT_EQ((*named)["name"], "web");
    EXPECT_EQ((*named)["instances"], "max");
}

TEST(CliCommands, StartRefusesMissingFilesAndFolders) {
    TempDir dir;
    auto missing = start_request(StartCmd{"nope.js", "", "", "", 0}, dir.path());
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().message, dir.file("nope.js") + ": No such file or directory");
    std::filesystem::create_directory(dir.path() / "d.toml");
    auto folder = start_request(StartCmd{"d.toml", "", "", "", 0}, dir.path());
    ASSERT_FALSE(folder.ok());
    EXPECT_EQ(folder.error().message, dir.file("d.toml") + ": not a regular file");
}

TEST(CliCommands, ReloadWithFileSendsItsAbsolutePath) {
    EXPECT_EQ(action_request(ActionCmd{"reload", "conf/eco.toml"}, "/srv/app"),
              (json{{"v", 1}, {"cmd", "reload"}, {"target", "/srv/app/conf/eco.toml"}}));
    EXPECT_EQ(action_request(ActionCmd{"reload", "api"}, "/srv/app"),
              (json{{"v", 1}, {"cmd", "reload"}, {"target", "api"}}));
    EXPECT_EQ(action_request(ActionCmd{"stop", "all"}, "/srv/app"),
              (json{{"v", 1}, {"cmd", "stop"}, {"target", "all"}}));
    EXPECT_EQ(action_request(ActionCmd{"delete", "x.toml"}, "/srv")["target"], "x.toml");
}

TEST(CliCommands, OtherRequests) {
    EXPECT_EQ(scale_request(ScaleCmd{"api", 3}), (json{{"v", 1}, {"cmd", "scale"}, {"app", "api"}, {"instances", 3}}));
    EXPECT_EQ(describe_request(DescribeCmd{"api"}), (json{{"v", 1}, {"cmd", "describe"}, {"app", "api"}}));
    EXPECT_EQ(flush_request(FlushCmd{}), (json{{"v", 1}, {"cmd", "flush"}}));
    EXPECT_EQ(flush_request(FlushCmd{"api"}), (json{{"v", 1}, {"cmd", "flush"}, {"app", "api"}}));
}

}  // namespace
}  // namespace ne::cli
