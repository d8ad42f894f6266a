#include "supervisor/inspect_commands.h"

#include <set>

#include "config/json.h"
#include "ipc/control.h"

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
    std::string name = str_arg(req, "app");
    App* a = host_.find_app(name);
    if (!a) {
        reply(fail("no app named '" + name + "'"));
        return;
    }
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

void InspectCommands::logs(const json& req, Reply reply) {
    std::string name = str_arg(req, "app");
    json files = json::array();
    std::set<std::string> seen;
    for (auto& a : host_.apps()) {
        if (!name.empty() && name != "all" && a->name() != name) continue;
        for (int i = 0; i < log_instances(*a); ++i)
            for (bool err : {false, true}) {
                std::string p = host_.logs().path(a->config(), i, err);
                if (seen.insert(p).second) files.push_back({{"app", a->name()}, {"stream", err ? "err" : "out"}, {"path", p}});
            }
    }
    if (!name.empty() && name != "all" && files.empty()) {
        reply(fail("no app named '" + name + "'"));
        return;
    }
    reply(ok({{"files", files}}));
}

void InspectCommands::flush(const json& req, Reply reply) {
    std::string error;
    auto apps = host_.targets(str_arg(req, "app"), error);
    if (!error.empty()) {
        reply(fail(error));
        return;
    }
    for (App* a : apps)
        for (int i = 0; i < log_instances(*a); ++i)
            for (bool err : {false, true})
                if (auto s = host_.logs().open(a->config(), i, err)->flush(); !s) {
                    reply(fail(s.error().message));
                    return;
                }
    reply(ok());
}

}  // namespace ne::supervisor
