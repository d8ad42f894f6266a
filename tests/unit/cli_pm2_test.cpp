// The command line of PM2 ecosystem files: `--env NAME` on start, reload and check (and only
// with a PM2 file), PM2 files told from scripts by name, and the evaluated Config carried in
// the start and reload requests.
#include <gtest/gtest.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "config/json.h"
#include "unit/cli_test_support.h"

namespace ne::cli {
namespace {

using nlohmann::json;
using testing::TempDir;

template <typename T>
T pm2_parse_as(const std::vector<std::string>& args) {
    auto r = parse_args(args);
    EXPECT_TRUE(std::holds_alternative<Command>(r)) << std::get<ParseExit>(r).text;
    if (!std::holds_alternative<Command>(r) || !std::holds_alternative<T>(std::get<Command>(r))) return T{};
    return std::get<T>(std::get<Command>(r));
}

TEST(CliPm2, EnvIsTakenByStartReloadAndCheck) {
    auto start = pm2_parse_as<StartCmd>({"start", "ecosystem.config.js", "--env", "production", "--only", "api"});
    EXPECT_EQ(start.target, "ecosystem.config.js");
    EXPECT_EQ(start.env, "production");
    EXPECT_EQ(start.only, "api");
    auto reload = pm2_parse_as<ActionCmd>({"reload", "process.yml", "--env", "staging"});
    EXPECT_EQ(reload.targets, std::vector<std::string>{"process.yml"});
    EXPECT_EQ(reload.env, "staging");
    EXPECT_EQ(pm2_parse_as<CheckCmd>({"check", "pm2.json", "--env", "production"}).env, "production");
}

TEST(CliPm2, EnvWithAnythingButAPm2FileIsAUsageError) {
    for (auto args : std::vector<std::vector<std::string>>{{"start", "app.js", "--env", "production"},
                                                           {"start", "eco.toml", "--env", "production"},
                                                           {"reload", "api", "--env", "production"},
                                                           {"check", "eco.toml", "--env", "production"}}) {
        auto r = parse_args(args);
        ASSERT_TRUE(std::holds_alternative<ParseExit>(r)) << args[1];
        EXPECT_EQ(std::get<ParseExit>(r).code, 2);
        EXPECT_NE(std::get<ParseExit>(r).text.find("--env applies to a PM2 ecosystem file"), std::string::npos);
    }
    auto named = parse_args(std::vector<std::string>{"start", "ecosystem.config.js", "--name", "x"});
    ASSERT_TRUE(std::holds_alternative<ParseExit>(named));
    EXPECT_EQ(std::get<ParseExit>(named).code, 2);
}

TEST(CliPm2, Pm2FilesAreEcosystemFilesByName) {
    EXPECT_TRUE(is_ecosystem_file("ecosystem.config.js"));
    EXPECT_TRUE(is_ecosystem_file("deploy/process.json"));
    EXPECT_TRUE(is_ecosystem_file("ecosystem.yaml"));
    EXPECT_FALSE(is_ecosystem_file("server.js"));
    EXPECT_FALSE(is_ecosystem_file("api"));
}

TEST(CliPm2, RequestsCarryTheEvaluatedConfig) {
    TempDir dir;
    std::string file = dir.write("ecosystem.config.js", "");
    config::Config cfg;
    cfg.source = file;
    cfg.apps.emplace_back().name = "api";
    auto start = start_request(StartCmd{"ecosystem.config.js"}, dir.path(), &cfg);
    ASSERT_TRUE(start.ok()) << start.error().message;
    EXPECT_EQ((*start)["file"], file);
    EXPECT_EQ((*start)["pm2"], config::to_json(cfg));
    json reload = action_request(ActionCmd{"reload", {"ecosystem.config.js"}}, dir.path(), &cfg);
    EXPECT_EQ(reload["targets"], json::array({file}));
    EXPECT_EQ(reload["pm2"], config::to_json(cfg));
}

}  // namespace
}  // namespace ne::cli
