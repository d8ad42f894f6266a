// The proxy worker processes, seen from the master: it owns the listening sockets (so a proxy
// crash closes none of them), fork/execs `nodeedge __proxy-worker` with those fds, re-forks a
// dead one at once, and is the only writer of pool membership: every proxy worker learns of a
// ready, draining or gone backend from here, and a drain completes when all of them said so.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipc/channel.h"
#include "ipc/event_ptr.h"
#include "ipc/messages.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"
#include "supervisor/credentials.h"
#include "supervisor/keeper.h"
#include "supervisor/metrics_totals.h"
#include "supervisor/pid_watch.h"
#include "supervisor/proxy_resources.h"
#include "supervisor/takeover.h"

namespace ne::supervisor {

class ProxyWorkers {
public:
    using OnDrainDone = std::function<void(uint64_t backend_id)>;

    // `resources` makes the zones and opens the access log; it must outlive this. Zones the
    // takeover holds are used instead of new ones (the cache's index and files stay). Every
    // descriptor the running set needs is also handed to `keeper` (may be null).
    ProxyWorkers(event_base* base, std::string self_exe, ProxyResources& resources, OnDrainDone on_drain_done,
                 Takeover& takeover, Keeper* keeper);

    // Takes over the listening sockets and the live proxy workers a previous daemon left
    // (supervisor/takeover.h): each gets a new channel through its descriptor socket and keeps
    // serving; a later config, pool change or Quit reaches it as any other. `user` is the
    // running config's [proxy] user, which the adopted workers already run as. Call before
    // the first set_user/set_listeners, which then find nothing to change.
    void adopt(Takeover& takeover, const std::string& user);
    // A new generation replaces the running one (which drains): after an upgrade, so that the
    // proxy workers run the new binary.
    void renew() { if (!order_.empty()) start_generation(); }
    std::vector<ProxyRecord> records() const;
    // Called whenever the set of proxy worker pids changed (the daemon records it in state.db).
    void on_change(std::function<void(std::vector<ProxyRecord>)> fn) { on_change_ = std::move(fn); }
    ~ProxyWorkers();

    // Opens sockets for new addresses, keeps those already open, and closes the ones no longer
    // listed. When the set changed, a new generation of proxy workers replaces the old one
    // (which finishes its in-flight requests). Errors name the address; nothing changes then.
    Status set_listeners(const std::vector<std::string>& addresses);
    // How long an old generation keeps its connections (tunnels) after set_listeners or
    // set_user forked a new one; call before them.
    void set_shutdown_timeout(std::chrono::milliseconds t) { shutdown_timeout_ = t; }
    // Applies to new requests in every proxy worker. The TLS private keys it names are read
    // here, by the master, and sent with it (a key that cannot be read is logged, and the
    // workers keep their previous config).
    void set_config(nlohmann::json config);
    // `cache purge`: see ProxyResources::purge_cache.
    Result<size_t> purge_cache(const std::string& location, const std::string& prefix);
    // `[proxy] user`: workers forked from now on switch to it (only when the daemon is root,
    // as nginx's `user`); a change replaces the running generation, since a worker cannot
    // switch back. Call before set_listeners so that the first workers start as that user.
    // An unknown user is an Error and changes nothing.
    Status set_user(const std::string& user);
    // "auto" = usable CPUs. Takes effect now (spawns or quits workers).
    void set_count(int n);

    void backend_add(const ipc::BackendAdd& b);
    void backend_drain(uint64_t id);        // on_drain_done(id) once every worker reported
    void backend_remove(uint64_t id);

    // ACME challenges every proxy worker answers from now on (re-forked ones too), replacing
    // the previous set; applied() once each running worker said it does (at once if none runs).
    void set_acme_challenges(ipc::AcmeChallenges c, std::function<void()> applied);

    // SIGCHLD: true when pid was a proxy worker (re-forked unless quitting).
    bool on_exit(pid_t pid, int status);
    // Opens the access log anew and hands it to every worker (after a rotation; the master's
    // SIGUSR1).
    void reopen_logs();
    // Quit every worker (finish in-flight, exit); done() once all have exited.
    void quit(std::function<void()> done);
    bool running() const { return !procs_.empty(); }

    std::vector<std::string> listen_addresses() const;
    // {listen: [...], connections, workers: [{pid, status}]}; the request rate is the
    // master's (MasterMetrics), over the same window as the apps' rates.
    nlohmann::json status() const;
    // Request counters summed over every proxy worker, past ones included.
    const ProxyTotals& totals() const { return totals_; }
    size_t processes() const { return procs_.size(); }

private:
    struct Proc {
        pid_t pid = -1;
        int generation = 0;
        bool quitting = false;
        std::unique_ptr<ipc::Channel> channel;
        UniqueFd log_socket;   // the access log's descriptor goes down here (ipc/fd_passing.h)
        uint64_t connections = 0;
        unsigned long long start_ticks = 0;
        std::unique_ptr<PidWatch> watch;   // adopted (not our child): its exit comes from here
    };
    Result<pid_t> fork_one();
    Proc& add_proc(pid_t pid, UniqueFd channel, UniqueFd log_socket);
    void changed();
    void hold(const std::string& name, int fd) { if (keeper_) keeper_->put(name, fd); }
    void hold_zones();
    // The cache's index zone and an empty $NODEEDGE_HOME/cache.
    Status start_cache();
    void send_all(const ipc::Message& m);
    // The master opens the access log, not the workers: a `[proxy] user` cannot reach
    // $NODEEDGE_HOME (0700), and nginx's master opens its workers' logs for the same reason.
    void open_access_log();
    void send_access_log(Proc& p);
    void on_frame(pid_t pid, const std::string& payload);
    void forget_in_drains(pid_t pid);
    void acme_challenges_applied(pid_t pid);
    void check_quit_done();
    void start_generation();
    static void on_kill_timer(evutil_socket_t, short, void* self);
    static void on_cache_load(evutil_socket_t, short, void* self);

    event_base* base_;
    std::string exe_;
    ProxyResources& resources_;
    OnDrainDone on_drain_done_;
    Keeper* keeper_;
    std::function<void(std::vector<ProxyRecord>)> on_change_;
    std::map<std::string, UniqueFd> listeners_;
    // Rate-limit buckets, created once and given to every proxy worker, re-forked ones too, so
    // limits hold across workers and survive a proxy crash.
    UniqueFd zone_;
    UniqueFd cache_zone_;                           // the response cache's index
    std::unique_ptr<ProxyResources::CacheLoad> cache_load_;  // while files are being loaded
    EventPtr cache_load_timer_;
    UniqueFd tls_sessions_;                         // TLS sessions
    std::string access_log_path_;                   // "" when off
    UniqueFd access_log_;                           // invalid when off or it cannot be opened
    std::vector<std::string> order_;               // listen addresses, in fd order
    nlohmann::json config_ = nlohmann::json::object();
    std::map<std::string, std::string> tls_files_;   // of config_ (config::TlsFiles)
    std::string user_;                              // as written
    std::optional<Credentials> credentials_;        // resolved; none: keep the daemon's
    int count_ = 1;
    std::chrono::milliseconds shutdown_timeout_{std::chrono::hours(1)};
    int generation_ = 0;
    bool quitting_ = false;
    std::map<pid_t, Proc> procs_;
    ProxyTotals totals_;
    std::map<uint64_t, ipc::BackendAdd> ready_;     // what a new proxy worker must be told
    std::map<uint64_t, std::set<pid_t>> drains_;    // backend -> workers yet to report
    std::function<void()> quit_done_;
    ipc::AcmeChallenges acme_challenges_;           // what a new proxy worker must be told
    std::set<pid_t> acme_waiting_;                  // workers yet to apply acme_challenges_
    std::function<void()> acme_applied_;
    std::unique_ptr<event, void (*)(event*)> kill_timer_{nullptr, event_free};
};

}  // namespace ne::supervisor
