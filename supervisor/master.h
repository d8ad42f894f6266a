// The daemon (master process): owns the event loop, the control socket, the apps and their
// workers, and the proxy workers. It never runs request code. Control requests are handled in
// supervisor/requests.cpp; this file's class is the state they act on.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "ipc/event_ptr.h"
#include "supervisor/app.h"
#include "supervisor/control_server.h"
#include "supervisor/metrics_server.h"
#include "supervisor/metrics_window.h"
#include "supervisor/proxy_workers.h"
#include "supervisor/state_db.h"
#include "supervisor/systemd_notify.h"
#include "supervisor/worker.h"

namespace ne::supervisor {

struct DaemonOptions {
    bool foreground = false;   // stay attached (systemd Type=notify, containers); else daemonize
    std::string log_format;    // "json", "text", or "" (NODEEDGE_LOG_FORMAT, else text)
};

// Runs the daemon until `kill` or SIGTERM/SIGINT; returns the exit code. `proxy_resources`
// makes what the proxy workers share (see proxy_resources.h).
int run_daemon(const DaemonOptions& opts, ProxyResources& proxy_resources);

class Master final : public WorkerHost {
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
    void event(Worker& w, const std::string& kind, const std::string& detail) override;
    std::shared_ptr<LogFile> log_file(const config::App& app, int instance, bool err) override;

private:
    using json = nlohmann::json;
    using Reply = ControlServer::Reply;
    // A request that completes later: polled after every state change until it returns true.
    using Pending = std::function<bool()>;

    // requests.cpp: one handler per control command.
    void handle(const json& req, Reply reply);
    void cmd_start(const json& req, Reply reply);
    void cmd_reload(const json& req, Reply reply);
    void cmd_restart(const json& req, Reply reply);
    void cmd_stop(const json& req, Reply reply);
    void cmd_delete(const json& req, Reply reply);
    void cmd_scale(const json& req, Reply reply);
    void cmd_describe(const json& req, Reply reply);
    void cmd_logs(const json& req, Reply reply);
    void cmd_flush(const json& req, Reply reply);
    void cmd_save(Reply reply);
    void cmd_resurrect(Reply reply);
    void cmd_kill(Reply reply);
    // Stops the target apps (drain, SIGTERM, SIGKILL), then calls then(names) once all stopped.
    void stop_then(const json& req, Reply reply, const std::string& why,
                   std::function<void(const std::vector<std::string>&)> then);

    // Applies a loaded config: merges it into the running one, starts its apps, and replies once
    // they are ready (or with the first failure). Used by start and resurrect.
    void launch(config::Config cfg, const std::string& only, const std::string& instances, Reply reply);
    // Reloads apps one instance at a time; replies when done or on the first failure.
    void rolling_reload(std::vector<std::string> apps, Reply reply);
    Status apply_running(config::Config next);   // validate, listeners, proxy config, persist
    std::vector<App*> targets(const std::string& target, std::string& error);
    App* find_app(const std::string& name) const;        // nullptr when there is none
    Worker* find_worker(uint64_t id) const;               // in any app; nullptr when gone
    json status_json() const;
    json worker_row(const App& a, const Worker& w) const;
    bool proxied(const std::string& app) const;
    std::string log_path(const config::App& app, int instance, bool err) const;
    void wait_for(Pending p);
    void kick();
    void shutdown(std::function<void()> then);
    void reap();
    void sample();
    void stop_orphans();
    void restore_running();
    // metrics_master.cpp: what the [metrics] endpoint and `status` show.
    std::string metrics_text() const;
    std::optional<std::string> unready_reason() const;   // /health: nullopt when ready
    json app_rates() const;                               // [{name, requests_per_sec, p99_ms}]
    std::string systemd_status() const;                   // "2 apps, 5 workers online"

    static void on_signal(evutil_socket_t sig, short, void* self);
    static void on_kick(evutil_socket_t, short, void* self);
    static void on_sample(evutil_socket_t, short, void* self);
    static void on_drain_deadline(evutil_socket_t, short, void* arg);

    std::string home_;
    std::string exe_;
    ProxyResources& proxy_resources_;
    EventBasePtr base_;
    std::unique_ptr<StateDb> db_;
    std::unique_ptr<ControlServer> control_;
    std::unique_ptr<ProxyWorkers> proxy_;
    std::unique_ptr<MetricsServer> metrics_;
    std::unique_ptr<SystemdNotifier> systemd_;
    RateWindow rates_;
    config::Config running_;
    std::vector<std::unique_ptr<App>> apps_;
    std::map<pid_t, Worker*> by_pid_;
    struct DrainDeadline {
        Master* master;
        uint64_t id;
        EventPtr timer;
    };
    std::map<uint64_t, std::unique_ptr<DrainDeadline>> drain_deadlines_;
    std::map<std::string, std::shared_ptr<LogFile>> logs_;
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
