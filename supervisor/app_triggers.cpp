#include "supervisor/app_triggers.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "supervisor/rolling_reload.h"

namespace ne::supervisor {

namespace {

// The settings a trigger is built from: a reload that changes none of them keeps it (and
// its pending timers) as it is.
bool same_triggers(const config::App& a, const config::App& b) {
    return a.watch == b.watch && a.ignore_watch == b.ignore_watch && a.watch_delay == b.watch_delay &&
           a.cron_restart == b.cron_restart;
}

bool wants_triggers(const config::App& a) { return !a.watch.empty() || !a.cron_restart.empty(); }

// Stopped (or being stopped) by a command: every current worker was told to stop.
bool held(const App& a) {
    bool any = false;
    for (int i = 0; i < a.instances(); ++i) {
        const Worker* w = a.current(i);
        if (!w) continue;
        if (!w->asked_to_stop()) return false;
        any = true;
    }
    return any;
}

// A worker on its way up (`start`, `restart`, a crash's restart): replacing it now would fail
// the command waiting for it, and its spawn reads the files as they are anyway.
bool launching(const App& a) {
    for (int i = 0; i < a.instances(); ++i)
        if (const Worker* w = a.current(i); w && w->state() == State::Launching) return true;
    return false;
}

void arm(EventPtr& ev, event_base* base, std::chrono::milliseconds after, event_callback_fn cb, void* arg) {
    ev.reset(evtimer_new(base, cb, arg));
    timeval tv{static_cast<time_t>(after.count() / 1000), static_cast<suseconds_t>((after.count() % 1000) * 1000)};
    evtimer_add(ev.get(), &tv);
}

}  // namespace

void AppTriggers::sync() {
    for (auto it = triggers_.begin(); it != triggers_.end();) {
        const App* a = host_.find_app(it->first);
        if (!a || !wants_triggers(a->config()) || !same_triggers(a->config(), it->second->cfg))
            it = triggers_.erase(it);
        else
            ++it;
    }
    for (const auto& a : host_.apps())
        if (wants_triggers(a->config()) && !triggers_.count(a->name())) triggers_[a->name()] = build(*a);
}

std::unique_ptr<AppTriggers::Trigger> AppTriggers::build(const App& app) {
    auto t = std::make_unique<Trigger>();
    t->owner = this;
    t->app = app.name();
    t->cfg = app.config();
    t->ignore = config::IgnoreRules(t->cfg.ignore_watch);
    if (!t->cfg.watch.empty()) {
        Trigger* raw = t.get();
        const std::string home = host_.home() + "/";
        auto ignored = [raw, home, this](const std::string& path, const std::string& root) {
            // The daemon's own files (state.db, logs, the access log) and the workers' log
            // files change because the app runs; restarting for them would never stop.
            return raw->ignore.ignored(path, root) || path.starts_with(home) || host_.logs().writes(path);
        };
        auto watch = FileWatch::open(base_, t->cfg.watch, ignored, [this, raw](const std::string& path) {
            on_change(*raw, path);
        });
        if (!watch) {
            spdlog::error("{}: watch: {}; the app is not watched", t->app, watch.error().message);
        } else {
            t->watch = std::move(*watch);
            spdlog::info("{}: watching {} folder(s) for changes, restarting {} ms after one", t->app,
                         t->watch->watched_folders(), t->cfg.watch_delay.count());
            for (const auto& p : t->watch->problems()) spdlog::warn("{}: watch: {}", t->app, p);
        }
    }
    if (!t->cfg.cron_restart.empty()) {
        if (auto c = config::CronSchedule::parse(t->cfg.cron_restart); c) {
            t->cron = *c;
            arm_cron(*t, std::time(nullptr));
        } else {  // the loader refused it already; a state.db from elsewhere could still hold one
            spdlog::error("{}: cron_restart: {}", t->app, c.error().message);
        }
    }
    return t;
}

void AppTriggers::on_change(Trigger& t, const std::string& path) {
    if (t.restarting) {
        t.changed_again = true;
        return;
    }
    if (t.watch_timer) return;  // one restart for every change within watch_delay of the first
    t.changed_path = path;
    arm_watch(t);
}

void AppTriggers::arm_watch(Trigger& t) { arm(t.watch_timer, base_, t.cfg.watch_delay, on_watch_timer, &t); }

void AppTriggers::arm_cron(Trigger& t, std::time_t after) {
    auto next = t.cron->next_after(after);
    if (!next) {
        spdlog::warn("{}: cron_restart '{}' has no further fire time", t.app, t.cfg.cron_restart);
        return;
    }
    t.cron_at = *next;
    using namespace std::chrono;
    auto now = duration_cast<milliseconds>(system_clock::now().time_since_epoch());
    auto wait = std::max(milliseconds(0), milliseconds(*next * 1000) - now);
    arm(t.cron_timer, base_, wait, on_cron_timer, &t);
}

void AppTriggers::on_watch_timer(evutil_socket_t, short, void* self) {
    auto& t = *static_cast<Trigger*>(self);
    t.watch_timer.reset();
    t.owner->fire(t, "watch", "change in " + t.changed_path + "; restarting (rolling)");
}

void AppTriggers::on_cron_timer(evutil_socket_t, short, void* self) {
    auto& t = *static_cast<Trigger*>(self);
    // A timer may wake a little before its second (the loop's clock is monotonic): the next
    // fire time counts from the one it was armed for, never from before it.
    const std::time_t fired = t.cron_at;
    t.owner->arm_cron(t, std::max(fired, std::time(nullptr)));
    t.owner->fire(t, "cron", "cron_restart '" + t.cfg.cron_restart + "' fired; restarting (rolling)");
}

void AppTriggers::fire(Trigger& t, const std::string& kind, const std::string& detail) {
    const App* a = host_.find_app(t.app);
    if (!a || host_.stopping()) return;
    if (held(*a)) {
        spdlog::info("{}: {} ignored: the app was stopped (start or restart brings it back)", t.app, kind);
        return;
    }
    if (t.restarting) {  // cron during a restart: that restart serves; a change: one more after
        if (kind == "watch") t.changed_again = true;
        return;
    }
    if (launching(*a)) {  // cron: this fire time passes; a change: asked again after watch_delay
        if (kind == "watch") arm_watch(t);
        return;
    }
    t.restarting = true;
    const std::string name = t.app;
    RollingReload::start(
        host_, {name},
        [this, name, kind](const nlohmann::json& reply) {
            if (!reply.value("ok", false)) spdlog::error("{}: {} restart: {}", name, kind, reply.value("error", ""));
            auto it = triggers_.find(name);
            if (it == triggers_.end()) return;  // rebuilt or removed meanwhile
            Trigger& again = *it->second;
            again.restarting = false;
            if (again.changed_again) {
                again.changed_again = false;
                again.changed_path = "files changed during the last restart";
                arm_watch(again);
            }
        },
        RollingReload::Cause{kind, detail});
}

}  // namespace ne::supervisor
