#include <gtest/gtest.h>

#include "ipc/version.h"
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
    EXPECT_EQ(*req, (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "start"}, {"script", script}}));
}

TEST(CliCommands, StartFileCarriesOptionsAsWritten) {
    TempDir dir;
    std::string file = dir.write("eco.toml", "");
    auto req = start_request(StartCmd{file, "-1", "", "api", 4000}, "/elsewhere");
    ASSERT_TRUE(req.ok()) << req.error().message;
    EXPECT_EQ(*req, (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "start"}, {"file", file}, {"instances", "-1"}, {"only", "api"},
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
    // With a script's flags a missing file is the error; without, it may name an app (below).
    auto missing = start_request(StartCmd{"nope.js", "2", "", "", 0}, dir.path());
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().message, dir.file("nope.js") + ": No such file or directory");
    std::filesystem::create_directory(dir.path() / "d.toml");
    auto folder = start_request(StartCmd{"d.toml", "", "", "", 0}, dir.path());
    ASSERT_FALSE(folder.ok());
    EXPECT_EQ(folder.error().message, dir.file("d.toml") + ": not a regular file");
}

// PM2's `start NAME` / `start ID`: no file of that name, so the daemon is asked for the app,
// with the file's error for it to add when there is no app either.
TEST(CliCommands, StartOfANameThatIsNoFileAsksForTheApp) {
    TempDir dir;
    auto named = start_request(StartCmd{"api", "", "", "", 0}, dir.path());
    ASSERT_TRUE(named.ok()) << named.error().message;
    EXPECT_EQ(*named, (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "start"}, {"targets", {"api"}},
                            {"missing_file", dir.file("api") + ": No such file or directory"}}));
    StartCmd several{"api", "", "", "", 0};
    several.more_targets = {"3", "web"};
    auto many = start_request(several, dir.path());
    ASSERT_TRUE(many.ok());
    EXPECT_EQ(*many, (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "start"}, {"targets", {"api", "3", "web"}}}));
    // A path or an ecosystem file's name means a file, missing or not.
    for (const char* file : {"srv/api", "gone.toml"}) {
        auto missing = start_request(StartCmd{file, "", "", "", 0}, dir.path());
        ASSERT_FALSE(missing.ok()) << file;
        EXPECT_EQ(missing.error().message, dir.file(file) + ": No such file or directory");
    }
}

TEST(CliCommands, StartOrGoesAsStartSendsAFile) {
    TempDir dir;
    std::string file = dir.write("eco.toml", "");
    auto reload = start_or_request(StartOrCmd{"reload", "eco.toml"}, dir.path());
    ASSERT_TRUE(reload.ok()) << reload.error().message;
    EXPECT_EQ(*reload, (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "startOrReload"}, {"file", file}}));
    EXPECT_EQ((*start_or_request(StartOrCmd{"restart", file}, "/"))["cmd"], "startOrRestart");
    dir.write("app.js", "");
    auto script = start_or_request(StartOrCmd{"reload", "app.js"}, dir.path());
    ASSERT_FALSE(script.ok());
    EXPECT_EQ(script.error().message, "startOrReload: app.js is no ecosystem file");
    EXPECT_FALSE(start_or_request(StartOrCmd{"reload", "gone.toml"}, dir.path()).ok());
}

TEST(CliCommands, ActionsSendTheirTargetsAndReloadAFilesAbsolutePath) {
    EXPECT_EQ(action_request(ActionCmd{"reload", {"conf/eco.toml"}}, "/srv/app"),
              (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "reload"}, {"targets", {"/srv/app/conf/eco.toml"}}}));
    EXPECT_EQ(action_request(ActionCmd{"reload", {"api"}}, "/srv/app"),
              (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "reload"}, {"targets", {"api"}}}));
    EXPECT_EQ(action_request(ActionCmd{"stop", {"all"}}, "/srv/app"),
              (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "stop"}, {"targets", {"all"}}}));
    EXPECT_EQ(action_request(ActionCmd{"stop", {"0", "api"}}, "/srv")["targets"], (json{"0", "api"}));
    EXPECT_EQ(action_request(ActionCmd{"delete", {"x.toml"}}, "/srv")["targets"], (json{"x.toml"}));
}

TEST(CliCommands, OtherRequests) {
    EXPECT_EQ(scale_request(ScaleCmd{"api", "3"}), (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "scale"}, {"app", "api"}, {"instances", 3}}));
    EXPECT_EQ(scale_request(ScaleCmd{"api", "+2"}), (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "scale"}, {"app", "api"}, {"delta", 2}}));
    EXPECT_EQ(scale_request(ScaleCmd{"api", "-1"}), (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "scale"}, {"app", "api"}, {"delta", -1}}));
    EXPECT_EQ(describe_request(DescribeCmd{"api"}), (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "describe"}, {"app", "api"}}));
    EXPECT_EQ(flush_request(FlushCmd{}), (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "flush"}}));
    EXPECT_EQ(flush_request(FlushCmd{"api"}), (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "flush"}, {"targets", {"api"}}}));
    EXPECT_EQ(signal_request(SignalCmd{"USR2", 12, {"api", "3"}}),
              (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "signal"}, {"signal", 12}, {"targets", {"api", "3"}}}));
}

TEST(CliCommands, EnvPrintsKeyColonValueAsPm2) {
    json reply = {{"worker", "api:0"}, {"pid", 5}, {"env", {"PORT=3000", "EMPTY=", "EQ=a=b"}}};
    EXPECT_EQ(render_env(reply), "PORT: 3000\nEMPTY: \nEQ: a=b\n");
}

}  // namespace
}  // namespace ne::cli
