// The control commands: each turns one request into changes to apps and proxy, and replies
// at once or when the change is complete.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "config/json.h"
#include "config/load.h"
#include "config/validate.h"
#include "ipc/control.h"
#include "supervisor/master.h"

namespace ne::supervisor {

using nlohmann::json;
using ipc::control::fail;
using ipc::control::ok;

namespace {

std::string str_arg(const json& req, const char* key) {
    auto it = req.find(key);
    return it != req.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool is_file_target(const std::string& t) {
    return t.find('/') != std::string::npos || (t.size() > 5 && t.ends_with(".toml"));
}

std::string logs_hint(const std::string& app) { return " (see `nodeedge logs " + app + "`)"; }

// A file's servers and upstreams replace those it brought before (other files' stay);
// [proxy] and [metrics] follow the file applied last.
void merge_routing(config::Config& into, const config::Config& file) {
    if (!file.source.empty()) {
        std::erase_if(into.servers, [&](const config::Server& s) { return s.where.file == file.source; });
        std::erase_if(into.upstreams, [&](const config::Upstream& u) { return u.where.file == file.source; });
        into.proxy = file.proxy;
        // Starting another file without a [metrics] table keeps the endpoint (a readiness
        // probe depends on it); the file that set it can change or remove it.
        if (!file.metrics.listen.empty() || file.source == into.source) into.metrics = file.metrics;
        into.source = file.source;
    }
    into.servers.insert(into.servers.end(), file.servers.begin(), file.servers.end());
    into.upstreams.insert(into.upstreams.end(), file.upstreams.begin(), file.upstreams.end());
}

}  // namespace

void Master::handle(const json& req, Reply reply) {
    const std::string cmd = req["cmd"];
    if (shutting_down_ && cmd != "status" && cmd != "ping" && cmd != "kill") {
        reply(fail("the daemon is shutting down"));
        return;
    }
    if (cmd == "ping") reply(ok({{"pid", ::getpid()}}));
    else if (cmd == "status") reply(ok(status_json()));
    else if (cmd == "start") cmd_start(req, reply);
    else if (cmd == "reload") cmd_reload(req, reply);
    else if (cmd == "restart") cmd_restart(req, reply);
    else if (cmd == "stop") cmd_stop(req, reply);
    else if (cmd == "delete") cmd_delete(req, reply);
    else if (cmd == "scale") cmd_scale(req, reply);
    else if (cmd == "describe") cmd_describe(req, reply);
    else if (cmd == "logs") cmd_logs(req, reply);
    else if (cmd == "flush") cmd_flush(req, reply);
    else if (cmd == "save") cmd_save(reply);
    else if (cmd == "resurrect") cmd_resurrect(reply);
    else if (cmd == "kill") cmd_kill(reply);
    else reply(fail("unknown command '" + cmd + "'"));
}

// ---- status -----------------------------------------------------------------------------

bool Master::proxied(const std::string& app) const {
    for (auto& s : running_.servers)
        for (auto& l : s.locations)
            if (l.app == app) return true;
    return false;
}

json Master::worker_row(const App& a, const Worker& w) const {
    return {{"id", w.slot()},
            {"name", a.name()},
            {"instance", w.instance()},
            {"mode", proxied(a.name()) ? "cluster" : "fork"},
            {"pid", w.pid() > 0 ? w.pid() : 0},
            {"port", w.port()},
            {"status", to_string(w.state())},
            {"restarts", w.restarts()},
            {"uptime_ms", w.uptime_ms()},
            {"cpu_percent", w.cpu_percent()},
            {"memory_bytes", w.memory_bytes()}};
}

json Master::status_json() const {
    json rows = json::array();
    for (auto& a : apps_)
        for (Worker* w : a->workers()) rows.push_back(worker_row(*a, *w));
    return {{"workers", rows}, {"proxy", proxy_->status()}, {"apps", app_rates()}};
}

// ---- start / resurrect ------------------------------------------------------------------

void Master::cmd_start(const json& req, Reply reply) {
    std::string file = str_arg(req, "file");
    std::string script = str_arg(req, "script");
    std::string instances = str_arg(req, "instances");
    Result<config::Config> cfg = Error{"start needs an ecosystem file or a script"};
    if (!file.empty()) {
        cfg = config::load_file(file);
    } else if (!script.empty()) {
        int port = req.contains("port") && req["port"].is_number_integer() ? req["port"].get<int>() : 3000;
        cfg = config::config_for_script(script, str_arg(req, "name"), instances.empty() ? "1" : instances, port);
    }
    if (!cfg) {
        reply(fail(cfg.error().message));
        return;
    }
    if (!file.empty() && req.contains("port") && req["port"].is_number_integer())
        for (auto& a : cfg->apps) a.port = req["port"].get<int>();
    launch(std::move(*cfg), str_arg(req, "only"), instances, std::move(reply));
}

Status Master::apply_running(config::Config next) {
    if (auto s = config::validate(next, config::usable_cpus()); !s) return s;
    std::vector<std::string> listen;
    for (auto& s : next.servers)
        for (auto& l : s.listen) listen.push_back(l.str());
    int workers = next.proxy.workers == "auto" ? config::usable_cpus()
                                               : std::max(1, std::atoi(next.proxy.workers.c_str()));
    if (auto s = metrics_->listen(next.metrics.listen); !s) return s;
    if (auto s = proxy_->set_user(next.proxy.user); !s) return s;
    proxy_->set_count(workers);
    if (auto s = proxy_->set_listeners(listen); !s) return s;
    running_ = std::move(next);
    json j = config::to_json(running_);
    proxy_->set_config(j);
    if (auto s = db_->put_meta("running", j.dump()); !s) spdlog::warn("state.db: {}", s.error().message);
    return {};
}

void Master::launch(config::Config cfg, const std::string& only, const std::string& instances, Reply reply) {
    if (!only.empty()) {
        std::erase_if(cfg.apps, [&](const config::App& a) { return a.name != only; });
        if (cfg.apps.empty()) {
            reply(fail("--only " + only + ": no such app in " + cfg.source));
            return;
        }
    }
    int cpus = config::usable_cpus();
    if (!instances.empty()) {
        if (!config::resolve_instances(instances, cpus)) {
            reply(fail("-i " + instances + ": expected a number, max, or -N"));
            return;
        }
        for (auto& a : cfg.apps) a.instances = instances;
    }

    // Merge: the file's servers replace those it brought before; its apps join the others.
    config::Config next = running_;
    merge_routing(next, cfg);
    for (auto& a : cfg.apps) {
        auto it = std::find_if(next.apps.begin(), next.apps.end(), [&](auto& x) { return x.name == a.name; });
        if (it == next.apps.end()) next.apps.push_back(a);
        else *it = a;
    }
    if (auto s = apply_running(std::move(next)); !s) {
        reply(fail(s.error().message));
        return;
    }

    std::vector<uint64_t> ids;
    for (auto& ac : running_.apps) {
        bool wanted = std::any_of(cfg.apps.begin(), cfg.apps.end(), [&](auto& a) { return a.name == ac.name; });
        if (!wanted) continue;
        auto shared = std::make_shared<const config::App>(ac);
        int n = config::resolve_instances(ac.instances, cpus).value_or(1);
        App* app = find_app(ac.name);
        if (!app) {
            App::Ids gen{[this] { return next_slot_++; }, [this] { return next_id_++; }};
            apps_.push_back(std::make_unique<App>(*this, shared, n, gen));
            app = apps_.back().get();
        } else if (app->all_stopped()) {
            app->set_config(shared);
            if (n != app->instances()) {
                auto added = app->scale(n);
                ids.insert(ids.end(), added.begin(), added.end());
            }
        } else {
            // Already running: `start` leaves it as it is (reload applies changes), but the
            // reply still waits for any of its workers that are on their way up.
            for (Worker* w : app->workers())
                if (w->state() == State::Launching) ids.push_back(w->id());
            continue;
        }
        auto started = app->start();
        ids.insert(ids.end(), started.begin(), started.end());
    }

    wait_for([this, ids, reply] {
        std::string error;
        for (uint64_t id : ids) {
            Worker* w = find_worker(id);
            if (!w) continue;
            if (w->state() == State::Online) continue;
            if (w->state() == State::Errored || (w->state() == State::Stopped && !w->ever_ready())) {
                if (error.empty())
                    error = (w->last_error().empty() ? w->label() + " failed to start" : w->last_error()) +
                            logs_hint(w->app().name);
                continue;
            }
            if (w->state() == State::Stopped) continue;
            return false;  // still launching
        }
        if (!error.empty()) reply(fail(error));
        else reply(ok(status_json()));
        return true;
    });
}

void Master::cmd_resurrect(Reply reply) {
    auto saved = db_->saved();
    if (!saved) {
        reply(fail(saved.error().message));
        return;
    }
    if (!*saved) {
        reply(fail("nothing saved yet: run `nodeedge save` first"));
        return;
    }
    json j = json::parse(**saved, nullptr, false);
    auto cfg = j.is_discarded() ? Result<config::Config>(Error{"state.db: the saved configuration is not valid JSON"})
                                : config::from_json(j);
    if (!cfg) {
        reply(fail(cfg.error().message));
        return;
    }
    launch(std::move(*cfg), "", "", std::move(reply));
}

void Master::cmd_save(Reply reply) {
    json j = config::to_json(running_);
    if (auto s = db_->put_saved(j.dump()); !s) {
        reply(fail(s.error().message));
        return;
    }
    reply(ok({{"apps", running_.apps.size()}, {"path", ipc::control::state_db_path(home_)}}));
}

// ---- targets ----------------------------------------------------------------------------

std::vector<App*> Master::targets(const std::string& target, std::string& error) {
    std::vector<App*> out;
    for (auto& a : apps_)
        if (target.empty() || target == "all" || a->name() == target) out.push_back(a.get());
    if (out.empty() && !target.empty() && target != "all") error = "no app named '" + target + "'";
    return out;
}

// ---- reload -----------------------------------------------------------------------------

void Master::cmd_reload(const json& req, Reply reply) {
    std::string target = str_arg(req, "target");
    if (is_file_target(target)) {
        auto cfg = config::load_file(target);
        if (!cfg) {
            reply(fail(cfg.error().message + " (nothing was changed)"));
            return;
        }
        // Apps whose config changed are reloaded; new ones start; the rest keep running.
        std::vector<std::string> changed;
        config::Config next = running_;
        merge_routing(next, *cfg);
        config::Config fresh;
        for (auto& a : cfg->apps) {
            auto it = std::find_if(next.apps.begin(), next.apps.end(), [&](auto& x) { return x.name == a.name; });
            if (it == next.apps.end()) {
                next.apps.push_back(a);
                fresh.apps.push_back(a);
                continue;
            }
            config::Config one, two;
            one.apps = {*it};
            two.apps = {a};
            if (config::to_json(one) != config::to_json(two)) changed.push_back(a.name);
            *it = a;
        }
        if (auto s = apply_running(std::move(next)); !s) {
            reply(fail(s.error().message + " (nothing was changed)"));
            return;
        }
        for (auto& ac : running_.apps) {
            App* a = find_app(ac.name);
            if (!a || std::find(changed.begin(), changed.end(), ac.name) == changed.end()) continue;
            a->set_config(std::make_shared<const config::App>(ac));
            int n = config::resolve_instances(ac.instances, config::usable_cpus()).value_or(1);
            if (n != a->instances()) a->scale(n);
        }
        if (!fresh.apps.empty()) {
            // New apps in the file start like `start` would; changed ones roll after that.
            launch(std::move(fresh), "", "", [this, changed, reply](const json& r) {
                if (!r.value("ok", false)) reply(r);
                else rolling_reload(changed, reply);
            });
            return;
        }
        rolling_reload(changed, std::move(reply));
        return;
    }
    std::string error;
    auto apps = targets(target, error);
    if (!error.empty()) {
        reply(fail(error));
        return;
    }
    std::vector<std::string> names;
    for (App* a : apps) names.push_back(a->name());
    rolling_reload(names, std::move(reply));
}

void Master::rolling_reload(std::vector<std::string> names, Reply reply) {
    // One instance at a time across the apps: start its replacement, wait until it is online
    // (the old worker then drains), move on. Stop at the first failure; the old workers of the
    // instances not yet replaced keep serving.
    struct Step { std::string app; int instance; };
    auto steps = std::make_shared<std::vector<Step>>();
    for (auto& n : names) {
        App* a = find_app(n);
        if (!a) continue;
        for (int i = 0; i < a->instances(); ++i) steps->push_back({n, i});
        for (Worker* w : a->workers())
            if (w->state() == State::Online) event(*w, "reload", "rolling reload requested");
    }
    auto next = std::make_shared<size_t>(0);
    auto current = std::make_shared<std::shared_ptr<Replacement>>();
    auto leaving = std::make_shared<std::vector<std::shared_ptr<Replacement>>>();
    wait_for([this, steps, next, current, leaving, reply] {
        for (;;) {
            if (auto& r = *current) {
                if (r->phase == Replacement::Phase::Failed) {
                    reply(fail("reload stopped: " + r->error + logs_hint(r->error.substr(0, r->error.find(':'))) +
                               "; the remaining old workers keep serving"));
                    return true;
                }
                if (r->phase == Replacement::Phase::Starting) return false;
                leaving->push_back(r);
                r.reset();
            }
            if (*next >= steps->size()) break;
            Step s = (*steps)[(*next)++];
            App* app = find_app(s.app);
            if (!app || s.instance >= app->instances()) continue;
            *current = app->replace(s.instance, "reload");
            if (!*current) continue;  // already being replaced (e.g. memory limit): that serves too
        }
        for (auto& r : *leaving)
            if (r->phase != Replacement::Phase::Done) return false;
        reply(ok(status_json()));
        return true;
    });
}

// ---- restart / stop / delete / scale ----------------------------------------------------

void Master::cmd_restart(const json& req, Reply reply) {
    std::string error;
    auto apps = targets(str_arg(req, "target"), error);
    if (!error.empty()) {
        reply(fail(error));
        return;
    }
    // Stop then start each worker, one at a time, so the proxy always has the others.
    struct Step { uint64_t id; bool stopped = false; };
    auto steps = std::make_shared<std::vector<Step>>();
    for (App* a : apps)
        for (Worker* w : a->workers()) steps->push_back({w->id()});
    auto index = std::make_shared<size_t>(0);
    wait_for([this, steps, index, reply] {
        while (*index < steps->size()) {
            Step& s = (*steps)[*index];
            Worker* w = find_worker(s.id);
            if (!w) { ++*index; continue; }
            if (!s.stopped) {
                if (w->pid() > 0 || w->state() == State::Launching) {
                    if (w->state() == State::Online) w->on(Event::Drain, "restart");
                    else if (w->state() == State::Launching) w->on(Event::Stop, "restart");
                    if (w->pid() > 0 || w->state() != State::Stopped) return false;
                }
                s.stopped = true;
                w->start();
                return false;
            }
            if (w->state() == State::Launching) return false;
            if (w->state() != State::Online) {
                reply(fail("restart stopped: " + (w->last_error().empty() ? w->label() + " failed to start" : w->last_error())));
                return true;
            }
            ++*index;
        }
        reply(ok(status_json()));
        return true;
    });
}

void Master::stop_then(const json& req, Reply reply, const std::string& why,
                       std::function<void(const std::vector<std::string>&)> then) {
    std::string error;
    auto apps = targets(str_arg(req, "target"), error);
    if (!error.empty()) {
        reply(fail(error));
        return;
    }
    std::vector<std::string> names;
    for (App* a : apps) {
        a->stop(why);
        names.push_back(a->name());
    }
    wait_for([this, names, then] {
        for (auto& a : apps_)
            if (std::find(names.begin(), names.end(), a->name()) != names.end() && !a->all_stopped()) return false;
        then(names);
        return true;
    });
}

void Master::cmd_stop(const json& req, Reply reply) {
    stop_then(req, reply, "stop", [this, reply](const std::vector<std::string>&) { reply(ok(status_json())); });
}

void Master::cmd_delete(const json& req, Reply reply) {
    stop_then(req, reply, "delete", [this, reply](const std::vector<std::string>& names) {
        config::Config next = running_;
        std::set<std::string> files;
        for (auto& a : next.apps)
            if (std::find(names.begin(), names.end(), a.name) != names.end()) files.insert(a.where.file);
        std::erase_if(next.apps, [&](auto& a) { return std::find(names.begin(), names.end(), a.name) != names.end(); });
        // A file's servers go with the last of its apps: they would route to nothing.
        for (auto& a : next.apps) files.erase(a.where.file);
        std::erase_if(next.servers, [&](auto& s) { return files.count(s.where.file) > 0; });
        std::erase_if(next.upstreams, [&](auto& u) { return files.count(u.where.file) > 0; });
        std::erase_if(apps_, [&](auto& a) { return std::find(names.begin(), names.end(), a->name()) != names.end(); });
        for (auto& n : names) (void)db_->delete_app(n);
        if (auto s = apply_running(std::move(next)); !s) spdlog::error("delete: {}", s.error().message);
        reply(ok(status_json()));
    });
}

void Master::cmd_scale(const json& req, Reply reply) {
    std::string name = str_arg(req, "app");
    if (!req.contains("instances") || !req["instances"].is_number_integer() || req["instances"].get<int>() < 1) {
        reply(fail("scale: the number of workers must be an integer >= 1"));
        return;
    }
    int n = req["instances"].get<int>();
    App* app = find_app(name);
    if (!app) {
        reply(fail("no app named '" + name + "'"));
        return;
    }
    // Keep the running config's instance count in step, so save/restore and reload agree.
    config::Config next = running_;
    for (auto& a : next.apps)
        if (a.name == name) a.instances = std::to_string(n);
    if (auto s = apply_running(std::move(next)); !s) {
        reply(fail(s.error().message));
        return;
    }
    for (auto& ac : running_.apps)
        if (ac.name == name) app->set_config(std::make_shared<const config::App>(ac));
    auto started = app->scale(n);
    wait_for([this, name, n, started, reply] {
        App* app = find_app(name);
        if (!app) {
            reply(fail("app '" + name + "' was deleted while scaling"));
            return true;
        }
        for (uint64_t id : started) {
            Worker* w = app->find(id);
            if (w && w->state() == State::Launching) return false;
            if (w && w->state() != State::Online) {
                reply(fail(w->last_error().empty() ? w->label() + " failed to start" : w->last_error()));
                return true;
            }
        }
        for (Worker* w : app->workers())
            if (w->instance() >= n && w->pid() > 0) return false;
        reply(ok(status_json()));
        return true;
    });
}

// ---- describe / logs / flush / kill -----------------------------------------------------

void Master::cmd_describe(const json& req, Reply reply) {
    std::string name = str_arg(req, "app");
    if (App* a = find_app(name)) {
        config::Config one;
        one.apps = {a->config()};
        json rows = json::array();
        for (Worker* w : a->workers()) rows.push_back(worker_row(*a, *w));
        json events = json::array();
        if (auto ev = db_->events(name, 50))
            for (auto& e : *ev)
                events.push_back({{"ts_ms", e.ts_ms}, {"worker", e.worker}, {"kind", e.kind}, {"detail", e.detail}});
        json cfg = config::to_json(one)["apps"][0];
        reply(ok({{"app", cfg}, {"workers", rows}, {"events", events},
                  {"logs", {{"out", log_path(a->config(), 0, false)}, {"err", log_path(a->config(), 0, true)}}}}));
        return;
    }
    reply(fail("no app named '" + name + "'"));
}

void Master::cmd_logs(const json& req, Reply reply) {
    std::string name = str_arg(req, "app");
    json files = json::array();
    std::set<std::string> seen;
    for (auto& a : apps_) {
        if (!name.empty() && name != "all" && a->name() != name) continue;
        int n = a->config().merge_logs ? 1 : a->instances();
        for (int i = 0; i < n; ++i)
            for (bool err : {false, true}) {
                std::string p = log_path(a->config(), i, err);
                if (seen.insert(p).second) files.push_back({{"app", a->name()}, {"stream", err ? "err" : "out"}, {"path", p}});
            }
    }
    if (!name.empty() && name != "all" && files.empty()) {
        reply(fail("no app named '" + name + "'"));
        return;
    }
    reply(ok({{"files", files}}));
}

void Master::cmd_flush(const json& req, Reply reply) {
    std::string name = str_arg(req, "app");
    std::string error;
    auto apps = targets(name, error);
    if (!error.empty()) {
        reply(fail(error));
        return;
    }
    for (App* a : apps) {
        int n = a->config().merge_logs ? 1 : a->instances();
        for (int i = 0; i < n; ++i)
            for (bool err : {false, true})
                if (auto s = log_file(a->config(), i, err)->flush(); !s) {
                    reply(fail(s.error().message));
                    return;
                }
    }
    reply(ok());
}

void Master::cmd_kill(Reply reply) {
    shutdown([reply] { reply(ok()); });
}

}  // namespace ne::supervisor
