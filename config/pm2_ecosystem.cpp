#include "config/pm2_ecosystem.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <limits>

#include "config/pm2_app.h"
#include "config/pm2_evaluate.h"
#include "config/validate.h"

namespace ne::config {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Where an app without a PORT goes, as `start app.js` does.
constexpr int kDefaultPort = 3000;

// The ports apps of one file hold, so the ones placed later keep clear of them.
class PortPlan {
public:
    // A worker range and, kReloadPortOffset above, the range its reload replacements use.
    void take_workers(int first, int n) {
        taken_.push_back({first, first + n - 1});
        taken_.push_back({first + kReloadPortOffset, first + kReloadPortOffset + n - 1});
    }
    void take_listen(int port) { taken_.push_back({port, port}); }

    int free_workers_from(int from, int n) const {
        for (int b = from; b + kReloadPortOffset + n - 1 <= 65535; ++b)
            if (free(b, n) && free(b + kReloadPortOffset, n)) return b;
        return from;  // none: validation names the clash
    }
    int free_listen_from(int from) const {
        for (int p = from; p <= 65535; ++p)
            if (free(p, 1)) return p;
        return from;
    }

private:
    bool free(int first, int n) const {
        int last = first + n - 1;
        return std::none_of(taken_.begin(), taken_.end(),
                            [&](const PortRange& r) { return first <= r.last && r.first <= last; });
    }
    std::vector<PortRange> taken_;
};

// PM2's reading of the exported value: `apps`, else `pm2`, else the value itself is the app.
json app_list(const json& exported) {
    json list = exported;
    if (exported.is_object()) {
        if (auto it = exported.find("apps"); it != exported.end() && !it->is_null()) list = *it;
        else if (auto pm2 = exported.find("pm2"); pm2 != exported.end() && !pm2->is_null()) list = *pm2;
    }
    return list.is_array() ? list : json::array({list});
}

std::string list_label(const json& exported) {
    if (exported.is_object() && exported.contains("apps")) return "apps";
    if (exported.is_object() && exported.contains("pm2")) return "pm2";
    return "";
}

Server cluster_server(const App& a, int listen_port) {
    const Where where{a.where.file, 0, 0};
    Server s;
    // Node's listen(PORT) takes every interface, so the proxy does too.
    s.listen.push_back(ListenAddr{"0.0.0.0", listen_port, where});
    // Node's http server has no body limit; the proxy that stands in for it keeps none either.
    s.client_max_body_size = std::numeric_limits<uint64_t>::max();
    Location l;
    l.path = "/";
    l.app = a.name;
    l.where = where;
    s.locations.push_back(std::move(l));
    s.where = where;
    return s;
}

void dedupe(std::vector<std::string>& lines) {
    std::vector<std::string> seen;
    for (auto& l : lines)
        if (std::find(seen.begin(), seen.end(), l) == seen.end()) seen.push_back(l);
    lines = std::move(seen);
}

}  // namespace

bool is_pm2_ecosystem(const std::string& path) { return !pm2_file_kind(path).empty(); }

Result<Pm2Ecosystem> pm2_ecosystem_from_json(const json& exported, const std::string& path,
                                             const std::string& env_name, int cpus) {
    Pm2Ecosystem out;
    Pm2AppContext cx{fs::path(path).parent_path(), path, env_name, nullptr};
    const std::string prefix = list_label(exported);
    if (exported.is_object() && !prefix.empty()) {
        if (exported.contains("deploy")) {
            out.warnings.push_back("deploy: not supported by nodeedge (ignored; its env sections still apply "
                                   "under --env, as in PM2)");
            const json& deploy = exported["deploy"];
            if (!env_name.empty() && deploy.is_object() && deploy.contains(env_name) &&
                deploy[env_name].is_object() && deploy[env_name].contains("env"))
                cx.deploy_env = deploy[env_name]["env"];
        }
        if (exported.contains("static"))
            out.warnings.push_back("static: not supported by nodeedge (ignored; a [[servers]] location with "
                                   "root serves static files)");
    }
    const json list = app_list(exported);
    if (list.empty()) return Error{path + ": no apps: the file exports no `apps` entries"};

    std::vector<Pm2App> apps;
    for (size_t i = 0; i < list.size(); ++i) {
        std::string label = (prefix.empty() ? std::string("apps") : prefix) + "[" + std::to_string(i) + "]";
        if (prefix.empty() && !exported.is_array()) label = "app";
        auto app = map_pm2_app(list[i], label, cx, out.warnings);
        if (!app) return app.error().wrap(path);
        apps.push_back(std::move(*app));
    }

    auto count = [&](const App& a) { return resolve_instances(a.instances, cpus).value_or(1); };
    PortPlan plan;
    for (auto& p : apps) {
        if (!p.port) continue;
        if (p.cluster) plan.take_listen(*p.port);
        else plan.take_workers(p.app.port = *p.port, count(p.app));
    }
    out.config.source = path;
    for (auto& p : apps) {
        int n = count(p.app);
        if (p.cluster) {
            int listen = p.port ? *p.port : plan.free_listen_from(kDefaultPort);
            if (!p.port) plan.take_listen(listen);
            p.app.port = plan.free_workers_from(listen + 1, n);
            plan.take_workers(p.app.port, n);
            out.config.servers.push_back(cluster_server(p.app, listen));
        } else if (!p.port) {
            p.app.port = plan.free_workers_from(kDefaultPort, n);
            plan.take_workers(p.app.port, n);
        }
        out.config.apps.push_back(std::move(p.app));
    }
    dedupe(out.warnings);
    return out;
}

Result<Pm2Ecosystem> load_pm2_ecosystem(const std::string& path, const std::string& env_name) {
    std::error_code ec;
    const std::string absolute = fs::absolute(path, ec).lexically_normal().string();
    struct stat st {};
    if (::stat(absolute.c_str(), &st) != 0) return Error::from_errno(path);
    if (!S_ISREG(st.st_mode)) return Error{path + ": not a regular file"};
    auto exported = evaluate_pm2_file(absolute);
    if (!exported) return exported.error();
    const int cpus = usable_cpus();
    auto eco = pm2_ecosystem_from_json(*exported, absolute, env_name, cpus);
    if (!eco) return eco.error();
    if (auto valid = validate(eco->config, cpus); !valid) return valid.error();
    return eco;
}

std::vector<std::string> pm2_cluster_notes(const Config& c, int cpus) {
    std::vector<std::string> notes;
    for (const Server& s : c.servers) {
        if (s.listen.size() != 1 || s.locations.size() != 1 || s.locations[0].app.empty()) continue;
        auto app = std::find_if(c.apps.begin(), c.apps.end(), [&](const App& a) { return a.name == s.locations[0].app; });
        if (app == c.apps.end()) continue;
        int n = resolve_instances(app->instances, cpus).value_or(1);
        std::string ports = n == 1 ? "port " + std::to_string(app->port)
                                   : "ports " + std::to_string(app->port) + "-" + std::to_string(app->port + n - 1);
        notes.push_back(app->name + ": cluster mode: clients connect to the proxy on " + s.listen[0].str() + " (" +
                        std::to_string(n) + (n == 1 ? " worker on " : " workers on ") + ports + ")");
    }
    return notes;
}

}  // namespace ne::config
