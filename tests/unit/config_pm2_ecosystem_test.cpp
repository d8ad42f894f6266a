// What a PM2 ecosystem file's exported object becomes (config/pm2_ecosystem, config/pm2_app):
// PM2's key names and units, --env, the port rules for fork and cluster mode, the warnings
// for keys nodeedge ignores and the errors for values PM2 would refuse too. The last tests
// run node on real files, one per kind PM2 reads.
#include <gtest/gtest.h>

#include "config/pm2_app.h"
#include "config/pm2_ecosystem.h"
#include "config/pm2_evaluate.h"
#include "config_test_dir.h"

namespace ne::config {
namespace {

using nlohmann::json;
using testing::TestDir;

class Pm2EcosystemTest : public ::testing::Test {
protected:
    Pm2EcosystemTest() { dir.write("app.js", "require('http').createServer().listen(process.env.PORT)\n"); }

    Result<Pm2Ecosystem> map(const json& exported, const std::string& env = "", int cpus = 4) {
        return pm2_ecosystem_from_json(exported, file(), env, cpus);
    }
    // The one app of {apps: [entry]}; fails the test on an error.
    App app(json entry, const std::string& env = "") {
        if (!entry.contains("script")) entry["script"] = "app.js";
        auto eco = map({{"apps", json::array({entry})}}, env);
        EXPECT_TRUE(eco) << eco.error().message;
        return eco && !eco->config.apps.empty() ? eco->config.apps[0] : App{};
    }
    std::string error(json entry) {
        if (!entry.contains("script")) entry["script"] = "app.js";
        auto eco = map({{"apps", json::array({entry})}});
        EXPECT_FALSE(eco);
        return eco ? "" : eco.error().message;
    }
    std::string file() const { return dir.file("ecosystem.config.js"); }

    TestDir dir;
};

TEST_F(Pm2EcosystemTest, KnowsPm2FilesByNameAsPm2Does) {
    for (const char* f : {"ecosystem.config.js", "ecosystem.config.cjs", "ecosystem.config.mjs", "process.json",
                          "pm2.yml", "/srv/app/pm2.yaml"})
        EXPECT_TRUE(is_pm2_ecosystem(f)) << f;
    for (const char* f : {"app.js", "server.mjs", "ecosystem.toml", "config.toml", "index.cjs"})
        EXPECT_FALSE(is_pm2_ecosystem(f)) << f;
}

TEST_F(Pm2EcosystemTest, MapsTheDocumentedKeys) {
    App a = app({{"name", "api"},
                 {"cwd", "."},
                 {"args", "--port-name 'two words' x=\"a b\""},
                 {"node_args", json::array({"--max-old-space-size=512"})},
                 {"max_memory_restart", "200M"},
                 {"kill_timeout", 3000},
                 {"listen_timeout", "8000"},
                 {"wait_ready", true},
                 {"min_uptime", "5s"},
                 {"max_restarts", 4},
                 {"restart_delay", 250},
                 {"exp_backoff_restart_delay", 100},
                 {"autorestart", false},
                 {"watch", json::array({"src", "lib"})},
                 {"ignore_watch", "node_modules logs"},
                 {"watch_delay", 2000},
                 {"cron_restart", "0 3 * * *"},
                 {"out_file", "logs/out.log"},
                 {"error_file", "NULL"},
                 {"log_date_format", "YYYY-MM-DD HH:mm:ss Z"},
                 {"increment_var", "INSTANCE_PORT"},
                 {"namespace", "backend"},
                 {"uid", 1000},
                 {"gid", "www-data"}});
    const std::string d = dir.path().string();
    EXPECT_EQ(a.name, "api");
    EXPECT_EQ(a.script, d + "/app.js");
    EXPECT_EQ(a.cwd, d);
    EXPECT_EQ(a.interpreter, "node");
    EXPECT_EQ(a.args, (std::vector<std::string>{"--port-name", "two words", "x=\"a b\""}));
    EXPECT_EQ(a.node_args, std::vector<std::string>{"--max-old-space-size=512"});
    EXPECT_EQ(a.max_memory_restart, 200ull << 20);
    EXPECT_EQ(a.kill_timeout, Duration(3000));
    EXPECT_EQ(a.listen_timeout, Duration(8000));
    EXPECT_TRUE(a.wait_ready);
    EXPECT_EQ(a.min_uptime, Duration(5000));
    EXPECT_EQ(a.max_restarts, 4);
    EXPECT_EQ(a.restart_delay, Duration(250));
    EXPECT_FALSE(a.autorestart);
    EXPECT_EQ(a.watch, (std::vector<std::string>{d + "/src", d + "/lib"}));
    EXPECT_EQ(a.ignore_watch, (std::vector<std::string>{"node_modules", "logs"}));
    EXPECT_EQ(a.watch_delay, Duration(2000));
    EXPECT_EQ(a.cron_restart, "0 3 * * *");
    EXPECT_EQ(a.out_file, d + "/logs/out.log");
    EXPECT_EQ(a.error_file, "/dev/null");
    EXPECT_EQ(a.log_date_format, "%Y-%m-%d %H:%M:%S %z");
    EXPECT_EQ(a.increment_var, "INSTANCE_PORT");
    EXPECT_EQ(a.namespace_, "backend");
    EXPECT_EQ(a.user, "1000");
    EXPECT_EQ(a.group, "www-data");
    EXPECT_EQ(a.where.file, file());
}

TEST_F(Pm2EcosystemTest, TakesPm2AliasesAndCamelCase) {
    App a = app({{"exec", "app.js"}, {"interpreterArgs", "--inspect"}, {"killTimeout", 1500},
                 {"out", "o.log"}, {"combine_logs", false}, {"cron", "*/5 * * * *"}, {"script", nullptr}});
    EXPECT_EQ(a.node_args, std::vector<std::string>{"--inspect"});
    EXPECT_EQ(a.kill_timeout, Duration(1500));
    EXPECT_EQ(a.out_file, dir.file("o.log"));
    EXPECT_FALSE(a.merge_logs);
    EXPECT_EQ(a.cron_restart, "*/5 * * * *");
    EXPECT_EQ(a.name, "app");  // PM2's default: the script's basename without extension
}

TEST_F(Pm2EcosystemTest, EnvNameMergesItsSetOverEnv) {
    json entry{{"env", {{"NODE_ENV", "development"}, {"DEBUG", true}, {"RETRIES", 3}}},
               {"env_production", {{"NODE_ENV", "production"}, {"LIMITS", {{"a", 1}}}}}};
    App dev = app(entry);
    EXPECT_EQ(dev.env, (std::map<std::string, std::string>{{"NODE_ENV", "development"}, {"DEBUG", "true"},
                                                            {"RETRIES", "3"}}));
    App prod = app(entry, "production");
    EXPECT_EQ(prod.env.at("NODE_ENV"), "production");
    EXPECT_EQ(prod.env.at("DEBUG"), "true");
    EXPECT_EQ(prod.env.at("LIMITS"), "{\"a\":1}");
}

TEST_F(Pm2EcosystemTest, AMissingEnvSetIsAWarningAsInPm2) {
    auto eco = map({{"apps", {{{"script", "app.js"}, {"env", {{"A", "1"}}}}}}}, "staging");
    ASSERT_TRUE(eco) << eco.error().message;
    EXPECT_EQ(eco->config.apps[0].env.at("A"), "1");
    ASSERT_EQ(eco->warnings.size(), 1u);
    EXPECT_EQ(eco->warnings[0], "apps[0].env_staging: not defined (--env staging; env is used as is)");
}

TEST_F(Pm2EcosystemTest, InstancesAsPm2ReadsThem) {
    EXPECT_EQ(app({{"instances", "max"}}).instances, "max");
    EXPECT_EQ(app({{"instances", 0}}).instances, "max");
    EXPECT_EQ(app({{"instances", -1}}).instances, "-1");
    EXPECT_EQ(app({{"instances", "3"}}).instances, "3");
    EXPECT_EQ(app({}).instances, "1");
    EXPECT_NE(error({{"instances", "many"}}).find("apps[0].instances: expected an integer, or \"max\""),
              std::string::npos);
}

TEST_F(Pm2EcosystemTest, ForkPortComesFromEnvAfterEnvSelection) {
    json entry{{"exec_mode", "fork"}, {"env", {{"PORT", 4000}}}, {"env_production", {{"PORT", "8080"}}}};
    EXPECT_EQ(app(entry).port, 4000);
    App prod = app(entry, "production");
    EXPECT_EQ(prod.port, 8080);
    EXPECT_EQ(prod.env.count("PORT"), 0u);  // nodeedge sets PORT = port + i itself
    EXPECT_EQ(app({{"port", 5000}}).port, 5000);
    EXPECT_NE(error({{"env", {{"PORT", "http"}}}}).find("apps[0].env: PORT: expected a port number"),
              std::string::npos);
}

TEST_F(Pm2EcosystemTest, AppsWithoutPortTakeFreeRangesFrom3000) {
    auto eco = map({{"apps",
                     {{{"name", "a"}, {"script", "app.js"}, {"exec_mode", "fork"}, {"instances", 2}},
                      {{"name", "b"}, {"script", "app.js"}},
                      {{"name", "c"}, {"script", "app.js"}, {"env", {{"PORT", 3003}}}}}}});
    ASSERT_TRUE(eco) << eco.error().message;
    // c holds 3003 explicitly; a takes 3000-3001, b the next free port that is not 3003.
    EXPECT_EQ(eco->config.apps[0].port, 3000);
    EXPECT_EQ(eco->config.apps[1].port, 3002);
    EXPECT_EQ(eco->config.apps[2].port, 3003);
    EXPECT_TRUE(eco->config.servers.empty());
}

TEST_F(Pm2EcosystemTest, ClusterModeListensOnPortAndRunsWorkersAboveIt) {
    auto eco = map({{"apps",
                     {{{"name", "api"}, {"script", "app.js"}, {"exec_mode", "cluster"}, {"instances", 4},
                       {"env", {{"PORT", 3000}}}},
                      {{"name", "web"}, {"script", "app.js"}, {"env", {{"PORT", 3002}}}}}}});
    ASSERT_TRUE(eco) << eco.error().message;
    const Config& c = eco->config;
    EXPECT_EQ(c.apps[1].port, 3002);
    EXPECT_EQ(c.apps[0].port, 3003);  // 3001-3004 would take web's 3002
    ASSERT_EQ(c.servers.size(), 1u);
    ASSERT_EQ(c.servers[0].listen.size(), 1u);
    EXPECT_EQ(c.servers[0].listen[0].str(), "0.0.0.0:3000");
    ASSERT_EQ(c.servers[0].locations.size(), 1u);
    EXPECT_EQ(c.servers[0].locations[0].path, "/");
    EXPECT_EQ(c.servers[0].locations[0].app, "api");
    EXPECT_EQ(c.servers[0].where.file, file());
    EXPECT_EQ(pm2_cluster_notes(c, 4),
              std::vector<std::string>{
                  "api: cluster mode: clients connect to the proxy on 0.0.0.0:3000 (4 workers on ports 3003-3006)"});
}

TEST_F(Pm2EcosystemTest, InstancesWithoutExecModeMeanClusterAsInPm2) {
    auto eco = map({{"apps", {{{"script", "app.js"}, {"instances", "max"}}}}}, "", 2);
    ASSERT_TRUE(eco) << eco.error().message;
    ASSERT_EQ(eco->config.servers.size(), 1u);
    EXPECT_EQ(eco->config.servers[0].listen[0].port, 3000);
    EXPECT_EQ(eco->config.apps[0].port, 3001);
    EXPECT_FALSE(eco->config.apps[0].merge_logs);  // PM2 keeps a cluster's logs per instance
    EXPECT_TRUE(app({{"script", "app.js"}}).merge_logs);
}

TEST_F(Pm2EcosystemTest, UnsupportedKeysAreWarningsWithTheirPath) {
    auto eco = map({{"apps",
                     {{{"script", "app.js"}, {"name", "a"}},
                      {{"script", "app.js"}, {"name", "b"}, {"vizion", false}, {"post_update", json::array()},
                       {"source_map_support", true}, {"instanse", 2}}}},
                    {"deploy", {{"production", {{"user", "node"}}}}}});
    ASSERT_TRUE(eco) << eco.error().message;
    EXPECT_EQ(eco->warnings,
              (std::vector<std::string>{
                  "deploy: not supported by nodeedge (ignored; its env sections still apply under --env, as in PM2)",
                  "apps[1].instanse: not a PM2 key (ignored, as PM2 ignores it)",
                  "apps[1].post_update: not supported by nodeedge (ignored)",
                  "apps[1].source_map_support: not supported by nodeedge (ignored)",
                  "apps[1].vizion: not supported by nodeedge (ignored)"}));
}

TEST_F(Pm2EcosystemTest, BadValuesAreErrorsNamingFileAndKey) {
    const std::string f = file() + ": ";
    EXPECT_EQ(error({{"max_memory_restart", "200MB"}}),
              f + "apps[0].max_memory_restart: expected bytes, or \"<N>K\", \"<N>M\", \"<N>G\" (PM2's spelling), "
                  "got \"200MB\"");
    EXPECT_EQ(error({{"kill_timeout", "5s"}}),
              f + "apps[0].kill_timeout: expected milliseconds (an integer >= 0), got \"5s\"");
    EXPECT_EQ(error({{"exec_mode", "threads"}}), f + "apps[0].exec_mode: expected \"fork\" or \"cluster\", got \"threads\"");
    EXPECT_EQ(error({{"minUptime", 50}}), f + "apps[0].minUptime: must be at least 100 ms (PM2's minimum), got 50");
    EXPECT_EQ(error({{"wait_ready", "yes"}}), f + "apps[0].wait_ready: expected true or false, got \"yes\"");
    EXPECT_EQ(error({{"max_memory_restart", "99999999999999999999999G"}}),
              f + "apps[0].max_memory_restart: expected bytes, or \"<N>K\", \"<N>M\", \"<N>G\" (PM2's spelling), "
                  "got \"99999999999999999999999G\"");
    EXPECT_EQ(app({{"max_memory_restart", "1048576"}}).max_memory_restart, 1048576u);
    EXPECT_EQ(app({{"max_memory_restart", 52428800}}).max_memory_restart, 52428800u);
    EXPECT_EQ(app({{"min_uptime", 3000}}).min_uptime, Duration(3000));
    EXPECT_EQ(app({{"min_uptime", "2m"}}).min_uptime, Duration(120000));
    EXPECT_EQ(error({{"env", "NODE_ENV=production"}}),
              f + "apps[0].env: expected an object of environment variables, got \"NODE_ENV=production\"");
}

TEST_F(Pm2EcosystemTest, AnEntryWithoutScriptOrWithANameNodeedgeRefusesIsAnError) {
    auto eco = map({{"apps", {{{"name", "api"}}}}});
    ASSERT_FALSE(eco);
    EXPECT_EQ(eco.error().message, file() + ": apps[0].script: missing: every app needs a script (PM2 refuses it too)");
    EXPECT_NE(error({{"name", "my api"}}).find("apps[0].name: 'my api' may only contain letters"), std::string::npos);
    EXPECT_NE(error({{"name", "all"}}).find("apps[0].name: 'all' is reserved"), std::string::npos);
}

TEST_F(Pm2EcosystemTest, TheExportedValueIsReadAsPm2ReadsIt) {
    auto bare = map({{"script", "app.js"}, {"name", "solo"}});
    ASSERT_TRUE(bare) << bare.error().message;
    EXPECT_EQ(bare->config.apps[0].name, "solo");
    auto list = map(json::array({{{"script", "app.js"}, {"name", "one"}}, {{"script", "app.js"}, {"name", "two"}}}));
    ASSERT_TRUE(list) << list.error().message;
    EXPECT_EQ(list->config.apps.size(), 2u);
    EXPECT_FALSE(map({{"apps", json::array()}}));
}

TEST_F(Pm2EcosystemTest, ScriptsResolveAgainstCwdThenPath) {
    dir.write("srv/server.js", "");
    App a = app({{"cwd", "srv"}, {"script", "server.js"}});
    EXPECT_EQ(a.script, dir.file("srv/server.js"));
    EXPECT_EQ(a.cwd, dir.file("srv"));
    App npm = app({{"script", "sh"}, {"args", "-c true"}});
    EXPECT_TRUE(npm.script.ends_with("/sh")) << npm.script;
    App shell = app({{"script", "node app.js --flag"}, {"name", "shell"}});
    EXPECT_EQ(shell.interpreter, "none");
    EXPECT_EQ(shell.args, (std::vector<std::string>{"-c", "node app.js --flag"}));
    EXPECT_EQ(app({{"script", "run.py"}}).interpreter, "python");
}

TEST(Pm2Mapping, SplitsArgsLikePm2) {
    EXPECT_EQ(pm2_split_args("  a  \"b c\" 'd e' --k=\"x y\" f"),
              (std::vector<std::string>{"a", "b c", "d e", "--k=\"x y\"", "f"}));
    EXPECT_TRUE(pm2_split_args("   ").empty());
    // What PM2's regex gives on odd input (checked against node).
    EXPECT_EQ(pm2_split_args("\" lone"), std::vector<std::string>{"lone"});
    EXPECT_EQ(pm2_split_args("k='v w' x=\"unclosed y"),
              (std::vector<std::string>{"k='v w'", "x=\"unclosed", "y"}));
    EXPECT_EQ(pm2_split_args("=\"a b\""), (std::vector<std::string>{"=\"a", "b\""}));
    EXPECT_EQ(pm2_split_args("--a=b=\"c d\""), (std::vector<std::string>{"--a=b=\"c", "d\""}));
    EXPECT_EQ(pm2_split_args("\"\" x \""), std::vector<std::string>{"x"});
    EXPECT_EQ(pm2_split_args(std::string(200000, 'a')).size(), 1u);
}

TEST(Pm2Mapping, ConvertsDayjsDateFormats) {
    std::vector<std::string> dropped;
    EXPECT_EQ(pm2_date_format_to_strftime("YYYY-MM-DDTHH:mm:ss", dropped), "%Y-%m-%dT%H:%M:%S");
    EXPECT_EQ(pm2_date_format_to_strftime("[at] D MMM YY, h:mm A", dropped), "at %-d %b %y, %-I:%M %p");
    EXPECT_TRUE(dropped.empty());
    EXPECT_EQ(pm2_date_format_to_strftime("HH:mm:ss.SSS 100%", dropped), "%H:%M:%S. 100%%");
    EXPECT_EQ(dropped, std::vector<std::string>{"SSS"});
}

// ---- node evaluates real files ----------------------------------------------------------

TEST(Pm2Evaluate, EvaluatesEachKindPm2Reads) {
    TestDir dir;
    auto js = evaluate_pm2_file(dir.write("ecosystem.config.js",
                                          "console.log('noise on stdout');\n"
                                          "module.exports = { apps: [{ name: 'a', script: 'app.js', "
                                          "env: { HOME_SEEN: process.env.HOME } }] }\n"));
    ASSERT_TRUE(js) << js.error().message;
    EXPECT_EQ((*js)["apps"][0]["name"], "a");
    EXPECT_EQ((*js)["apps"][0]["env"]["HOME_SEEN"], std::getenv("HOME") ? std::getenv("HOME") : "");

    auto mjs = evaluate_pm2_file(dir.write("ecosystem.config.mjs", "export default { apps: [{ name: 'm' }] }\n"));
    ASSERT_TRUE(mjs) << mjs.error().message;
    EXPECT_EQ((*mjs)["apps"][0]["name"], "m");

    // PM2 evaluates .json as a JavaScript expression: comments and trailing commas pass.
    auto js_json = evaluate_pm2_file(dir.write("process.json", "{ // apps\n \"apps\": [{\"name\": \"j\",}] }\n"));
    ASSERT_TRUE(js_json) << js_json.error().message;
    EXPECT_EQ((*js_json)["apps"][0]["name"], "j");

    auto yaml = evaluate_pm2_file(dir.write("ecosystem.yml", "apps:\n  - name: y\n    instances: 2\n"));
    ASSERT_TRUE(yaml) << yaml.error().message;
    EXPECT_EQ((*yaml)["apps"][0]["instances"], 2);
}

TEST(Pm2Evaluate, ASyntaxErrorNamesTheFileAndLine) {
    TestDir dir;
    auto bad = evaluate_pm2_file(dir.write("ecosystem.config.js", "module.exports = {\n  apps: [ oops here ]\n}\n"));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("ecosystem.config.js:2"), std::string::npos) << bad.error().message;
    EXPECT_NE(bad.error().message.find("SyntaxError"), std::string::npos) << bad.error().message;
    auto thrown = evaluate_pm2_file(dir.write("t.config.js", "throw new Error('no secrets file');\n"));
    ASSERT_FALSE(thrown);
    EXPECT_NE(thrown.error().message.find("Error: no secrets file"), std::string::npos) << thrown.error().message;
}

}  // namespace
}  // namespace ne::config
