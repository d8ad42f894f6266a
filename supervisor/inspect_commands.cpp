#include "supervisor/inspect_commands.h"

#include <set>

#include "config/json.h"
#include "ipc/control.h"
#include "supervisor/acme_certs.h"
#include "supervisor/jlist.h"
#include "supervisor/targets.h"

namespace ne::supervisor {

using nlohmann::json;
using ipc::control::fail;
using ipc::control::ok;

namespace {

bool proxied(const config::Config& running, const std::string& app) {
    for (auto& s : running.servers)
        for (auto& l : s.locations)
            if (l.app == app) return true;
    return false;
}

// One file per instance, or one for them all with merge_logs.
int log_instances(const App& a) { return a.config().merge_logs ? 1 : a.instances(); }

// The log files' instance numbers of a target: every file of a whole app; the instance's own
// files, or the app's merged ones (merge_logs) for one worker id.
std::vector<int> log_instances(const Target& t) {
    if (!t.whole()) return {t.app->config().merge_logs ? 0 : t.instance};
    std::vector<int> out;
    for (int i = 0; i < log_instances(*t.app); ++i) out.push_back(i);
    return out;
}

}  // namespace

json worker_row(const config::Config& running, const App& a, const Worker& w) {
    return {{"id", w.slot()},
            {"name", a.name()},
            {"namespace", a.config().namespace_},
            {"instance", w.instance()},
            {"mode", proxied(running, a.name()) ? "cluster" : "fork"},
            {"pid", w.pid() > 0 ? w.pid() : 0},
            {"port", w.port()},
            {"status", to_string(w.state())},
            {"restarts", w.restarts()},
            {"uptime_ms", w.uptime_ms()},
            {"cpu_percent", w.cpu_percent()},
            {"memory_bytes", w.memory_bytes()}};
}

void InspectCommands::describe(const json& req, Reply reply) {
    auto targets = resolve_targets(host_, {str_arg(req, "app")});
    if (!targets && host_.certificates().has(str_arg(req, "app"))) {
        describe_certificate(str_arg(req, "app"), reply);
        return;
    }
    if (!targets) {
        reply(fail(targets.error().message));
        return;
    }
    App* a = targets->front().app;
    const std::string name = a->name();
    config::Config one;
    one.apps = {a->config()};
    json rows = json::array();
    for (Worker* w : a->workers()) rows.push_back(worker_row(host_.running(), *a, *w));
    json events = json::array();
    if (auto ev = host_.db().events(name, 50))
        for (auto& e : *ev)
            events.push_back({{"ts_ms", e.ts_ms}, {"worker", e.worker}, {"kind", e.kind}, {"detail", e.detail}});
    json cfg = config::to_json(one)["apps"][0];
    const LogFiles& logs = host_.logs();
    reply(ok({{"app", cfg}, {"workers", rows}, {"events", events},
              {"logs", {{"out", logs.path(a->config(), 0, false)}, {"err", logs.path(a->config(), 0, true)}}}}));
}

void InspectCommands::describe_certificate(const std::string& name, Reply reply) {
    json events = json::array();
    if (auto ev = host_.db().events("acme:" + name, 50))
        for (auto& e : *ev)
            events.push_back({{"ts_ms", e.ts_ms}, {"worker", e.worker}, {"kind", e.kind}, {"detail", e.detail}});
    reply(ok({{"certificate", host_.certificates().row(name)}, {"events", events}}));
}

void InspectCommands::logs(const json& req, Reply reply) {
    std::string name = str_arg(req, "app");
    std::vector<Target> targets;
    if (!name.empty()) {
        auto found = resolve_targets(host_, {name});
        if (!found) {
            reply(fail(found.error().message));
            return;
        }
        targets = std::move(*found);
    } else {
        for (auto& a : host_.apps()) targets.push_back({a.get()});
    }
    json files = json::array();
    std::set<std::string> seen;
    for (const Target& t : targets)
        for (int i : log_instances(t))
            for (bool err : {false, true}) {
                std::string p = host_.logs().path(t.app->config(), i, err);
                if (seen.insert(p).second) files.push_back({{"app", t.app->name()}, {"stream", err ? "err" : "out"}, {"path", p}});
            }
    reply(ok({{"files", files}}));
}

void InspectCommands::flush(const json& req, Reply reply) {
    // PM2's flush: no argument empties every app's logs (none running is no error).
    auto names = target_args(req);
    std::vector<Target> targets;
    if (names.empty()) {
        for (auto& a : host_.apps()) targets.push_back({a.get()});
    } else {
        auto found = resolve_targets(host_, names);
        if (!found) {
            reply(fail(found.error().message));
            return;
        }
        targets = std::move(*found);
    }
    json flushed = json::array();
    for (const Target& t : targets)
        for (int i : log_instances(t))
            for (bool err : {false, true}) {
                auto file = host_.logs().open(t.app->config(), i, err);
                if (auto s = file->flush(); !s) {
                    reply(fail(s.error().message));
                    return;
                }
                flushed.push_back(host_.logs().path(t.app->config(), i, err));
            }
    reply(ok({{"files", flushed}}));
}

void InspectCommands::jlist(Reply reply) {
    json processes = json::array();
    for (auto& a : host_.apps()) {
        bool cluster = proxied(host_.running(), a->name());
        for (Worker* w : a->workers()) {
            int i = a->config().merge_logs ? 0 : w->instance();
            LogPaths logs{host_.logs().path(a->config(), i, false), host_.logs().path(a->config(), i, true)};
            processes.push_back(pm2_process(*a, *w, cluster, logs));
        }
    }
    reply(ok({{"processes", processes}}));
}

}  // namespace ne::supervisor
