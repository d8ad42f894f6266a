// What restarts an app besides a crash or a command: its files changing (PM2's watch) and its
// cron_restart schedule. PM2 restarts the processes (stop, then start); here both run the
// rolling replacement `reload` uses, so no request fails while the new code comes up, and a
// worker that is down (an exit with autorestart off, errored after a crash loop) starts again
// as under PM2. An app stopped by a command (`stop`) stays stopped: PM2 would let its cron
// start it again and only warns at `stop`; `start`/`restart` bring it back under both.
#pragma once

#include <event2/event.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "config/cron_schedule.h"
#include "config/ignore_pattern.h"
#include "ipc/event_ptr.h"
#include "supervisor/command_host.h"
#include "supervisor/file_watch.h"

namespace ne::supervisor {

class AppTriggers {
public:
    AppTriggers(event_base* base, CommandHost& host) : base_(base), host_(host) {}

    // After any change to the apps (started, reloaded with another config, deleted): starts,
    // keeps or rebuilds each app's watch and cron timer.
    void sync();

private:
    struct Trigger {
        AppTriggers* owner;
        std::string app;
        config::App cfg;                        // the settings it was built from
        config::IgnoreRules ignore{{}};
        std::unique_ptr<FileWatch> watch;
        EventPtr watch_timer;                   // watch_delay after the first change
        std::string changed_path;               // the change that armed it
        std::optional<config::CronSchedule> cron;
        EventPtr cron_timer;
        std::time_t cron_at = 0;                // the fire time it is armed for
        bool restarting = false;
        bool changed_again = false;             // a change came while restarting
    };

    std::unique_ptr<Trigger> build(const App& app);
    void on_change(Trigger& t, const std::string& path);
    void arm_watch(Trigger& t);
    void arm_cron(Trigger& t, std::time_t after);
    void fire(Trigger& t, const std::string& kind, const std::string& detail);
    static void on_watch_timer(evutil_socket_t, short, void* self);
    static void on_cron_timer(evutil_socket_t, short, void* self);

    event_base* base_;
    CommandHost& host_;
    std::map<std::string, std::unique_ptr<Trigger>> triggers_;   // by app name
};

}  // namespace ne::supervisor
