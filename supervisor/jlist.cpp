#include "supervisor/jlist.h"

#include "supervisor/spawn.h"

namespace ne::supervisor {

using nlohmann::json;

namespace {

// PM2's words: a draining worker is on its way out, which PM2 calls stopping.
std::string pm2_status(State s) { return s == State::Draining ? "stopping" : to_string(s); }

// What the daemon spawns the worker with (worker_spec): the daemon's environment, the app's
// env, PORT, NODE_APP_INSTANCE and the rest; PM2's pm2_env.env is likewise the full set.
json spawn_env(const config::App& cfg, const Worker& w) {
    json env = json::object();
    for (const std::string& kv : worker_spec(cfg, w.instance(), w.port()).env) {
        auto eq = kv.find('=');
        env[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
    }
    return env;
}

}  // namespace

json pm2_process(const App& app, const Worker& w, bool cluster, const LogPaths& logs) {
    const config::App& cfg = w.app();
    const int pid = w.pid() > 0 ? w.pid() : 0;
    json pm2_env = {
        {"name", app.name()},
        {"namespace", cfg.namespace_},
        {"pm_id", w.slot()},
        {"status", pm2_status(w.state())},
        {"pm_uptime", w.started_at_ms()},
        {"restart_time", w.restarts()},
        {"unstable_restarts", w.unstable_restarts()},
        {"instances", app.instances()},
        {"exec_mode", cluster ? "cluster_mode" : "fork_mode"},
        {"NODE_APP_INSTANCE", w.instance()},
        {"pm_exec_path", cfg.script},
        {"pm_cwd", cfg.cwd},
        {"exec_interpreter", cfg.interpreter},
        {"node_args", cfg.node_args},
        {"args", cfg.args},
        {"pm_out_log_path", logs.out},
        {"pm_err_log_path", logs.err},
        {"merge_logs", cfg.merge_logs},
        {"max_memory_restart", cfg.max_memory_restart},
        {"kill_timeout", cfg.kill_timeout.count()},
        {"autorestart", cfg.autorestart},
        {"port", w.port()},
        {"env", spawn_env(cfg, w)},
    };
    return {{"pid", pid},
            {"name", app.name()},
            {"pm_id", w.slot()},
            {"monit", {{"memory", w.memory_bytes()}, {"cpu", w.cpu_percent()}}},
            {"pm2_env", std::move(pm2_env)}};
}

}  // namespace ne::supervisor
