// `nodeedge start ecosystem.config.js` on PM2 ecosystem files written as PM2's documentation
// writes them (a .js with module.exports and env_production, a .json, a .yaml, an .mjs with
// export default): the workers' environment (read from /proc), their ports and instances,
// the limits `describe` shows, the warnings for keys nodeedge ignores, cluster mode answering
// on the proxy's port, a reload of the changed file, save/resurrect, and `check`.
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "integration/harness.h"

namespace ne::itest {
namespace {

namespace fs = std::filesystem;

// /proc/<pid>/environ as a map; empty when the process is gone.
std::map<std::string, std::string> environ_of(int pid) {
    std::map<std::string, std::string> env;
    std::string raw = read_file("/proc/" + std::to_string(pid) + "/environ");
    for (size_t start = 0; start < raw.size();) {
        size_t end = raw.find('\0', start);
        if (end == std::string::npos) end = raw.size();
        std::string kv = raw.substr(start, end - start);
        if (size_t eq = kv.find('='); eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
        start = end + 1;
    }
    return env;
}

// The words of /proc/<pid>/cmdline.
std::vector<std::string> cmdline_of(int pid) {
    std::vector<std::string> words;
    std::string raw = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    for (size_t start = 0; start < raw.size();) {
        size_t end = raw.find('\0', start);
        if (end == std::string::npos) end = raw.size();
        words.push_back(raw.substr(start, end - start));
        start = end + 1;
    }
    return words;
}

size_t count_of(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t pos = 0; (pos = text.find(what, pos)) != std::string::npos; pos += what.size()) ++n;
    return n;
}

// PM2's own documentation example, with a key nodeedge ignores and one PM2 does not know.
constexpr const char* kDocsJs = R"(module.exports = {
  apps : [{
    name   : "api",
    script : "${APPS}/echo.js",
    instances : 2,
    exec_mode : "fork",
    max_memory_restart : "150M",
    kill_timeout : 3000,
    vizion : false,
    instance_var : "INSTANCE_ID",
    env : {
      NODE_ENV : "development",
      PORT : ${PORT}
    },
    env_production : {
      NODE_ENV : "production",
      GREETING : process.env.GREETING
    }
  }]
}
)";

class Pm2EcosystemTest : public IntegrationTest {
protected:
    // Runs `nodeedge args...` with `var` added to its environment.
    RunResult run_with_env(const std::string& var, std::vector<std::string> args) {
        args.insert(args.begin(), {"env", var, NODEEDGE_BIN});
        return run_command(args);
    }
    std::vector<json> online_workers(const std::string& app, size_t n) {
        auto workers = workers_of(app);
        EXPECT_EQ(workers.size(), n) << status_json().dump(2);
        for (const auto& w : workers) EXPECT_EQ(w.value("status", ""), "online") << w.dump();
        return workers;
    }
};

TEST_F(Pm2EcosystemTest, DocsJsFileStartsWithEnvProductionFromTheCallersEnvironment) {
    // The daemon runs before GREETING exists: the file must be evaluated in the CLI's environment.
    ASSERT_EQ(run("start", write_file("warmup.toml", "[[apps]]\nname = \"warmup\"\nscript = \"${APPS}/echo.js\"\n"
                                                     "port = ${PORT}\n", {{"PORT", std::to_string(free_port())}}))
                  .code,
              0);
    const int port = free_port_range(2);
    const std::string file = write_file("ecosystem.config.js", kDocsJs, {{"PORT", std::to_string(port)}});
    RunResult r = run_with_env("GREETING=hello-from-shell", {"start", file, "--env", "production"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_EQ(count_of(r.err, "apps[0].vizion: not supported by nodeedge (ignored)"), 1u) << r.err;
    EXPECT_EQ(count_of(r.err, "apps[0].instance_var: not supported by nodeedge (ignored)"), 1u) << r.err;

    auto workers = online_workers("api", 2);
    ASSERT_EQ(workers.size(), 2u);
    for (size_t i = 0; i < workers.size(); ++i) {
        const int pid = workers[i].value("pid", 0);
        EXPECT_EQ(workers[i].value("port", 0), port + static_cast<int>(i));
        auto env = environ_of(pid);
        EXPECT_EQ(env["NODE_ENV"], "production");
        EXPECT_EQ(env["GREETING"], "hello-from-shell");
        EXPECT_EQ(env["PORT"], std::to_string(port + static_cast<int>(i)));
        EXPECT_EQ(get_json(port + static_cast<int>(i), "/").value("pid", 0), pid);
    }
    RunResult d = run("describe", "api");
    ASSERT_EQ(d.code, 0) << d.err;
    EXPECT_TRUE(std::regex_search(d.out, std::regex("max_memory_restart\\s*│\\s*157286400\\b"))) << d.out;
    EXPECT_TRUE(std::regex_search(d.out, std::regex("kill_timeout\\s*│\\s*3000\\b"))) << d.out;
}

TEST_F(Pm2EcosystemTest, JsonFileWithArgsArrayAndNoEnvFlagUsesEnv) {
    const int port = free_port();
    const std::string file = write_file("process.json", R"({
  "apps" : [{
    "name"       : "worker",
    "script"     : "${APPS}/echo.js",
    "args"       : ["--toto=heya coco", "-d", "1"],
    "node_args"  : "--max-old-space-size=128",
    "env": {
      "NODE_ENV": "development",
      "PORT": ${PORT}
    },
    "env_production" : {
       "NODE_ENV": "production"
    }
  }]
}
)", {{"PORT", std::to_string(port)}});
    RunResult r = run("start", file);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_EQ(r.err, "");
    auto workers = online_workers("worker", 1);
    ASSERT_EQ(workers.size(), 1u);
    const int pid = workers[0].value("pid", 0);
    EXPECT_EQ(workers[0].value("port", 0), port);
    EXPECT_EQ(environ_of(pid)["NODE_ENV"], "development");
    auto argv = cmdline_of(pid);
    std::vector<std::string> tail(argv.end() - std::min<size_t>(argv.size(), 4), argv.end());
    EXPECT_EQ(tail, (std::vector<std::string>{std::string(NODEEDGE_SOURCE_DIR) + "/tests/integration/apps/echo.js",
                                              "--toto=heya coco", "-d", "1"}));
    EXPECT_NE(std::find(argv.begin(), argv.end(), "--max-old-space-size=128"), argv.end());
}

TEST_F(Pm2EcosystemTest, YamlFileWithEnvProductionAndInstances) {
    const int port = free_port_range(3);
    const std::string file = write_file("ecosystem.yml", R"(apps:
  - script   : ${APPS}/echo.js
    name     : yaml-api
    instances: 3
    exec_mode: fork
    min_uptime: 2s
    max_memory_restart: 1G
    env:
      PORT: ${PORT}
      NODE_ENV: development
    env_production:
      NODE_ENV: production
)", {{"PORT", std::to_string(port)}});
    RunResult r = run("start", file, "--env", "production");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    auto workers = online_workers("yaml-api", 3);
    ASSERT_EQ(workers.size(), 3u);
    for (size_t i = 0; i < workers.size(); ++i) {
        EXPECT_EQ(workers[i].value("port", 0), port + static_cast<int>(i));
        EXPECT_EQ(environ_of(workers[i].value("pid", 0))["NODE_ENV"], "production");
    }
    RunResult d = run("describe", "yaml-api");
    EXPECT_TRUE(std::regex_search(d.out, std::regex("max_memory_restart\\s*│\\s*1073741824\\b"))) << d.out;
    EXPECT_TRUE(std::regex_search(d.out, std::regex("min_uptime\\s*│\\s*2000\\b"))) << d.out;
}

TEST_F(Pm2EcosystemTest, MjsFileWithExportDefault) {
    const int port = free_port();
    const std::string file = write_file("ecosystem.config.mjs", R"(const apps = [{
  name: "esm",
  script: "${APPS}/echo.js",
  env: { PORT: ${PORT} },
}];
export default { apps };
)", {{"PORT", std::to_string(port)}});
    RunResult r = run("start", file);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    auto workers = online_workers("esm", 1);
    ASSERT_EQ(workers.size(), 1u);
    EXPECT_EQ(get_json(port, "/").value("port", 0), port);
}

TEST_F(Pm2EcosystemTest, ClusterModeAnswersOnTheProxyPortAndSurvivesResurrect) {
    const int port = free_port_range(3);
    const std::string file = write_file("ecosystem.config.js", R"(module.exports = {
  apps: [{
    name: "api",
    script: "${APPS}/echo.js",
    instances: 2,
    exec_mode: "cluster",
    env: { PORT: ${PORT} },
  }],
};
)", {{"PORT", std::to_string(port)}});
    RunResult r = run("start", file);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("api: cluster mode: clients connect to the proxy on 0.0.0.0:" + std::to_string(port) +
                         " (2 workers on ports " + std::to_string(port + 1) + "-" + std::to_string(port + 2) + ")"),
              std::string::npos)
        << r.out;
    auto workers = online_workers("api", 2);
    ASSERT_EQ(workers.size(), 2u);
    std::set<int> pids, ports;
    for (const auto& w : workers) {
        pids.insert(w.value("pid", 0));
        ports.insert(w.value("port", 0));
    }
    EXPECT_EQ(ports, (std::set<int>{port + 1, port + 2}));
    std::set<int> answered;
    for (int i = 0; i < 8; ++i) {
        json j = get_json(port, "/");
        answered.insert(j.value("pid", 0));
        EXPECT_EQ(j["headers"].value("x-forwarded-for", ""), "127.0.0.1");
    }
    EXPECT_EQ(answered, pids);  // round robin over both workers, through the proxy

    ASSERT_EQ(run("save").code, 0);
    ASSERT_EQ(run("kill").code, 0);
    RunResult back = run("resurrect");
    ASSERT_EQ(back.code, 0) << back.out << back.err;
    online_workers("api", 2);
    const int served_by = get_json(port, "/").value("port", 0);
    EXPECT_TRUE(served_by == port + 1 || served_by == port + 2) << served_by;
}

TEST_F(Pm2EcosystemTest, ReloadOfTheJsFileAppliesAChange) {
    const int port = free_port();
    const std::string tmpl = R"(module.exports = {
  apps: [{ name: "api", script: "${APPS}/echo.js", env: { PORT: ${PORT}, RELEASE: "${RELEASE}" },
           kill_timeout: 2000, pmx: false }],
};
)";
    const std::string file = write_file("ecosystem.config.js", tmpl, {{"PORT", std::to_string(port)}, {"RELEASE", "v1"}});
    ASSERT_EQ(run("start", file).code, 0);
    auto before = online_workers("api", 1);
    ASSERT_EQ(before.size(), 1u);
    EXPECT_EQ(environ_of(before[0].value("pid", 0))["RELEASE"], "v1");

    write_file("ecosystem.config.js", tmpl, {{"PORT", std::to_string(port)}, {"RELEASE", "v2"}});
    RunResult r = run("reload", file);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_EQ(count_of(r.err, "apps[0].pmx: not supported by nodeedge (ignored)"), 1u) << r.err;
    auto after = online_workers("api", 1);
    ASSERT_EQ(after.size(), 1u);
    EXPECT_NE(after[0].value("pid", 0), before[0].value("pid", 0));
    EXPECT_EQ(environ_of(after[0].value("pid", 0))["RELEASE"], "v2");
    EXPECT_EQ(get_json(after[0].value("port", 0), "/").value("pid", 0), after[0].value("pid", 0));
}

TEST_F(Pm2EcosystemTest, CheckAndStartRefuseBadValuesNamingFileAndKey) {
    const std::string good = write_file("ecosystem.config.js", R"(module.exports = {
  apps: [{ name: "api", script: "${APPS}/echo.js", automation: false }],
};
)");
    RunResult ok = run("check", good);
    EXPECT_EQ(ok.code, 0) << ok.err;
    EXPECT_NE(ok.err.find("apps[0].automation: not supported by nodeedge (ignored)"), std::string::npos) << ok.err;

    const std::string bad = write_file("bad.config.js", R"(module.exports = {
  apps: [{ name: "api", script: "${APPS}/echo.js", max_memory_restart: "200MB" }],
};
)");
    for (const char* verb : {"check", "start"}) {
        RunResult r = run(verb, bad);
        EXPECT_EQ(r.code, 1) << verb << ": " << r.out << r.err;
        EXPECT_NE(r.err.find(dir() + "/bad.config.js: apps[0].max_memory_restart: expected bytes"), std::string::npos)
            << verb << ": " << r.err;
    }
    const std::string no_script = write_file("noscript.config.js", "module.exports = { apps: [{ name: 'api' }] };\n");
    RunResult r = run("check", no_script);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("apps[0].script: missing"), std::string::npos) << r.err;
    EXPECT_EQ(run("status").code, 3) << "a refused file must not have started the daemon";
}

// ecosystem-examples/hello/ecosystem.config.js as shipped, on a free port.
TEST_F(Pm2EcosystemTest, HelloExampleRunsAsShipped) {
    const fs::path source = fs::path(NODEEDGE_SOURCE_DIR) / "ecosystem-examples" / "hello";
    const fs::path staged = fs::path(dir()) / "hello";
    fs::create_directory(staged);
    for (const auto& entry : fs::directory_iterator(source))
        if (entry.path().filename() != "ecosystem.config.js") fs::create_symlink(entry.path(), staged / entry.path().filename());
    std::string text = read_file((source / "ecosystem.config.js").string());
    const int port = free_port_range(3);
    ASSERT_NE(text.find("PORT: 3000"), std::string::npos);
    text.replace(text.find("PORT: 3000"), 10, "PORT: " + std::to_string(port));
    const std::string file = (staged / "ecosystem.config.js").string();
    std::ofstream(file) << text;

    RunResult r = run("start", file, "--env", "production");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_EQ(r.err, "");
    auto workers = online_workers("hello", 2);
    for (const auto& w : workers) EXPECT_EQ(environ_of(w.value("pid", 0))["NODE_ENV"], "production");
    json j = get_json(port, "/");
    EXPECT_EQ(j.value("hello", ""), "world");
    EXPECT_EQ(j.value("client_ip", ""), "127.0.0.1");
}

}  // namespace
}  // namespace ne::itest
