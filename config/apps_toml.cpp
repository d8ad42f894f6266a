#include "config/apps_toml.h"

#include <filesystem>

namespace ne::config {
namespace {

namespace fs = std::filesystem;
namespace tt = toml_text;

std::string written_path(const std::string& path, const std::string& base) {
    if (base.empty() || path.empty()) return path;
    const fs::path rel = fs::path(path).lexically_relative(base);
    if (rel.empty() || rel.string().starts_with("..")) return path;
    return rel.string();
}

// One comment per key, naming the PM2 option it stands for.
class AppTable {
public:
    explicit AppTable(const App& a) {
        t_.header = "[[apps]]";
        t_.comments.push_back("pm2 app '" + a.name + "'");
    }
    void set(const std::string& key, std::string value, const std::string& pm2_key) {
        t_.set(key, std::move(value), pm2_key.empty() ? "" : "pm2: " + pm2_key);
    }
    tt::Table take() { return std::move(t_); }

private:
    tt::Table t_;
};

std::string env_table(const std::map<std::string, std::string>& env) {
    std::vector<std::pair<std::string, std::string>> entries;
    for (const auto& [k, v] : env) entries.emplace_back(k, tt::quote(v));
    return tt::inline_table(entries);
}

std::string health_check(const HealthCheck& h) {
    const HealthCheck d;
    std::vector<std::pair<std::string, std::string>> entries{{"path", tt::quote(h.path)}};
    if (h.interval != d.interval) entries.emplace_back("interval", tt::duration(h.interval));
    if (h.timeout != d.timeout) entries.emplace_back("timeout", tt::duration(h.timeout));
    if (h.fails != d.fails) entries.emplace_back("fails", std::to_string(h.fails));
    return tt::inline_table(entries);
}

std::string instances(const std::string& written) {
    const bool number = !written.empty() && written.find_first_not_of("0123456789") == std::string::npos;
    return number ? written : tt::quote(written);
}

tt::Table app_table(const App& a, const std::string& base, const std::string& port_note) {
    const App d;
    AppTable t(a);
    auto text = [](const std::string& s) { return tt::quote(s); };
    auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
    t.set("name", text(a.name), "name");
    t.set("script", text(written_path(a.script, base)), "script");
    if (a.cwd != base) t.set("cwd", text(written_path(a.cwd, base)), "cwd");
    if (a.interpreter != d.interpreter) t.set("interpreter", text(a.interpreter), "interpreter");
    if (a.node_args != d.node_args) t.set("node_args", tt::array(a.node_args), "node_args");
    if (a.args != d.args) t.set("args", tt::array(a.args), "args");
    if (a.instances != d.instances) t.set("instances", instances(a.instances), "instances");
    if (a.port != d.port || !port_note.empty())
        t.set("port", std::to_string(a.port), port_note.empty() ? "env.PORT" : port_note);
    if (a.reload_port != d.reload_port) t.set("reload_port", std::to_string(a.reload_port), "");
    if (a.env != d.env) t.set("env", env_table(a.env), "env");
    if (a.max_memory_restart != d.max_memory_restart)
        t.set("max_memory_restart", tt::size(a.max_memory_restart), "max_memory_restart");
    if (a.kill_timeout != d.kill_timeout) t.set("kill_timeout", tt::duration(a.kill_timeout), "kill_timeout");
    if (a.listen_timeout != d.listen_timeout)
        t.set("listen_timeout", tt::duration(a.listen_timeout), "listen_timeout");
    if (a.wait_ready != d.wait_ready) t.set("wait_ready", flag(a.wait_ready), "wait_ready");
    if (a.min_uptime != d.min_uptime) t.set("min_uptime", tt::duration(a.min_uptime), "min_uptime");
    if (a.max_restarts != d.max_restarts) t.set("max_restarts", std::to_string(a.max_restarts), "max_restarts");
    if (a.restart_delay != d.restart_delay) t.set("restart_delay", tt::duration(a.restart_delay), "restart_delay");
    if (a.exp_backoff_restart_delay != d.exp_backoff_restart_delay)
        t.set("exp_backoff_restart_delay", tt::duration(a.exp_backoff_restart_delay), "exp_backoff_restart_delay");
    if (a.merge_logs != d.merge_logs) t.set("merge_logs", flag(a.merge_logs), "merge_logs");
    if (a.out_file != d.out_file) t.set("out_file", text(a.out_file), "out_file");
    if (a.error_file != d.error_file) t.set("error_file", text(a.error_file), "error_file");
    if (a.log_date_format != d.log_date_format) t.set("log_date_format", text(a.log_date_format), "log_date_format");
    if (a.log_max_size != d.log_max_size) t.set("log_max_size", tt::size(a.log_max_size), "");
    if (a.log_retain != d.log_retain) t.set("log_retain", std::to_string(a.log_retain), "");
    if (a.health_check.enabled) t.set("health_check", health_check(a.health_check), "");
    if (a.user != d.user) t.set("user", text(a.user), "uid");
    if (a.group != d.group) t.set("group", text(a.group), "gid");
    if (a.watch != d.watch) {
        const bool whole_cwd = a.watch.size() == 1 && a.watch.front() == a.cwd;
        t.set("watch", whole_cwd ? "true" : tt::array(a.watch), "watch");
    }
    if (a.ignore_watch != d.ignore_watch) t.set("ignore_watch", tt::array(a.ignore_watch), "ignore_watch");
    if (a.watch_delay != d.watch_delay) t.set("watch_delay", tt::duration(a.watch_delay), "watch_delay");
    if (a.cron_restart != d.cron_restart) t.set("cron_restart", text(a.cron_restart), "cron_restart");
    if (a.autorestart != d.autorestart) t.set("autorestart", flag(a.autorestart), "autorestart");
    if (a.increment_var != d.increment_var) t.set("increment_var", text(a.increment_var), "increment_var");
    if (a.namespace_ != d.namespace_) t.set("namespace", text(a.namespace_), "namespace");
    return t.take();
}

}  // namespace

std::vector<toml_text::Table> apps_tables(const std::vector<App>& apps, const std::string& base,
                                          const std::map<std::string, std::string>& port_notes) {
    std::vector<toml_text::Table> out;
    for (const App& a : apps) {
        auto note = port_notes.find(a.name);
        out.push_back(app_table(a, base, note == port_notes.end() ? "" : note->second));
    }
    return out;
}

}  // namespace ne::config
