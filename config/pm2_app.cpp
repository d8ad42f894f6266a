#include "config/pm2_app.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "config/load.h"

namespace ne::config {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// PM2 accepts every schema key in camelCase too (Config.schema renders the aliases).
std::string snake_case(const std::string& key) {
    std::string out;
    for (char c : key) {
        if (c >= 'A' && c <= 'Z') {
            out += '_';
            out += static_cast<char>(c - 'A' + 'a');
        } else {
            out += c;
        }
    }
    return out;
}

// PM2's schema aliases (and verifyConfs' cmd/command), to the names this file maps.
const std::map<std::string, std::string> kAliases{
    {"exec", "script"},          {"cmd", "script"},          {"command", "script"},
    {"exec_interpreter", "interpreter"}, {"interpreter_args", "node_args"},
    {"out", "out_file"},         {"output", "out_file"},     {"out_log", "out_file"},
    {"error", "error_file"},     {"err", "error_file"},      {"err_file", "error_file"},
    {"err_log", "error_file"},   {"log", "log_file"},        {"pid", "pid_file"},
    {"cron", "cron_restart"},    {"combine_logs", "merge_logs"}, {"user", "uid"},
};

const std::set<std::string> kMapped{
    "name", "script", "cwd", "args", "node_args", "interpreter", "instances", "exec_mode", "env", "port",
    "max_memory_restart", "kill_timeout", "listen_timeout", "wait_ready", "min_uptime", "max_restarts",
    "restart_delay", "exp_backoff_restart_delay", "autorestart", "watch", "ignore_watch", "watch_delay",
    "cron_restart", "error_file", "out_file", "merge_logs", "log_date_format", "increment_var", "namespace",
    "uid", "gid",
};

// The rest of PM2's schema: accepted by PM2, without an equivalent here.
const std::set<std::string> kPm2Only{
    "name_prefix", "filter_env", "install_url", "log_file", "disable_logs", "log_type", "time", "pid_file",
    "source_map_support", "disable_source_map_support", "shutdown_with_message", "vizion", "autostart",
    "stop_exit_codes", "watch_options", "execute_command", "force", "append_env_to_name", "post_update",
    "trace", "disable_trace", "v8", "event_loop_inspector", "deep_monitoring", "instance_var", "pmx",
    "automation", "treekill", "username", "windows_hide", "kill_retry_time", "write", "io",
};

// PM2's interpreter for a script without `interpreter` (lib/API/interpreter.json).
const std::map<std::string, std::string> kInterpreters{
    {".sh", "bash"}, {".py", "python"}, {".rb", "ruby"},   {".php", "php"},  {".pl", "perl"},
    {".js", "node"}, {".coffee", "coffee"}, {".ls", "lsc"}, {".ts", "bun"}, {".tsx", "bun"},
};

std::string resolve_against(const fs::path& base, const std::string& p) {
    std::string expanded = p;
    if (p == "~" || p.starts_with("~/"))
        if (const char* home = std::getenv("HOME")) expanded = home + p.substr(1);
    fs::path r = (base / expanded).lexically_normal();
    if (!r.has_filename() && r.has_relative_path()) r = r.parent_path();
    return r.string();
}

// PM2 runs a script it cannot find beside cwd from PATH (`script: "npm"`).
std::optional<std::string> which(const std::string& name) {
    const char* path = std::getenv("PATH");
    if (!path || name.find('/') != std::string::npos) return std::nullopt;
    std::string dirs = path;
    for (size_t start = 0; start <= dirs.size();) {
        size_t end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        start = end + 1;
    }
    return std::nullopt;
}

// PM2's isBinary: a file without a known extension runs directly when it is not text.
bool looks_binary(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::array<char, 512> buf{};
    in.read(buf.data(), buf.size());
    for (std::streamsize i = 0; i < in.gcount(); ++i)
        if (buf[static_cast<size_t>(i)] == '\0') return true;
    return false;
}

std::string env_value(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_number_float()) {
        double d = v.get<double>();
        if (std::nearbyint(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
    }
    return v.dump();  // numbers as JSON writes them; objects JSON-stringified, as PM2 does
}

// Reads one entry; the first error wins (later keys are still looked at for warnings).
class EntryReader {
public:
    EntryReader(const json& entry, std::string label, std::vector<std::string>& warnings)
        : label_(std::move(label)), warnings_(warnings) {
        for (auto it = entry.begin(); it != entry.end(); ++it) {
            const std::string written = it.key();
            std::string key = snake_case(written);
            if (auto a = kAliases.find(key); a != kAliases.end()) key = a->second;
            if (key.starts_with("env_")) {
                env_sets_[written.substr(4)] = &it.value();
            } else if (kMapped.count(key)) {
                // The schema's own name wins over an alias unless it is null, as in PM2's
                // validateJSON (`conf[sk] || (conf[sk] = json[alias])`).
                auto known = keys_.find(key);
                bool wins = known == keys_.end() || known->second.value->is_null() ||
                            (written == key && !it.value().is_null());
                if (wins) keys_[key] = {written, &it.value()};
            } else if (kPm2Only.count(key)) {
                warnings_.push_back(path(written) + ": not supported by nodeedge (ignored)");
            } else {
                warnings_.push_back(path(written) + ": not a PM2 key (ignored, as PM2 ignores it)");
            }
        }
    }

    const json* get(const std::string& key) const {
        auto it = keys_.find(key);
        // null counts as absent, as in PM2's validateJSON.
        return it == keys_.end() || it->second.value->is_null() ? nullptr : it->second.value;
    }
    const json* env_set(const std::string& name) const {
        auto it = env_sets_.find(name);
        return it == env_sets_.end() ? nullptr : it->second;
    }
    std::string path(const std::string& key) const { return label_ + "." + key; }
    std::string written(const std::string& key) const {
        auto it = keys_.find(key);
        return path(it == keys_.end() ? key : it->second.written);
    }
    void fail(const std::string& key, const std::string& message) {
        if (!error_) error_ = Error{written(key) + ": " + message};
    }
    void bad(const std::string& key, const std::string& expected) {
        fail(key, "expected " + expected + ", got " + get(key)->dump());
    }
    void warn(const std::string& text) { warnings_.push_back(text); }
    const std::optional<Error>& error() const { return error_; }

    bool string(const std::string& key, std::string& out) {
        const json* v = get(key);
        if (!v) return false;
        if (!v->is_string()) return bad(key, "a string"), false;
        out = v->get<std::string>();
        return true;
    }
    bool boolean(const std::string& key, bool& out) {
        const json* v = get(key);
        if (!v) return false;
        if (!v->is_boolean()) return bad(key, "true or false"), false;
        out = v->get<bool>();
        return true;
    }
    // PM2 parses a number written as a string ("3000") like the number.
    std::optional<double> number(const std::string& key) {
        const json* v = get(key);
        if (!v) return std::nullopt;
        if (v->is_number()) return v->get<double>();
        if (v->is_string()) {
            const std::string s = v->get<std::string>();
            char* end = nullptr;
            double d = std::strtod(s.c_str(), &end);
            if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d)) return d;
        }
        return std::nullopt;
    }
    bool integer(const std::string& key, long long lo, long long hi, long long& out, const std::string& expected) {
        if (!get(key)) return false;
        auto d = number(key);
        if (!d || std::nearbyint(*d) != *d || *d < static_cast<double>(lo) || *d > static_cast<double>(hi))
            return bad(key, expected), false;
        out = static_cast<long long>(*d);
        return true;
    }
    // PM2 gives these in milliseconds.
    void millis(const std::string& key, Duration& out) {
        long long ms = 0;
        if (integer(key, 0, 1LL << 40, ms, "milliseconds (an integer >= 0)")) out = Duration(ms);
    }
    // An array of strings, or one string split as PM2 splits it.
    bool words(const std::string& key, std::vector<std::string>& out) {
        const json* v = get(key);
        if (!v) return false;
        if (v->is_string()) {
            out = pm2_split_args(v->get<std::string>());
            return true;
        }
        if (v->is_array() && std::all_of(v->begin(), v->end(), [](const json& x) { return x.is_string(); })) {
            out = v->get<std::vector<std::string>>();
            return true;
        }
        return bad(key, "a string or an array of strings"), false;
    }

private:
    struct Key {
        std::string written;
        const json* value;
    };
    std::string label_;
    std::vector<std::string>& warnings_;
    std::map<std::string, Key> keys_;
    std::map<std::string, const json*> env_sets_;
    std::optional<Error> error_;
};

void map_script(EntryReader& r, App& a) {
    std::string script;
    if (!r.string("script", script)) {
        if (!r.get("script")) r.fail("script", "missing: every app needs a script (PM2 refuses it too)");
        return;
    }
    if (script.find(' ') != std::string::npos) {
        // PM2 runs `script: "npm run serve"` with bash -c.
        a.script = which("bash").value_or("/bin/bash");
        a.interpreter = "none";
        a.args = {"-c", script};
        return;
    }
    a.script = resolve_against(a.cwd, script);
    if (!fs::exists(a.script))
        if (auto found = which(script)) a.script = *found;
}

void map_interpreter(EntryReader& r, App& a, bool shell_command) {
    if (r.string("interpreter", a.interpreter) || shell_command) return;
    if (auto it = kInterpreters.find(fs::path(a.script).extension().string()); it != kInterpreters.end())
        a.interpreter = it->second;
    else
        a.interpreter = looks_binary(a.script) ? "none" : "node";
}

// instances: "max"/0 = CPUs, -K = CPUs - K, N; also a numeric string. Returns whether given.
bool map_instances(EntryReader& r, App& a) {
    const json* v = r.get("instances");
    if (!v) return false;
    if (v->is_string() && v->get<std::string>() == "max") {
        a.instances = "max";
        return true;
    }
    long long n = 0;
    if (!r.integer("instances", -1024, 1024, n, "an integer, or \"max\"")) return true;
    a.instances = n == 0 ? "max" : std::to_string(n);
    return true;
}

// PM2's default: `instances` with a node interpreter means cluster mode (determineExecMode),
// so instances -2 or a python script stays fork.
bool map_exec_mode(EntryReader& r, const App& a, bool instances_given) {
    std::string mode;
    if (r.string("exec_mode", mode)) {
        if (mode == "cluster" || mode == "cluster_mode") return true;
        if (mode != "fork" && mode != "fork_mode") r.bad("exec_mode", "\"fork\" or \"cluster\"");
        return false;
    }
    bool node = a.interpreter == "node" || a.interpreter.ends_with("/node") || a.interpreter == "bun" ||
                a.interpreter.ends_with("/bun");
    bool counted = a.instances == "max" || a.instances == "-1" || !a.instances.starts_with("-");
    return instances_given && node && counted;
}

// env, then env_<NAME> over it (mergeEnvironmentVariables); deploy.<NAME>.env under both.
std::map<std::string, std::string> map_env(EntryReader& r, const Pm2AppContext& cx) {
    std::map<std::string, std::string> env;
    auto merge = [&](const json* set, const std::string& key) {
        if (!set || set->is_null()) return;
        if (!set->is_object()) {
            r.fail(key, "expected an object of environment variables, got " + set->dump());
            return;
        }
        for (auto it = set->begin(); it != set->end(); ++it) env[it.key()] = env_value(it.value());
    };
    if (!cx.env_name.empty()) merge(cx.deploy_env.is_null() ? nullptr : &cx.deploy_env, "env");
    merge(r.get("env"), "env");
    if (!cx.env_name.empty()) {
        const json* chosen = r.env_set(cx.env_name);
        if (chosen)
            merge(chosen, "env_" + cx.env_name);
        else
            r.warn(r.path("env_" + cx.env_name) + ": not defined (--env " + cx.env_name + "; env is used as is)");
    }
    return env;
}

// PM2 sets env.PORT from `port`; PORT itself is nodeedge's to give (port + i), so it leaves env.
std::optional<int> take_port(EntryReader& r, std::map<std::string, std::string>& env) {
    long long port = 0;
    if (r.integer("port", 1, 65535, port, "a port number (1-65535)")) env["PORT"] = std::to_string(port);
    auto it = env.find("PORT");
    if (it == env.end()) return std::nullopt;
    const std::string text = it->second;
    env.erase(it);
    char* end = nullptr;
    long p = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || p < 1 || p > 65535) {
        r.fail("env", "PORT: expected a port number (1-65535), got \"" + text + "\"");
        return std::nullopt;
    }
    return static_cast<int>(p);
}

// PM2's "<digits><unit>" strings ("200M", "5s"); no unit = the base unit. nullopt when the
// text is not that or the value passes `max`.
std::optional<uint64_t> scaled(const std::string& text, const std::map<char, uint64_t>& units, uint64_t max) {
    size_t digits = text.find_first_not_of("0123456789");
    if (digits == 0 || (digits != std::string::npos && digits + 1 != text.size())) return std::nullopt;
    uint64_t unit = 1;
    if (digits != std::string::npos) {
        auto it = units.find(text.back());
        if (it == units.end()) return std::nullopt;
        unit = it->second;
    }
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + (digits == std::string::npos ? text.size() : digits), n);
    if (ec != std::errc() || n > max / unit) return std::nullopt;
    return n * unit;
}

void map_limits(EntryReader& r, App& a) {
    if (const json* v = r.get("max_memory_restart")) {
        const std::string expected = "bytes, or \"<N>K\", \"<N>M\", \"<N>G\" (PM2's spelling)";
        long long bytes = 0;
        if (v->is_number()) {
            if (r.integer("max_memory_restart", 0, 1LL << 50, bytes, expected))
                a.max_memory_restart = static_cast<uint64_t>(bytes);
        } else if (auto size = scaled(v->is_string() ? v->get<std::string>() : "", {{'K', 1ull << 10}, {'M', 1ull << 20},
                                                                                     {'G', 1ull << 30}}, 1ull << 50)) {
            a.max_memory_restart = *size;
        } else {
            r.bad("max_memory_restart", expected);
        }
    }
    r.millis("kill_timeout", a.kill_timeout);
    r.millis("listen_timeout", a.listen_timeout);
    r.boolean("wait_ready", a.wait_ready);
    if (const json* v = r.get("min_uptime")) {
        const std::string expected = "milliseconds, or \"<N>s\", \"<N>m\", \"<N>h\"";
        long long ms = -1;
        if (v->is_number()) {
            r.integer("min_uptime", 0, 1LL << 40, ms, expected);
        } else if (auto t = scaled(v->is_string() ? v->get<std::string>() : "", {{'s', 1000}, {'m', 60000}, {'h', 3600000}},
                                   1ull << 40)) {
            ms = static_cast<long long>(*t);
        } else {
            r.bad("min_uptime", expected);
        }
        if (ms >= 0 && ms < 100) r.fail("min_uptime", "must be at least 100 ms (PM2's minimum), got " + v->dump());
        else if (ms >= 100) a.min_uptime = Duration(ms);
    }
    long long restarts = 0;
    if (r.integer("max_restarts", 0, 1 << 30, restarts, "an integer >= 0")) a.max_restarts = static_cast<int>(restarts);
    r.millis("restart_delay", a.restart_delay);
    r.millis("exp_backoff_restart_delay", a.exp_backoff_restart_delay);
    r.boolean("autorestart", a.autorestart);
    r.string("cron_restart", a.cron_restart);
}

void map_watch(EntryReader& r, App& a) {
    if (const json* v = r.get("watch")) {
        if (v->is_boolean()) {
            if (v->get<bool>()) a.watch = {a.cwd};
        } else if (v->is_string()) {
            a.watch = {resolve_against(a.cwd, v->get<std::string>())};
        } else if (std::vector<std::string> paths; r.words("watch", paths)) {
            for (auto& p : paths) a.watch.push_back(resolve_against(a.cwd, p));
        }
    }
    r.words("ignore_watch", a.ignore_watch);
    r.millis("watch_delay", a.watch_delay);
}

// PM2 writes log files relative to the app's cwd; "NULL" and /dev/null discard.
void map_logs(EntryReader& r, App& a, bool cluster, bool instances_given) {
    for (auto [key, out] : {std::pair{"out_file", &a.out_file}, std::pair{"error_file", &a.error_file}}) {
        std::string written;
        if (!r.string(key, written)) continue;
        *out = written == "NULL" ? "/dev/null" : resolve_against(a.cwd, written);
    }
    // PM2 merges the instances' logs by default only for a fork app without `instances`.
    a.merge_logs = !cluster && (!instances_given || a.instances == "max");
    r.boolean("merge_logs", a.merge_logs);
    std::string format;
    if (r.string("log_date_format", format)) {
        std::vector<std::string> dropped;
        a.log_date_format = pm2_date_format_to_strftime(format, dropped);
        for (auto& token : dropped)
            r.warn(r.written("log_date_format") + ": '" + token + "' has no strftime equivalent (left out)");
    }
}

// uid/gid as a name or a number; nodeedge's App keeps both as text.
void map_credentials(EntryReader& r, App& a) {
    for (auto [key, out] : {std::pair{"uid", &a.user}, std::pair{"gid", &a.group}}) {
        const json* v = r.get(key);
        if (!v) continue;
        if (v->is_string()) *out = v->get<std::string>();
        else if (v->is_number_unsigned() || v->is_number_integer()) *out = std::to_string(v->get<long long>());
        else r.bad(key, "a user or group name, or a numeric id");
    }
}

}  // namespace

std::vector<std::string> pm2_split_args(const std::string& text) {
    // PM2's /[^\s"'=]+="[^"]*"|[^\s"'=]+='[^']*'|"([^"]*)"|'([^']*)'|\S+/g, written out: a
    // recursive std::regex would overflow the stack on a long enough word.
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    std::vector<std::string> out;
    for (size_t i = 0; i < text.size();) {
        if (space(text[i])) {
            ++i;
            continue;
        }
        size_t end = std::string::npos;
        size_t key_end = i;
        while (key_end < text.size() && !space(text[key_end]) && text[key_end] != '"' && text[key_end] != '\'' &&
               text[key_end] != '=')
            ++key_end;
        if (key_end > i && key_end + 1 < text.size() && text[key_end] == '=' &&
            (text[key_end + 1] == '"' || text[key_end + 1] == '\'')) {
            size_t close = text.find(text[key_end + 1], key_end + 2);  // key="value" / key='value'
            if (close != std::string::npos) end = close + 1;
        }
        if (end == std::string::npos && (text[i] == '"' || text[i] == '\'')) {
            size_t close = text.find(text[i], i + 1);  // "quoted" / 'quoted'
            if (close != std::string::npos) end = close + 1;
        }
        if (end == std::string::npos) {
            end = i;
            while (end < text.size() && !space(text[end])) ++end;
        }
        std::string w = text.substr(i, end - i);
        if ((w.front() == '"' || w.front() == '\'') && w.back() == w.front())
            w = w.size() >= 2 ? w.substr(1, w.size() - 2) : "";
        if (w.find_first_not_of(" \t\r\n\f\v") != std::string::npos) out.push_back(w);
        i = end;
    }
    return out;
}

std::string pm2_date_format_to_strftime(const std::string& format, std::vector<std::string>& dropped) {
    // Longest first, so "MMMM" is not read as "MM" twice.
    static const std::array<std::pair<const char*, const char*>, 31> kTokens{{
        {"YYYY", "%Y"}, {"YY", "%y"}, {"MMMM", "%B"}, {"MMM", "%b"}, {"MM", "%m"}, {"M", "%-m"},
        {"DDDD", "%j"}, {"DD", "%d"}, {"Do", ""}, {"D", "%-d"}, {"dddd", "%A"}, {"ddd", "%a"}, {"dd", ""},
        {"d", "%w"}, {"HH", "%H"}, {"H", "%-H"}, {"hh", "%I"}, {"h", "%-I"}, {"mm", "%M"}, {"m", "%-M"},
        {"ss", "%S"}, {"s", "%-S"}, {"SSS", ""}, {"SS", ""}, {"S", ""}, {"ZZ", "%z"}, {"Z", "%z"},
        {"A", "%p"}, {"a", "%P"}, {"X", "%s"}, {"x", ""},
    }};
    std::string out;
    for (size_t i = 0; i < format.size();) {
        if (format[i] == '[') {  // [literal text]
            size_t end = format.find(']', i);
            if (end == std::string::npos) end = format.size();
            for (size_t k = i + 1; k < end; ++k) out += format[k] == '%' ? std::string("%%") : std::string(1, format[k]);
            i = end + 1;
            continue;
        }
        bool matched = false;
        for (const auto& [token, spec] : kTokens) {
            std::string_view t(token);
            if (format.compare(i, t.size(), t) != 0) continue;
            if (*spec) out += spec;
            else dropped.emplace_back(t);
            i += t.size();
            matched = true;
            break;
        }
        if (!matched) {
            out += format[i] == '%' ? std::string("%%") : std::string(1, format[i]);
            ++i;
        }
    }
    return out;
}

Result<Pm2App> map_pm2_app(const json& entry, const std::string& label, const Pm2AppContext& cx,
                           std::vector<std::string>& warnings) {
    if (!entry.is_object()) return Error{label + ": expected an app object, got " + entry.dump()};
    EntryReader r(entry, label, warnings);
    Pm2App out;
    App& a = out.app;
    a.where = {cx.file, 0, 0};
    a.cwd = cx.base.string();
    if (std::string cwd; r.string("cwd", cwd)) a.cwd = resolve_against(cx.base, cwd);
    map_script(r, a);
    const bool shell_command = a.interpreter == "none" && a.args.size() == 2 && a.args[0] == "-c";

    // PM2's default name: the script's basename without its extension.
    std::string script_written;
    if (!r.string("name", a.name) && r.string("script", script_written)) {
        std::string base = fs::path(script_written).filename().string();
        size_t dot = base.rfind('.');
        a.name = dot != std::string::npos && dot > 0 ? base.substr(0, dot) : base;
    }
    if (auto problem = app_name_problem(a.name))
        r.fail("name", *problem + " (nodeedge puts app names in log file names and on its command line)");

    map_interpreter(r, a, shell_command);
    r.words("node_args", a.node_args);
    if (!shell_command) r.words("args", a.args);  // PM2 replaces args with ["-c", script] there
    const bool instances_given = map_instances(r, a);
    out.cluster = map_exec_mode(r, a, instances_given);
    a.env = map_env(r, cx);
    out.port = take_port(r, a.env);
    map_limits(r, a);
    map_watch(r, a);
    map_logs(r, a, out.cluster, instances_given);
    r.string("increment_var", a.increment_var);
    r.string("namespace", a.namespace_);
    map_credentials(r, a);
    if (r.error()) return *r.error();
    return out;
}

}  // namespace ne::config
