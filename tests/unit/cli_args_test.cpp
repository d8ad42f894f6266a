#include <gtest/gtest.h>

#include <csignal>

#include "cli/args.h"
#include "ipc/version.h"

namespace ne::cli {
namespace {

Command parse_ok(const std::vector<std::string>& args) {
    auto r = parse_args(args);
    if (auto* exit = std::get_if<ParseExit>(&r)) {
        ADD_FAILURE() << "unexpected exit " << exit->code << ": " << exit->text;
        return VersionCmd{};
    }
    return std::get<Command>(r);
}

template <typename T>
T parse_as(const std::vector<std::string>& args) {
    Command c = parse_ok(args);
    EXPECT_TRUE(std::holds_alternative<T>(c)) << "variant index " << c.index();
    return std::holds_alternative<T>(c) ? std::get<T>(c) : T{};
}

ParseExit parse_exit(const std::vector<std::string>& args) {
    auto r = parse_args(args);
    EXPECT_TRUE(std::holds_alternative<ParseExit>(r));
    return std::holds_alternative<ParseExit>(r) ? std::get<ParseExit>(r) : ParseExit{-1, ""};
}

TEST(CliArgs, StartWithScriptAndOptions) {
    auto c = parse_as<StartCmd>({"start", "app.js", "-i", "4", "--name", "web", "--port", "4000"});
    EXPECT_EQ(c.target, "app.js");
    EXPECT_EQ(c.instances, "4");
    EXPECT_EQ(c.name, "web");
    EXPECT_EQ(c.port, 4000);
    EXPECT_EQ(c.only, "");
}

TEST(CliArgs, StartWithFileAndOnly) {
    auto c = parse_as<StartCmd>({"start", "eco.toml", "--only", "api"});
    EXPECT_EQ(c.target, "eco.toml");
    EXPECT_EQ(c.only, "api");
    EXPECT_EQ(c.instances, "");
    EXPECT_EQ(c.port, 0);
}

TEST(CliArgs, InstancesAcceptsMaxAndNegativeCountsAnywhere) {
    EXPECT_EQ(parse_as<StartCmd>({"start", "app.js", "-i", "max"}).instances, "max");
    EXPECT_EQ(parse_as<StartCmd>({"start", "app.js", "-i", "-1"}).instances, "-1");
    // Before the positional too: "-1" must be taken as -i's value, not as a flag.
    auto c = parse_as<StartCmd>({"start", "-i", "-2", "app.js"});
    EXPECT_EQ(c.instances, "-2");
    EXPECT_EQ(c.target, "app.js");
    EXPECT_EQ(parse_as<StartCmd>({"start", "app.js", "--instances", "3"}).instances, "3");
}

TEST(CliArgs, InstancesRejectsOtherValues) {
    for (const char* bad : {"0", "abc", "1.5", "maxx", ""}) {
        auto e = parse_exit({"start", "app.js", "-i", bad});
        EXPECT_EQ(e.code, 2) << bad;
        EXPECT_NE(e.text.find("usage: nodeedge start"), std::string::npos) << e.text;
    }
}

TEST(CliArgs, StartUsageErrors) {
    EXPECT_EQ(parse_exit({"start"}).code, 2);
    EXPECT_EQ(parse_exit({"start", "app.js", "--port", "70000"}).code, 2);
    EXPECT_EQ(parse_exit({"start", "app.js", "--port", "x"}).code, 2);
    EXPECT_EQ(parse_exit({"start", "app.js", "--bogus"}).code, 2);
    // Several targets are apps or ids to start again, so file flags and files are refused.
    EXPECT_EQ(parse_exit({"start", "a.toml", "b"}).code, 2);
    EXPECT_EQ(parse_exit({"start", "api", "web", "-i", "2"}).code, 2);
    EXPECT_EQ(parse_exit({"start", "api", "web", "--port", "4000"}).code, 2);
}

TEST(CliArgs, StartTakesSeveralNamesAndIds) {
    auto c = parse_as<StartCmd>({"start", "api", "web", "3"});
    EXPECT_EQ(c.target, "api");
    EXPECT_EQ(c.more_targets, (std::vector<std::string>{"web", "3"}));
    EXPECT_TRUE(parse_as<StartCmd>({"start", "0"}).more_targets.empty());
}

TEST(CliArgs, NameIsForScriptsAndOnlyForFiles) {
    auto name = parse_exit({"start", "eco.toml", "--name", "x"});
    EXPECT_EQ(name.code, 2);
    EXPECT_NE(name.text.find("--name"), std::string::npos);
    auto only = parse_exit({"start", "app.js", "--only", "api"});
    EXPECT_EQ(only.code, 2);
    EXPECT_NE(only.text.find("--only"), std::string::npos);
}

using Names = std::vector<std::string>;

TEST(CliArgs, ActionsDefaultToAll) {
    for (const char* verb : {"reload", "restart", "stop", "delete"}) {
        auto c = parse_as<ActionCmd>({verb});
        EXPECT_EQ(c.action, verb);
        EXPECT_EQ(c.targets, Names{"all"});
    }
    auto c = parse_as<ActionCmd>({"reload", "eco.toml"});
    EXPECT_EQ(c.action, "reload");
    EXPECT_EQ(c.targets, Names{"eco.toml"});
    EXPECT_EQ(parse_as<ActionCmd>({"stop", "api"}).targets, Names{"api"});
    EXPECT_EQ(parse_as<ActionCmd>({"del", "api"}).action, "delete");
}

// PM2: `pm2 stop 0 1 2`, `pm2 stop api web`.
TEST(CliArgs, ActionsTakeSeveralNamesAndIds) {
    for (const char* verb : {"reload", "restart", "stop", "delete"}) {
        EXPECT_EQ(parse_as<ActionCmd>({verb, "0", "1", "2"}).targets, (Names{"0", "1", "2"})) << verb;
        EXPECT_EQ(parse_as<ActionCmd>({verb, "api", "web"}).targets, (Names{"api", "web"})) << verb;
    }
}

TEST(CliArgs, ScaleAbsoluteAndRelative) {
    auto c = parse_as<ScaleCmd>({"scale", "api", "5"});
    EXPECT_EQ(c.app, "api");
    EXPECT_EQ(c.count, "5");
    EXPECT_EQ(parse_as<ScaleCmd>({"scale", "api", "+2"}).count, "+2");
    EXPECT_EQ(parse_as<ScaleCmd>({"scale", "api", "-1"}).count, "-1");
    EXPECT_EQ(parse_as<ScaleCmd>({"scale", "3", "+1"}).app, "3");
    EXPECT_EQ(parse_exit({"scale", "api"}).code, 2);
    for (const char* bad : {"many", "+", "-", "1.5", "+-1", "2x", "1234567"})
        EXPECT_EQ(parse_exit({"scale", "api", bad}).code, 2) << bad;
}

TEST(CliArgs, Pm2ListsAndProcessVerbs) {
    EXPECT_FALSE(parse_as<JlistCmd>({"jlist"}).pretty);
    EXPECT_TRUE(parse_as<JlistCmd>({"prettylist"}).pretty);
    EXPECT_EQ(parse_exit({"jlist", "extra"}).code, 2);
    EXPECT_EQ(parse_as<EnvCmd>({"env", "3"}).id, "3");
    EXPECT_EQ(parse_exit({"env"}).code, 2);
    EXPECT_EQ(parse_as<ResetCmd>({"reset", "all"}).targets, Names{"all"});
    EXPECT_EQ(parse_as<ResetCmd>({"reset", "api", "4"}).targets, (Names{"api", "4"}));
    EXPECT_EQ(parse_exit({"reset"}).code, 2);
    EXPECT_EQ(parse_as<FlushCmd>({"flush", "2"}).app, "2");
}

TEST(CliArgs, SendSignalTakesPm2sSpellings) {
    auto c = parse_as<SignalCmd>({"sendSignal", "SIGUSR2", "api"});
    EXPECT_EQ(c.number, SIGUSR2);
    EXPECT_EQ(c.signal, "SIGUSR2");
    EXPECT_EQ(c.targets, Names{"api"});
    EXPECT_EQ(parse_as<SignalCmd>({"sendSignal", "USR2", "0", "1"}).targets, (Names{"0", "1"}));
    EXPECT_EQ(parse_as<SignalCmd>({"sendSignal", "12", "api"}).number, 12);
    auto bad = parse_exit({"sendSignal", "SIGBOGUS", "api"});
    EXPECT_EQ(bad.code, 2);
    EXPECT_NE(bad.text.find("unknown signal 'SIGBOGUS'"), std::string::npos) << bad.text;
    EXPECT_EQ(parse_exit({"sendSignal", "USR2"}).code, 2);
}

TEST(CliArgs, SignalNumbers) {
    EXPECT_EQ(signal_number("SIGUSR2"), SIGUSR2);
    EXPECT_EQ(signal_number("usr2"), SIGUSR2);
    EXPECT_EQ(signal_number("SigTerm"), SIGTERM);
    EXPECT_EQ(signal_number("HUP"), SIGHUP);
    EXPECT_EQ(signal_number("9"), 9);
    for (const char* bad : {"", "0", "SIG", "SIGFOO", "65", "99999", "-1", "USR"}) EXPECT_EQ(signal_number(bad), 0) << bad;
}

TEST(CliArgs, StartOrReloadAndRestart) {
    auto r = parse_as<StartOrCmd>({"startOrReload", "eco.toml"});
    EXPECT_EQ(r.then, "reload");
    EXPECT_EQ(r.file, "eco.toml");
    EXPECT_EQ(parse_as<StartOrCmd>({"startOrRestart", "x.toml"}).then, "restart");
    EXPECT_EQ(parse_exit({"startOrReload"}).code, 2);
}

TEST(CliArgs, HelpListsCommandsAndDescribesOne) {
    auto all = parse_exit({"help"});
    EXPECT_EQ(all.code, 0);
    for (const char* verb : {"jlist", "prettylist", "sendSignal", "startOrReload", "reset", "env", "scale"})
        EXPECT_NE(all.text.find(verb), std::string::npos) << verb;
    auto stop = parse_exit({"help", "stop"});
    EXPECT_EQ(stop.code, 0);
    EXPECT_NE(stop.text.find("stop"), std::string::npos);
    EXPECT_EQ(parse_exit({"help", "ls"}).code, 0);   // an alias names its command
    auto unknown = parse_exit({"help", "frobnicate"});
    EXPECT_EQ(unknown.code, 2);
    EXPECT_EQ(unknown.text.rfind("nodeedge: unknown command 'frobnicate'\n", 0), 0u) << unknown.text;
}

TEST(CliArgs, VersionSpellings) {
    for (const char* flag : {"-v", "--version"}) {
        auto v = parse_exit({flag});
        EXPECT_EQ(v.code, 0) << flag;
        EXPECT_EQ(v.text, "nodeedge " + ipc::version() + "\n");
    }
    parse_as<VersionCmd>({"version"});
}

TEST(CliArgs, StatusAndItsAliases) {
    EXPECT_FALSE(parse_as<StatusCmd>({"status"}).json);
    EXPECT_TRUE(parse_as<StatusCmd>({"status", "--json"}).json);
    EXPECT_TRUE(parse_as<StatusCmd>({"ls", "--json"}).json);
    EXPECT_FALSE(parse_as<StatusCmd>({"list"}).json);
    EXPECT_FALSE(parse_as<StatusCmd>({"ps"}).json);
    EXPECT_TRUE(parse_as<StatusCmd>({"l", "--json"}).json);
}

TEST(CliArgs, LogsDefaults) {
    auto c = parse_as<LogsCmd>({"logs"});
    EXPECT_EQ(c.app, "");
    EXPECT_EQ(c.lines, 15);
    EXPECT_FALSE(c.follow);
    EXPECT_EQ(c.streams, Streams::Both);
    EXPECT_FALSE(c.json);
}

TEST(CliArgs, LogsOptions) {
    auto c = parse_as<LogsCmd>({"logs", "api", "--lines", "40", "-f", "--err", "--json"});
    EXPECT_EQ(c.app, "api");
    EXPECT_EQ(c.lines, 40);
    EXPECT_TRUE(c.follow);
    EXPECT_EQ(c.streams, Streams::Err);
    EXPECT_TRUE(c.json);
    EXPECT_EQ(parse_as<LogsCmd>({"logs", "--follow", "--out"}).streams, Streams::Out);
    EXPECT_TRUE(parse_as<LogsCmd>({"logs", "--follow"}).follow);
}

TEST(CliArgs, LogsUsageErrors) {
    EXPECT_EQ(parse_exit({"logs", "--err", "--out"}).code, 2);
    EXPECT_EQ(parse_exit({"logs", "--lines", "-3"}).code, 2);
    EXPECT_EQ(parse_exit({"logs", "--lines"}).code, 2);
}

TEST(CliArgs, SmallCommands) {
    EXPECT_EQ(parse_as<FlushCmd>({"flush"}).app, "");
    EXPECT_EQ(parse_as<FlushCmd>({"flush", "api"}).app, "api");
    EXPECT_EQ(parse_as<DescribeCmd>({"describe", "api"}).app, "api");
    for (const char* alias : {"desc", "info", "show"}) EXPECT_EQ(parse_as<DescribeCmd>({alias, "3"}).app, "3");
    EXPECT_EQ(parse_exit({"describe"}).code, 2);
    EXPECT_EQ(parse_as<CheckCmd>({"check", "eco.toml"}).file, "eco.toml");
    EXPECT_EQ(parse_exit({"check"}).code, 2);
    EXPECT_FALSE(parse_as<StartupCmd>({"startup"}).install);
    EXPECT_TRUE(parse_as<StartupCmd>({"startup", "--install"}).install);
    EXPECT_FALSE(parse_as<DaemonCmd>({"daemon"}).foreground);
    EXPECT_TRUE(parse_as<DaemonCmd>({"daemon", "--foreground"}).foreground);
    parse_as<SaveCmd>({"save"});
    parse_as<ResurrectCmd>({"resurrect"});
    parse_as<KillCmd>({"kill"});
    parse_as<VersionCmd>({"version"});
    EXPECT_EQ(parse_exit({"kill", "now"}).code, 2);
}

// The proxy worker's verb is taken before the CLI parses anything (main/main.cpp,
// ipc/proxy_launch.h); to the CLI it is a mistyped command.
TEST(CliArgs, Import) {
    const ImportCmd c = parse_as<ImportCmd>({"import", "ecosystem.config.js", "--env", "production", "--nginx", "a.conf",
                                             "--nginx", "b.conf", "-o", "out.toml"});
    EXPECT_EQ(c.apps, "ecosystem.config.js");
    EXPECT_EQ(c.env, "production");
    EXPECT_EQ(c.nginx, (std::vector<std::string>{"a.conf", "b.conf"}));
    EXPECT_EQ(c.output, "out.toml");
    const ImportCmd only_nginx = parse_as<ImportCmd>({"import", "--nginx", "site.conf"});
    EXPECT_EQ(only_nginx.apps, "");
    EXPECT_EQ(only_nginx.output, "-");
    const ParseExit nothing = parse_exit({"import"});
    EXPECT_EQ(nothing.code, 2);
    EXPECT_NE(nothing.text.find("nothing to import"), std::string::npos) << nothing.text;
}

TEST(CliArgs, ProxyWorkerIsNotACliCommand) {
    auto e = parse_exit({"__proxy-worker", "--channel", "3"});
    EXPECT_EQ(e.code, 2);
    EXPECT_NE(e.text.find("unknown command '__proxy-worker'"), std::string::npos) << e.text;
}

TEST(CliArgs, ProxyWorkerIsHiddenFromHelp) {
    auto help = parse_exit({"--help"});
    EXPECT_EQ(help.code, 0);
    EXPECT_NE(help.text.find("start"), std::string::npos);
    EXPECT_EQ(help.text.find("__proxy-worker"), std::string::npos);
}

TEST(CliArgs, HelpAndVersionExitZero) {
    auto sub = parse_exit({"start", "--help"});
    EXPECT_EQ(sub.code, 0);
    EXPECT_NE(sub.text.find("--instances"), std::string::npos);
    auto version = parse_exit({"--version"});
    EXPECT_EQ(version.code, 0);
    EXPECT_EQ(version.text.rfind("nodeedge ", 0), 0u);
}

TEST(CliArgs, MissingOrUnknownCommandIsUsageError) {
    auto none = parse_exit({});
    EXPECT_EQ(none.code, 2);
    EXPECT_EQ(none.text.rfind("nodeedge: no command given\nusage: nodeedge", 0), 0u) << none.text;
    auto unknown = parse_exit({"frobnicate"});
    EXPECT_EQ(unknown.code, 2);
    EXPECT_EQ(unknown.text.rfind("nodeedge: unknown command 'frobnicate'\n", 0), 0u) << unknown.text;
    EXPECT_EQ(parse_exit({"--bogus"}).code, 2);
}

TEST(CliArgs, UsageErrorIsReasonThenUsageLine) {
    auto e = parse_exit({"scale", "api"});
    EXPECT_EQ(e.text, "nodeedge: n is required\nusage: nodeedge scale APP|ID N|+N|-N\n");
}

TEST(CliArgs, EcosystemFilesAreTomlFiles) {
    EXPECT_TRUE(is_ecosystem_file("eco.toml"));
    EXPECT_TRUE(is_ecosystem_file("/srv/x/ecosystem.toml"));
    EXPECT_FALSE(is_ecosystem_file("app.js"));
    EXPECT_FALSE(is_ecosystem_file(".toml"));
    EXPECT_FALSE(is_ecosystem_file("api"));
}

TEST(CliArgs, ArgvFormSkipsProgramName) {
    const char* argv[] = {"/usr/bin/nodeedge", "stop", "api"};
    auto r = parse_args(3, argv);
    ASSERT_TRUE(std::holds_alternative<Command>(r));
    EXPECT_EQ(std::get<ActionCmd>(std::get<Command>(r)).targets, std::vector<std::string>{"api"});
}

}  // namespace
}  // namespace ne::cli
