// The daemon (master process): owns the event loop, the signals, the control socket, the apps
// and their workers, and the proxy workers. It never runs request code. It reaps children,
// samples memory, keeps state.db's worker rows and stops everything on shutdown; the control
// commands (supervisor/commands.h) act on it through CommandHost, its workers through WorkerHost.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "ipc/event_ptr.h"
#include "supervisor/acme_certs.h"
#include "supervisor/app.h"
#include "supervisor/app_triggers.h"
#include "supervisor/command_host.h"
#include "supervisor/commands.h"
#include "supervisor/control_server.h"
#include "supervisor/drain_tracker.h"
#include "supervisor/keeper.h"
#include "supervisor/log_files.h"
#include "supervisor/metrics_master.h"
#include "supervisor/metrics_server.h"
#include "supervisor/pid_watch.h"
#include "supervisor/proxy_workers.h"
#include "supervisor/state_db.h"
#include "supervisor/systemd_notify.h"
#include "supervisor/takeover.h"
#include "supervisor/upgrade_state.h"
#include "supervisor/worker.h"

namespace ne::supervisor {

struct DaemonOptions {
    bool foreground = false;   // stay attached (systemd Type=notify, containers); else daemonize
    std::string log_format;    // "json", "text", or "" (NODEEDGE_LOG_FORMAT, else text)
};

// Runs the daemon until `kill` or SIGTERM/SIGINT; returns the exit code. `proxy_resources`
// makes what the proxy workers share (see proxy_resources.h).
int run_daemon(const DaemonOptions& opts, ProxyResources& proxy_resources);

class Master final : public WorkerHost, public CommandHost {
public:
    Master(std::string home, std::string self_exe, ProxyResources& proxy_resources);
    ~Master() override;
    Status init();       // state.db, control socket, signals, timers; adopts what a crash left
    int run();           // the loop

    // WorkerHost
    event_base* loop() override { return base_.get(); }
    void pool_add(Worker& w) override;
    void pool_drain(Worker& w) override;
    void pool_remove(Worker& w) override;
    bool replace(Worker& w, const std::string& why) override;
    void pid_started(Worker& w) override;
    void state_changed(Worker& w, State from, const std::string& why) override;
    void event(Worker& w, const std::string& kind, const std::string& detail) override;  // also CommandHost's
    std::shared_ptr<LogFile> log_file(const config::App& app, int instance, bool err) override;
    void hold_pipes(Worker& w, int out, int err, int ipc) override;
    void release_pipes(Worker& w) override;
    void pid_adopted(Worker& w) override;

    // CommandHost
    const std::vector<std::unique_ptr<App>>& apps() const override { return apps_; }
    App& add_app(std::shared_ptr<const config::App> cfg, int instances) override;
    void remove_apps(const std::vector<std::string>& names) override;
    const config::Config& running() const override { return running_; }
    Status apply_running(config::Config next) override;
    StateDb& db() override { return *db_; }
    LogFiles& logs() override { return logs_; }
    const std::string& home() const override { return home_; }
    void wait_for(Pending p) override;
    nlohmann::json status_json() const override;
    Result<size_t> purge_cache(const std::string& location, const std::string& prefix) override;
    bool stopping() const override { return shutting_down_; }
    void shutdown(std::function<void()> then) override;
    AcmeCerts& certificates() override { return *acme_; }
    void upgrade(const std::string& binary, std::function<void(const nlohmann::json&)> reply) override;
    nlohmann::json upgrade_outcome() const override { return upgrade_outcome_; }

    // Before init(): this program was exec'd by `upgrade` (failed: the new program's reason,
    // when this is the old one run again). The state's workers are taken over.
    void taken_over_by_upgrade(UpgradeState state, const std::string& failed);
    void set_log_format(std::string f) { log_format_ = std::move(f); }

private:
    void kick();
    void reap();
    void sample();
    // Taking over what a previous daemon left (master_takeover.cpp): the keeper's
    // descriptors and state.db's rows, then the workers that cannot be adopted are stopped,
    // the rest adopted as their apps are restored, and what is left over stopped.
    Status begin_takeover();
    void stop_orphans(bool keep_adoptable);
    void adopt_workers(App& app);
    void finish_takeover();
    void on_adopted_exit(pid_t pid, std::optional<int> status);
    WorkerRow db_row(const Worker& w) const;
    void exec_upgrade();
    static void on_upgrade_timer(evutil_socket_t, short, void* self);

    static void on_signal(evutil_socket_t sig, short, void* self);
    static void on_kick(evutil_socket_t, short, void* self);
    static void on_sample(evutil_socket_t, short, void* self);

    std::string home_;
    std::string exe_;
    ProxyResources& proxy_resources_;
    EventBasePtr base_;
    std::unique_ptr<StateDb> db_;
    std::unique_ptr<Keeper> keeper_;          // null when it could not be started
    Takeover takeover_;                       // emptied once the takeover is done
    std::vector<std::string> taken_names_;    // what the keeper held when we came
    std::string takeover_user_;               // the adopted proxy workers' [proxy] user
    std::map<pid_t, std::unique_ptr<PidWatch>> adopted_;   // adopted workers' exits
    bool takeover_from_upgrade_ = false;
    std::string log_format_;                  // as the daemon was started with
    uint64_t upgrade_id_ = 0;
    nlohmann::json upgrade_outcome_;          // the last upgrade's, for ping
    UniqueFd upgrade_exe_;                    // kept across the exec for a rollback
    UniqueFd upgrade_state_;
    std::string upgrade_binary_;
    EventPtr upgrade_timer_;
    std::unique_ptr<ControlServer> control_;
    std::unique_ptr<ProxyWorkers> proxy_;
    std::unique_ptr<MetricsServer> metrics_server_;
    std::unique_ptr<MasterMetrics> metrics_;
    std::unique_ptr<SystemdNotifier> systemd_;
    std::unique_ptr<DrainTracker> drains_;
    std::unique_ptr<AppTriggers> triggers_;   // watch and cron_restart
    std::unique_ptr<AcmeCerts> acme_;         // tls = "auto" certificates
    Commands commands_{*this};
    LogFiles logs_;
    config::Config running_;
    std::vector<std::unique_ptr<App>> apps_;
    std::map<pid_t, Worker*> by_pid_;
    std::vector<Pending> pending_;
    std::vector<EventPtr> signals_;
    EventPtr kick_;
    EventPtr sample_timer_;
    int next_slot_ = 0;
    uint64_t next_id_ = 1;
    bool shutting_down_ = false;
    int exit_code_ = 0;
};

}  // namespace ne::supervisor
