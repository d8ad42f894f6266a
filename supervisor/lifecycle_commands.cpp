#include "supervisor/lifecycle_commands.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "config/json.h"
#include "config/load.h"
#include "ipc/control.h"
#include "supervisor/rolling_reload.h"

namespace ne::supervisor {

using nlohmann::json;
using ipc::control::fail;
using ipc::control::ok;

namespace {

bool is_file_target(const std::string& t) {
    return t.find('/') != std::string::npos || (t.size() > 5 && t.ends_with(".toml"));
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

std::string start_error(const Worker& w) {
    return w.last_error().empty() ? w.label() + " failed to start" : w.last_error();
}

// A file's servers and upstreams replace those it brought before (other files' stay);
// [proxy], [metrics] and [acme] follow the file applied last.
void merge_routing(config::Config& into, const config::Config& file) {
    if (!file.source.empty()) {
        std::erase_if(into.servers, [&](const config::Server& s) { return s.where.file == file.source; });
        std::erase_if(into.upstreams, [&](const config::Upstream& u) { return u.where.file == file.source; });
        into.proxy = file.proxy;
        // Starting another file without a [metrics] table keeps the endpoint (a readiness
        // probe depends on it); the file that set it can change or remove it.
        if (!file.metrics.listen.empty() || file.source == into.source) into.metrics = file.metrics;
        // So does [acme]: another file's tls = "auto" servers use the account already set up.
        if (file.acme != config::Acme{} || file.source == into.source) into.acme = file.acme;
        into.source = file.source;
    }
    into.servers.insert(into.servers.end(), file.servers.begin(), file.servers.end());
    into.upstreams.insert(into.upstreams.end(), file.upstreams.begin(), file.upstreams.end());
}

// The app in `c` that `a` replaces: the one of its name that a's own file defined. One of that
// name from another file is no match, so `a` goes in beside it and validation refuses the pair
// with both files' positions, rather than a second file silently taking over the app.
config::App* defined_before(config::Config& c, const config::App& a) {
    auto it = std::find_if(c.apps.begin(), c.apps.end(),
                           [&](auto& x) { return x.name == a.name && x.where.file == a.where.file; });
    return it == c.apps.end() ? nullptr : &*it;
}

// A PM2 file arrives evaluated: node ran it in the CLI, in the user's environment (the
// daemon's may be another shell's, or systemd's), so `process.env.X` in the file means what
// it means to pm2. Validation happens when it is merged, as for any file.
Result<config::Config> pm2_config(const json& req) {
    auto cfg = config::from_json(req["pm2"]);
    if (cfg) return cfg;
    std::string file = str_arg(req, "file");
    if (auto targets = target_args(req); file.empty() && !targets.empty()) file = targets.front();
    return cfg.error().wrap(file);
}

// ---- start ------------------------------------------------------------------------------

// What `start` (and startOrReload/startOrRestart) runs: an ecosystem file or a script, with
// --port applied to a file's apps.
Result<config::Config> start_config(const json& req) {
    std::string file = str_arg(req, "file");
    std::string script = str_arg(req, "script");
    std::string instances = str_arg(req, "instances");
    Result<config::Config> cfg = Error{"start needs an ecosystem file or a script"};
    if (req.contains("pm2")) {
        cfg = pm2_config(req);
    } else if (!file.empty()) {
        cfg = config::load_file(file);
    } else if (!script.empty()) {
        int port = req.contains("port") && req["port"].is_number_integer() ? req["port"].get<int>() : 3000;
        cfg = config::config_for_script(script, str_arg(req, "name"), instances.empty() ? "1" : instances, port);
    }
    if (cfg && !file.empty() && req.contains("port") && req["port"].is_number_integer())
        for (auto& a : cfg->apps) a.port = req["port"].get<int>();
    return cfg;
}

}  // namespace

void LifecycleCommands::start(const json& req, Reply reply) {
    if (auto names = target_args(req); !names.empty()) {
        auto targets = resolve_targets(host_, names);
        if (!targets) {
            // The CLI sends a name it found no file for; say both.
            std::string missing = str_arg(req, "missing_file");
            reply(fail(missing.empty() ? targets.error().message
                                       : missing + ", and " + targets.error().message));
            return;
        }
        start_targets(*targets, std::move(reply));
        return;
    }
    auto cfg = start_config(req);
    if (!cfg) {
        reply(fail(cfg.error().message));
        return;
    }
    launch(std::move(*cfg), {str_arg(req, "only"), str_arg(req, "instances"), req.value("no_retry", false)},
           std::move(reply));
}

void LifecycleCommands::start_targets(const std::vector<Target>& targets, Reply reply) {
    std::vector<uint64_t> ids;
    std::vector<std::string> notes;
    for (const Target& t : targets) {
        auto started = t.whole() ? t.app->start() : t.app->start(t.instance);
        if (started.empty())
            notes.push_back((t.whole() ? t.app->name() : t.app->name() + ":" + std::to_string(t.instance)) +
                            " is already running; start changed nothing");
        ids.insert(ids.end(), started.begin(), started.end());
    }
    reply_when_started(std::move(ids), std::move(notes), std::move(reply));
}

void LifecycleCommands::launch(config::Config cfg, const LaunchOptions& opts, Reply reply) {
    if (!opts.only.empty()) {
        std::erase_if(cfg.apps, [&](const config::App& a) { return a.name != opts.only; });
        if (cfg.apps.empty()) {
            reply(fail("--only " + opts.only + ": no such app in " + cfg.source));
            return;
        }
    }
    int cpus = config::usable_cpus();
    if (!opts.instances.empty()) {
        if (!config::resolve_instances(opts.instances, cpus)) {
            reply(fail("-i " + opts.instances + ": expected a number, max, or -N"));
            return;
        }
        for (auto& a : cfg.apps) a.instances = opts.instances;
    }

    // Merge: the file's servers replace those it brought before; its apps join the others. An
    // app already running keeps its workers and its stored config alike (`reload` applies a
    // changed file, `scale` a count): a config stored but not running would come back after a
    // daemon crash as something nobody started.
    config::Config next = host_.running();
    merge_routing(next, cfg);
    std::vector<std::string> notes;
    for (auto& a : cfg.apps) {
        config::App* before = defined_before(next, a);
        if (!before) {
            next.apps.push_back(a);
            continue;
        }
        if (const App* running = host_.find_app(a.name); running && !running->all_stopped()) {
            notes.push_back(a.name + " is already running; start changed nothing (reload applies a changed file, scale "
                            "a count)");
            continue;
        }
        *before = a;
    }
    if (auto s = host_.apply_running(std::move(next)); !s) {
        reply(fail(s.error().message));
        return;
    }

    std::vector<uint64_t> ids;
    for (auto& ac : host_.running().apps) {
        bool wanted = std::any_of(cfg.apps.begin(), cfg.apps.end(), [&](auto& a) { return a.name == ac.name; });
        if (!wanted) continue;
        auto shared = std::make_shared<const config::App>(ac);
        int n = config::resolve_instances(ac.instances, cpus).value_or(1);
        App* app = host_.find_app(ac.name);
        if (!app) {
            app = &host_.add_app(shared, n);
        } else if (app->all_stopped()) {
            app->set_config(shared);
            if (n != app->instances()) {
                auto added = app->scale(n);
                ids.insert(ids.end(), added.begin(), added.end());
            }
        } else {
            // Already running (noted above), but the reply still waits for any of its workers
            // that are on their way up.
            for (Worker* w : app->workers())
                if (w->state() == State::Launching) ids.push_back(w->id());
            continue;
        }
        auto started = app->start();
        ids.insert(ids.end(), started.begin(), started.end());
    }
    if (opts.no_retry)
        for (uint64_t id : ids)
            if (Worker* w = host_.find_worker(id)) w->no_retry_before_ready();

    reply_when_started(std::move(ids), std::move(notes), std::move(reply));
}

void LifecycleCommands::reply_when_started(std::vector<uint64_t> ids, std::vector<std::string> notes, Reply reply) {
    host_.wait_for([this, ids, notes, reply] {
        std::string error;
        for (uint64_t id : ids) {
            Worker* w = host_.find_worker(id);
            if (!w || up(w->state())) continue;
            if (w->state() == State::Errored || (w->state() == State::Stopped && !w->ever_ready())) {
                if (error.empty()) error = start_error(*w) + logs_hint(w->app().name);
                continue;
            }
            if (w->state() == State::Stopped) continue;
            return false;  // still launching
        }
        if (!error.empty()) {
            reply(fail(error));
            return true;
        }
        json answer = host_.status_json();
        if (!notes.empty()) answer["notes"] = notes;
        reply(ok(answer));
        return true;
    });
}

// ---- reload -----------------------------------------------------------------------------

void LifecycleCommands::reload(const json& req, Reply reply) {
    auto names = target_args(req);
    if (req.contains("pm2")) {
        reload_config(pm2_config(req), std::move(reply));
        return;
    }
    if (names.size() == 1 && is_file_target(names.front())) {
        reload_config(config::load_file(names.front()), std::move(reply));
        return;
    }
    auto targets = resolve_targets(host_, names);
    if (!targets) {
        reply(fail(targets.error().message));
        return;
    }
    std::vector<RollingReload::Step> steps;
    for (const Target& t : *targets) {
        if (!t.whole()) steps.push_back({t.app->name(), t.instance});
        else
            for (int i = 0; i < t.app->instances(); ++i) steps.push_back({t.app->name(), i});
    }
    RollingReload::start(host_, std::move(steps), std::move(reply));
}

void LifecycleCommands::reload_config(Result<config::Config> cfg, Reply reply) {
    if (!cfg) {
        reply(fail(cfg.error().message + " (nothing was changed)"));
        return;
    }
    // Apps whose config changed are reloaded; new ones start; the rest keep running.
    std::vector<std::string> changed;
    config::Config next = host_.running();
    merge_routing(next, *cfg);
    config::Config fresh;
    for (auto& a : cfg->apps) {
        config::App* before = defined_before(next, a);
        if (!before) {
            next.apps.push_back(a);
            fresh.apps.push_back(a);
            continue;
        }
        config::Config one, two;
        one.apps = {*before};
        two.apps = {a};
        if (config::to_json(one) != config::to_json(two)) changed.push_back(a.name);
        *before = a;
    }
    if (auto s = host_.apply_running(std::move(next)); !s) {
        reply(fail(s.error().message + " (nothing was changed)"));
        return;
    }
    for (auto& ac : host_.running().apps) {
        App* a = host_.find_app(ac.name);
        if (!a || !contains(changed, ac.name)) continue;
        a->set_config(std::make_shared<const config::App>(ac));
        int n = config::resolve_instances(ac.instances, config::usable_cpus()).value_or(1);
        if (n != a->instances()) a->scale(n);
    }
    if (!fresh.apps.empty()) {
        // New apps in the file start like `start` would; changed ones roll after that.
        launch(std::move(fresh), {}, [this, changed, reply](const json& r) {
            if (!r.value("ok", false)) reply(r);
            else RollingReload::start(host_, changed, reply);
        });
        return;
    }
    RollingReload::start(host_, changed, std::move(reply));
}

// ---- startOrReload / startOrRestart ------------------------------------------------------

void LifecycleCommands::start_or(const json& req, const std::string& then, Reply reply) {
    auto cfg = start_config(req);
    if (!cfg) {
        reply(fail(cfg.error().message + " (nothing was changed)"));
        return;
    }
    // The file's apps that run take its config now and roll afterwards; the others start as
    // `start` starts them.
    config::Config next = host_.running();
    merge_routing(next, *cfg);
    std::vector<std::string> running;
    for (auto& a : cfg->apps) {
        const App* app = host_.find_app(a.name);
        config::App* before = defined_before(next, a);
        if (!app || app->all_stopped() || !before) continue;
        *before = a;
        running.push_back(a.name);
    }
    if (auto s = host_.apply_running(std::move(next)); !s) {
        reply(fail(s.error().message + " (nothing was changed)"));
        return;
    }
    for (auto& ac : host_.running().apps) {
        App* a = host_.find_app(ac.name);
        if (!a || !contains(running, ac.name)) continue;
        a->set_config(std::make_shared<const config::App>(ac));
        int n = config::resolve_instances(ac.instances, config::usable_cpus()).value_or(1);
        if (n != a->instances()) a->scale(n);
    }
    std::erase_if(cfg->apps, [&](const config::App& a) { return contains(running, a.name); });
    launch(std::move(*cfg), {}, [this, running, then, reply](const json& r) {
        if (!r.value("ok", false)) {
            reply(r);
        } else if (then == "reload") {
            RollingReload::start(host_, running, reply);
        } else {
            std::vector<uint64_t> ids;
            for (auto& name : running)
                if (App* a = host_.find_app(name))
                    for (Worker* w : a->workers()) ids.push_back(w->id());
            restart_workers(std::move(ids), reply);
        }
    });
}

// ---- restart / stop / delete / scale ----------------------------------------------------

void LifecycleCommands::restart(const json& req, Reply reply) {
    auto targets = resolve_targets(host_, target_args(req));
    if (!targets) {
        reply(fail(targets.error().message));
        return;
    }
    std::vector<uint64_t> ids;
    for (const Target& t : *targets)
        for (Worker* w : t.app->workers())
            if (t.whole() || w->instance() == t.instance) ids.push_back(w->id());
    restart_workers(std::move(ids), std::move(reply));
}

void LifecycleCommands::restart_workers(std::vector<uint64_t> ids, Reply reply) {
    // Stop then start each worker, one at a time, so the proxy always has the others.
    struct Step { uint64_t id; bool stopped = false; };
    auto steps = std::make_shared<std::vector<Step>>();
    for (uint64_t id : ids) steps->push_back({id});
    auto index = std::make_shared<size_t>(0);
    host_.wait_for([this, steps, index, reply] {
        while (*index < steps->size()) {
            Step& s = (*steps)[*index];
            Worker* w = host_.find_worker(s.id);
            if (!w) { ++*index; continue; }
            if (!s.stopped) {
                if (w->pid() > 0 || w->state() == State::Launching) {
                    if (up(w->state())) w->on(Event::Drain, "restart");
                    else if (w->state() == State::Launching) w->on(Event::Stop, "restart");
                    if (w->pid() > 0 || w->state() != State::Stopped) return false;
                }
                s.stopped = true;
                w->count_restart("restart requested");
                w->start();
                return false;
            }
            if (w->state() == State::Launching) return false;
            if (!up(w->state())) {
                reply(fail("restart stopped: " + start_error(*w)));
                return true;
            }
            ++*index;
        }
        reply(ok(host_.status_json()));
        return true;
    });
}

void LifecycleCommands::stop_then(const std::vector<Target>& targets, const std::string& why,
                                  std::function<void()> then) {
    for (const Target& t : targets) {
        if (t.whole()) t.app->stop(why);
        else t.app->stop(t.instance, why);
    }
    // Apps and instances are looked up again by name: one may be deleted meanwhile.
    std::vector<std::pair<std::string, int>> waiting;
    for (const Target& t : targets) waiting.emplace_back(t.app->name(), t.instance);
    host_.wait_for([this, waiting, then] {
        for (auto& [name, instance] : waiting) {
            const App* a = host_.find_app(name);
            if (a && !(instance == Target::kWholeApp ? a->all_stopped() : a->stopped(instance))) return false;
        }
        then();
        return true;
    });
}

void LifecycleCommands::stop(const json& req, Reply reply) {
    auto targets = resolve_targets(host_, target_args(req));
    if (!targets) {
        reply(fail(targets.error().message));
        return;
    }
    stop_then(*targets, "stop", [this, reply] { reply(ok(host_.status_json())); });
}

void LifecycleCommands::remove(const json& req, Reply reply) {
    auto targets = resolve_targets(host_, target_args(req));
    if (!targets) {
        reply(fail(targets.error().message));
        return;
    }
    // An app's instances are numbered 0..N-1 on port + i; taking one out of the middle would
    // leave a hole, so an id deletes its app only when it is the app's one worker.
    for (Target& t : *targets) {
        if (t.whole()) continue;
        if (t.app->instances() > 1) {
            const std::string& app = t.app->name();
            reply(fail("delete: id " + std::to_string(t.id) + " is instance " + std::to_string(t.instance) + " of " +
                       app + ", which has " + std::to_string(t.app->instances()) +
                       " workers; delete removes whole apps (`nodeedge delete " + app +
                       "`), scale removes workers (`nodeedge scale " + app + " -1`)"));
            return;
        }
        t.instance = Target::kWholeApp;
    }
    std::vector<std::string> names = app_names(*targets);
    stop_then(*targets, "delete", [this, names, reply] {
        config::Config next = host_.running();
        std::set<std::string> files;
        for (auto& a : next.apps)
            if (contains(names, a.name)) files.insert(a.where.file);
        std::erase_if(next.apps, [&](auto& a) { return contains(names, a.name); });
        // A file's servers go with the last of its apps: they would route to nothing.
        for (auto& a : next.apps) files.erase(a.where.file);
        std::erase_if(next.servers, [&](auto& s) { return files.count(s.where.file) > 0; });
        std::erase_if(next.upstreams, [&](auto& u) { return files.count(u.where.file) > 0; });
        host_.remove_apps(names);
        for (auto& n : names) (void)host_.db().delete_app(n);
        if (auto s = host_.apply_running(std::move(next)); !s) spdlog::error("delete: {}", s.error().message);
        reply(ok(host_.status_json()));
    });
}

void LifecycleCommands::scale(const json& req, Reply reply) {
    std::string name = str_arg(req, "app");
    auto targets = resolve_targets(host_, {name});
    if (!targets) {
        reply(fail(targets.error().message));
        return;
    }
    App* app = targets->front().app;
    // PM2's scale: N workers, or +N / -N more or fewer than run now.
    auto number = [&](const char* key) -> std::optional<int> {
        auto it = req.find(key);
        return it != req.end() && it->is_number_integer() ? std::optional<int>(it->get<int>()) : std::nullopt;
    };
    std::optional<int> wanted = number("instances");
    if (auto delta = number("delta")) wanted = app->instances() + *delta;
    if (!wanted || *wanted < 1) {
        reply(fail("scale " + app->name() + ": the number of workers must stay >= 1 (" + app->name() + " has " +
                   std::to_string(app->instances()) + "; `stop` or `delete` takes it down)"));
        return;
    }
    int n = *wanted;
    name = app->name();
    // Keep the running config's instance count in step, so save/restore and reload agree.
    config::Config next = host_.running();
    for (auto& a : next.apps)
        if (a.name == name) a.instances = std::to_string(n);
    if (auto s = host_.apply_running(std::move(next)); !s) {
        reply(fail(s.error().message));
        return;
    }
    for (auto& ac : host_.running().apps)
        if (ac.name == name) app->set_config(std::make_shared<const config::App>(ac));
    auto started = app->scale(n);
    host_.wait_for([this, name, n, started, reply] {
        App* app = host_.find_app(name);
        if (!app) {
            reply(fail("app '" + name + "' was deleted while scaling"));
            return true;
        }
        for (uint64_t id : started) {
            Worker* w = app->find(id);
            if (w && w->state() == State::Launching) return false;
            if (w && !up(w->state())) {
                reply(fail(start_error(*w)));
                return true;
            }
        }
        for (Worker* w : app->workers())
            if (w->instance() >= n && w->pid() > 0) return false;
        reply(ok(host_.status_json()));
        return true;
    });
}

}  // namespace ne::supervisor
