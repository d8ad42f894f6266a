// One Node worker process: carries out the actions its Lifecycle returns (spawn, announce,
// drain, signal, restart) and holds what the process owns (pid, pipes, probes, timers).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"
#include "ipc/event_ptr.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"
#include "supervisor/health_check.h"
#include "supervisor/lifecycle.h"
#include "supervisor/log_capture.h"
#include "supervisor/readiness.h"
#include "supervisor/restart_policy.h"

namespace ne::supervisor {

class Worker;

// What a Worker needs from the daemon around it; a small interface so tests can fake it.
class WorkerHost {
public:
    virtual ~WorkerHost() = default;
    virtual event_base* loop() = 0;
    virtual void pool_add(Worker& w) = 0;
    virtual void pool_drain(Worker& w) = 0;     // answers later with w.on(Event::DrainDone)
    virtual void pool_remove(Worker& w) = 0;
    // Starts a graceful replacement of w (the new worker first); false when one is already
    // under way (or w is no longer its instance's current worker).
    virtual bool replace(Worker& w, const std::string& why) = 0;
    virtual void pid_started(Worker& w) = 0;    // so SIGCHLD can find the worker
    virtual void state_changed(Worker& w, State from, const std::string& why) = 0;
    virtual void event(Worker& w, const std::string& kind, const std::string& detail) = 0;
    virtual std::shared_ptr<LogFile> log_file(const config::App& app, int instance, bool err) = 0;
    // The read ends of a new process's pipes, for the keeper to hold so that the worker
    // outlives the daemon (supervisor/keeper.h); released once the process is gone.
    virtual void hold_pipes(Worker&, int /*out*/, int /*err*/, int /*ipc*/) {}
    virtual void release_pipes(Worker&) {}
    // An adopted process (Worker::adopt): its exit comes through a pidfd, not only SIGCHLD.
    virtual void pid_adopted(Worker& w) { pid_started(w); }
};

// A running Node worker a previous daemon left (supervisor/takeover.h).
struct AdoptedProcess {
    pid_t pid = -1;
    unsigned long long start_ticks = 0;
    int restarts = 0;
    int64_t started_at_ms = 0;
    UniqueFd out, err, ipc;
};

class Worker {
public:
    // `slot` is the stable id shown in `status` (kept by restarts and reload replacements);
    // `id` is unique per Worker object (the proxy's backend id).
    Worker(WorkerHost& host, std::shared_ptr<const config::App> app, int instance, int port,
           int slot, uint64_t id);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void start();                        // from Stopped/Errored or new: spawn
    // Takes over a running, ready process instead of spawning one: online at once, back in
    // every pool, its pipes read again (lines written meanwhile waited in them).
    void adopt(AdoptedProcess p);
    // restarts() counts every restart of the instance, as PM2's ↺ does: a crash's, and one
    // asked for (`restart`; a replacement for reload, memory limit or health check, which
    // is a new Worker, so it carries on from its predecessor's count). `why` goes to the
    // events, so describe tells them apart.
    void count_restart(const std::string& why);
    void carry_restarts(const Worker& previous) { restarts_ = previous.restarts_; }
    // PM2's `reset`: the restart count and the unstable exits that max_restarts counts start
    // again from 0.
    void reset_restarts();
    // PM2's `sendSignal`: `sig` to the worker's process (not its group, as PM2's
    // process.kill); Error when it has none or kill() fails.
    Status send_signal(int sig);
    void on(Event e, const std::string& why = "");
    // From the daemon's SIGCHLD loop; kExitUnknown for an adopted process that was not the
    // daemon's child (its pidfd said it ended, nobody told us how).
    static constexpr int kExitUnknown = -1;
    void on_exit(int wait_status);
    // cpu % and rss; over max_memory_restart while online, asks the host for a replacement.
    void sample(std::chrono::steady_clock::time_point now);

    const config::App& app() const { return *app_; }
    std::shared_ptr<const config::App> app_ptr() const { return app_; }
    int instance() const { return instance_; }
    int port() const { return port_; }
    int slot() const { return slot_; }
    uint64_t id() const { return id_; }
    pid_t pid() const { return pid_; }
    unsigned long long start_ticks() const { return start_ticks_; }
    State state() const { return state_; }
    int restarts() const { return restarts_; }
    int unstable_restarts() const { return policy_.unstable_restarts(); }
    int64_t uptime_ms() const;
    int64_t started_at_ms() const { return started_wall_ms_; }
    double cpu_percent() const { return cpu_percent_; }
    uint64_t memory_bytes() const { return rss_; }
    bool ever_ready() const { return ever_ready_; }
    // Told to stop or drain (stop, delete, scale down, shutdown) since its last spawn: watch and
    // cron_restart leave it down, where an exit with autorestart off is theirs to restart.
    bool asked_to_stop() const { return asked_to_stop_; }
    const std::string& last_error() const { return last_error_; }
    // A crash before the first ready ends in errored at once instead of being restarted up to
    // max_restarts: `start --no-retry`, and every replacement (the worker it replaces serves on).
    void no_retry_before_ready() { no_retry_ = true; }
    std::string label() const;           // "api:1"

private:
    void run(Action a, const std::string& why);
    void spawn();
    void fail_spawn(const std::string& why);   // errored, with `why` as the last error
    void attach_pipes(UniqueFd out, UniqueFd err, UniqueFd ipc);
    void schedule_restart();
    void signal_group(int sig);
    void on_ready();
    void watch_health();
    void on_health(bool ok, const std::string& detail);
    void read_usage(std::chrono::steady_clock::time_point now);   // rss and cpu of the tree
    void check_memory();
    void arm(EventPtr& ev, std::chrono::milliseconds after, void (*cb)(evutil_socket_t, short, void*));
    void release_process();
    static void on_listen_timeout(evutil_socket_t, short, void* self);
    static void on_kill_timeout(evutil_socket_t, short, void* self);
    static void on_restart_timer(evutil_socket_t, short, void* self);

    WorkerHost& host_;
    std::shared_ptr<const config::App> app_;
    int instance_;
    int port_;
    int slot_;
    uint64_t id_;
    State state_ = State::Stopped;
    pid_t pid_ = -1;
    unsigned long long start_ticks_ = 0;
    int restarts_ = 0;
    bool ever_ready_ = false;
    bool failed_start_ = false;
    bool no_retry_ = false;
    bool asked_to_stop_ = false;
    std::string last_error_;
    RestartPolicy policy_;
    std::chrono::steady_clock::time_point started_{};
    int64_t started_wall_ms_ = 0;
    std::unique_ptr<LogCapture> out_;
    std::unique_ptr<LogCapture> err_;
    std::unique_ptr<PortProbe> probe_;
    UniqueFd node_ipc_;
    std::unique_ptr<NodeIpcReader> ipc_reader_;
    std::unique_ptr<HealthCheck> health_;   // only while online, with health_check set
    HealthState health_state_{1};
    EventPtr listen_timer_;
    EventPtr kill_timer_;
    EventPtr restart_timer_;
    uint64_t cpu_ticks_ = 0;
    std::chrono::steady_clock::time_point cpu_at_{};
    double cpu_percent_ = 0;
    uint64_t rss_ = 0;
};

}  // namespace ne::supervisor
