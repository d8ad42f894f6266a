#include "supervisor/master.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "config/json.h"
#include "config/validate.h"
#include "ipc/control.h"
#include "ipc/log_format.h"
#include "ipc/version.h"
#include "supervisor/inspect_commands.h"
#include "supervisor/rolling_reload.h"
#include "supervisor/spawn.h"

extern char** environ;

namespace ne::supervisor {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Master::Master(std::string home, std::string self_exe, ProxyResources& proxy_resources)
    : home_(std::move(home)), exe_(std::move(self_exe)), proxy_resources_(proxy_resources), base_(event_base_new()),
      logs_(home_) {}

Master::~Master() = default;

Status Master::init() {
    std::error_code ec;
    fs::create_directories(ipc::control::logs_dir(home_), ec);
    if (ec) return Error{"create " + ipc::control::logs_dir(home_) + ": " + ec.message()};
    auto db = StateDb::open(ipc::control::state_db_path(home_));
    if (!db) return db.error();
    db_ = std::move(*db);
    if (auto s = begin_takeover(); !s)
        spdlog::error("{}; apps will not outlive this daemon", s.error().message);

    proxy_ = std::make_unique<ProxyWorkers>(
        base_.get(), exe_, proxy_resources_,
        [this](uint64_t id) {
            drains_->finish(id);
            if (Worker* w = find_worker(id)) w->on(Event::DrainDone, "drained");
        },
        takeover_, keeper_.get());
    proxy_->on_change([this](std::vector<ProxyRecord> records) {
        if (auto s = db_->put_meta("proxy_workers", proxy_records_json(records).dump()); !s)
            spdlog::warn("state.db: {}", s.error().message);
    });
    drains_ = std::make_unique<DrainTracker>(base_.get(), config::Proxy{}.drain_timeout, [this](uint64_t id) {
        if (Worker* w = find_worker(id)) {
            event(*w, "drain", "drain deadline passed with requests in flight; stopping anyway");
            w->on(Event::DrainDone, "drain deadline");
        }
    });
    metrics_ = std::make_unique<MasterMetrics>(apps_, *proxy_);
    triggers_ = std::make_unique<AppTriggers>(base_.get(), *this);
    acme_ = std::make_unique<AcmeCerts>(AcmeCerts::Host{
        base_.get(), exe_, home_,
        [this](ipc::AcmeChallenges c, std::function<void()> applied) { proxy_->set_acme_challenges(std::move(c), std::move(applied)); },
        [this] { proxy_->set_config(with_acme_paths(config::to_json(running_), home_)); },
        [this](const EventRow& e) {
            if (auto s = db_->add_event(e); !s) spdlog::warn("state.db: {}", s.error().message);
        }});

    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1}) {
        signals_.emplace_back(evsignal_new(base_.get(), sig, on_signal, this));
        evsignal_add(signals_.back().get(), nullptr);
    }
    ::signal(SIGPIPE, SIG_IGN);
    kick_.reset(event_new(base_.get(), -1, 0, on_kick, this));
    sample_timer_.reset(event_new(base_.get(), -1, EV_PERSIST, on_sample, this));
    // Memory is checked twice a second so a worker over its limit is replaced within a second
    // of crossing it (PM2 polls every 30 s).
    timeval half{0, 500000};
    evtimer_add(sample_timer_.get(), &half);

    systemd_ = std::make_unique<SystemdNotifier>(base_.get());
    metrics_server_ = std::make_unique<MetricsServer>(
        base_.get(), MetricsServer::Handlers{[this] { return metrics_->text() + acme_->metrics_text(); },
                                             [this] { return metrics_->unready_reason(shutting_down_); }});

    control_ = std::make_unique<ControlServer>(base_.get(), [this](const json& req, Reply reply) {
        commands_.handle(req, std::move(reply));
    });
    if (!takeover_.empty()) proxy_->adopt(takeover_, takeover_user_);
    stop_orphans(true);
    if (auto s = control_->listen(ipc::control::socket_path(home_)); !s) return s;
    commands_.restore_running();
    finish_takeover();
    // The proxy workers an upgrade adopted run the old binary: a new generation from the new
    // one takes over, and the old one drains, as a reload's does.
    if (takeover_from_upgrade_ && upgrade_outcome_.value("ok", false)) proxy_->renew();
    return {};
}

int Master::run() {
    systemd_->ready(metrics_->systemd_status());
    event_base_dispatch(base_.get());
    return exit_code_;
}

// ---- WorkerHost -------------------------------------------------------------------------

void Master::pool_add(Worker& w) {
    proxy_->backend_add(ipc::BackendAdd{w.id(), w.app().name, w.instance(), "127.0.0.1", w.port()});
}

void Master::pool_drain(Worker& w) {
    drains_->start(w.id());
    proxy_->backend_drain(w.id());
}

void Master::pool_remove(Worker& w) {
    drains_->finish(w.id());
    proxy_->backend_remove(w.id());
}

bool Master::replace(Worker& w, const std::string& why) {
    App* a = find_app(w.app().name);
    return a && a->current(w.instance()) == &w && a->replace(w.instance(), why) != nullptr;
}

void Master::pid_started(Worker& w) { by_pid_[w.pid()] = &w; }

WorkerRow Master::db_row(const Worker& w) const {
    WorkerRow row;
    row.id = w.id();
    row.app = w.app().name;
    row.instance = w.instance();
    row.pid = w.pid() > 0 ? w.pid() : 0;
    row.start_ticks = w.start_ticks();
    row.port = w.port();
    row.status = to_string(w.state());
    row.restarts = w.restarts();
    row.started_at_ms = w.started_at_ms();
    return row;
}

void Master::state_changed(Worker& w, State from, const std::string& why) {
    WorkerRow row = db_row(w);
    if (auto s = db_->put_worker(row); !s) spdlog::warn("state.db: {}", s.error().message);
    if (App* a = find_app(w.app().name); a && a->find(w.id())) a->on_state_change(w);
    kick();
}

void Master::event(Worker& w, const std::string& kind, const std::string& detail) {
    spdlog::info("{} {}: {}", w.label(), kind, detail);
    if (auto s = db_->add_event(EventRow{now_ms(), w.app().name, w.label(), kind, detail}); !s)
        spdlog::warn("state.db: {}", s.error().message);
}

std::shared_ptr<LogFile> Master::log_file(const config::App& app, int instance, bool err) {
    return logs_.open(app, instance, err);
}

void Master::hold_pipes(Worker& w, int out, int err, int ipc) {
    if (!keeper_) return;
    keeper_->put(worker_fd_name(w.id(), "out"), out);
    keeper_->put(worker_fd_name(w.id(), "err"), err);
    keeper_->put(worker_fd_name(w.id(), "ipc"), ipc);
}

void Master::release_pipes(Worker& w) {
    if (!keeper_) return;
    for (const char* stream : {"out", "err", "ipc"}) keeper_->drop(worker_fd_name(w.id(), stream));
}

// ---- CommandHost ------------------------------------------------------------------------

App& Master::add_app(std::shared_ptr<const config::App> cfg, int instances) {
    App::Ids gen{[this] { return next_slot_++; }, [this] { return next_id_++; }};
    apps_.push_back(std::make_unique<App>(*this, std::move(cfg), instances, gen));
    adopt_workers(*apps_.back());
    return *apps_.back();
}

void Master::remove_apps(const std::vector<std::string>& names) {
    std::erase_if(apps_, [&](auto& a) { return std::find(names.begin(), names.end(), a->name()) != names.end(); });
}

Status Master::apply_running(config::Config next) {
    if (auto s = config::validate(next, config::usable_cpus()); !s) return s;
    std::vector<std::string> listen;
    for (auto& s : next.servers)
        for (auto& l : s.listen) listen.push_back(l.str());
    int workers = next.proxy.workers == "auto" ? config::usable_cpus()
                                               : std::max(1, std::atoi(next.proxy.workers.c_str()));
    if (auto s = metrics_server_->listen(next.metrics.listen); !s) return s;
    if (auto s = proxy_->set_user(next.proxy.user); !s) return s;
    proxy_->set_count(workers);
    drains_->set_deadline(next.proxy.drain_timeout);
    proxy_->set_shutdown_timeout(next.proxy.worker_shutdown_timeout);
    if (auto s = proxy_->set_listeners(listen); !s) return s;
    running_ = std::move(next);
    json j = config::to_json(running_);
    proxy_->set_config(with_acme_paths(j, home_));
    acme_->sync(running_);
    if (auto s = db_->put_meta("running", j.dump()); !s) spdlog::warn("state.db: {}", s.error().message);
    return {};
}

Result<size_t> Master::purge_cache(const std::string& location, const std::string& prefix) {
    return proxy_->purge_cache(location, prefix);
}

json Master::status_json() const {
    json rows = json::array();
    for (auto& a : apps_)
        for (Worker* w : a->workers()) rows.push_back(worker_row(running_, *a, *w));
    json proxy = proxy_->status();
    proxy["requests_per_sec"] = metrics_->proxy_requests_per_sec();
    return {{"workers", rows}, {"proxy", std::move(proxy)}, {"apps", metrics_->app_rates()}, {"daemon_pid", ::getpid()}};
}

// ---- loop plumbing ----------------------------------------------------------------------

void Master::wait_for(Pending p) {
    pending_.push_back(std::move(p));
    kick();
}

void Master::kick() { event_active(kick_.get(), EV_TIMEOUT, 0); }

void Master::on_kick(evutil_socket_t, short, void* self) {
    auto* m = static_cast<Master*>(self);
    // Polls may add new pending requests or kick again; take the list first.
    // Workers that finished leaving are dropped first, so replies never list them.
    for (auto& a : m->apps_) a->collect();
    auto pending = std::move(m->pending_);
    m->pending_.clear();
    for (auto& p : pending) {
        bool done = false;
        try {
            done = p();
        } catch (const std::exception& e) {
            spdlog::error("pending request: {}", e.what());
            done = true;
        }
        if (!done) m->pending_.push_back(std::move(p));
    }
    for (auto& a : m->apps_) a->collect();
    // Apps come, go and change config only through what runs before a kick.
    m->triggers_->sync();
}

void Master::on_signal(evutil_socket_t sig, short, void* self) {
    auto* m = static_cast<Master*>(self);
    switch (sig) {
        case SIGCHLD: m->reap(); break;
        case SIGUSR1:
            spdlog::info("SIGUSR1: reopening log files");
            m->logs_.reopen_all();
            m->proxy_->reopen_logs();
            break;
        case SIGHUP:
            spdlog::info("SIGHUP: rolling reload of every app");
            {
                std::vector<std::string> names;
                for (auto& a : m->apps_) names.push_back(a->name());
                RollingReload::start(*m, names, [](const json& r) {
                    if (!r.value("ok", false)) spdlog::error("reload: {}", r.value("error", ""));
                });
            }
            break;
        default:
            spdlog::info("signal {}: stopping every app, then exiting", sig);
            m->shutdown([] {});
    }
}

void Master::reap() {
    // One SIGCHLD may stand for several exits.
    for (;;) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) break;
        if (proxy_->on_exit(pid, status)) continue;
        auto it = by_pid_.find(pid);
        if (it == by_pid_.end()) continue;  // an orphan we adopted as PID 1, or a probe
        Worker* w = it->second;
        by_pid_.erase(it);
        adopted_.erase(pid);
        w->on_exit(status);
    }
    kick();
}

void Master::on_sample(evutil_socket_t, short, void* self) { static_cast<Master*>(self)->sample(); }

void Master::sample() {
    auto now = std::chrono::steady_clock::now();
    metrics_->sample(now);
    if (!shutting_down_) systemd_->status(metrics_->systemd_status());
    for (auto& a : apps_)
        for (Worker* w : a->workers()) w->sample(now);
}

void Master::shutdown(std::function<void()> then) {
    if (shutting_down_) {
        wait_for([this, then] {
            if (!proxy_->running() && !by_pid_.size()) { then(); return true; }
            return false;
        });
        return;
    }
    shutting_down_ = true;
    systemd_->stopping("draining and stopping every app");
    for (auto& a : apps_) a->stop("daemon stopping");
    wait_for([this, then] {
        for (auto& a : apps_)
            if (!a->all_stopped()) return false;
        // A clean stop leaves nothing to restore: the next daemon starts empty, and
        // `resurrect` brings back what was saved. (After a crash, "running" is restored.)
        if (auto s = db_->put_meta("running", ""); !s) spdlog::warn("state.db: {}", s.error().message);
        proxy_->quit([this, then] {
            // Nothing is left to outlive us.
            if (keeper_) keeper_->quit();
            then();
            // Give the reply to `kill` a moment to reach the client before the loop ends.
            timeval flush{0, 200000};
            event_base_loopexit(base_.get(), &flush);
        });
        return true;
    });
}

// ---- process setup ----------------------------------------------------------------------

namespace {

std::string self_exe() {
    std::error_code ec;
    auto p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? "nodeedge" : p.string();
}

// Holds an exclusive lock on daemon.pid for the daemon's life: a second daemon fails cleanly.
Result<UniqueFd> lock_pid_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) return Error::from_errno("open " + path);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {};
        ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
        (void)n;
        return Error{"a daemon is already running (pid " + std::string(buf).substr(0, std::string(buf).find('\n')) + ")"};
    }
    return fd;
}

void write_pid(int fd) {
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
}

// Detaches from the terminal. The first parent waits on a pipe until the daemon reports that
// it is serving (or why it is not), so `nodeedge daemon` exits 0 only for a working daemon and
// the CLI can show a start-up failure at once. Returns the pipe's write end (-1 in foreground).
int daemonize(const std::string& log_path) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return -1;
    if (pid_t p = ::fork(); p > 0) {
        ::close(ready[1]);
        std::string msg;
        char buf[512];
        ssize_t n;
        while ((n = ::read(ready[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
        if (msg == "ok") _exit(0);
        if (msg.empty()) msg = "the daemon exited during start-up (see " + log_path + ")";
        (void)!::write(2, msg.data(), msg.size());
        (void)!::write(2, "\n", 1);
        _exit(1);
    }
    ::close(ready[0]);
    ::setsid();
    if (pid_t p = ::fork(); p > 0) _exit(0);
    (void)!::chdir("/");
    int null = ::open("/dev/null", O_RDONLY);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (null >= 0) { ::dup2(null, 0); ::close(null); }
    if (log >= 0) { ::dup2(log, 1); ::dup2(log, 2); ::close(log); }
    return ready[1];
}

void report_start(int fd, const std::string& msg) {
    if (fd < 0) return;
    (void)!::write(fd, msg.data(), msg.size());
    ::close(fd);
}

}  // namespace

namespace {

// Run by a new program that cannot take over what `upgrade` handed it: the old program (its
// descriptor kept across the exec) runs again on the same state and reports why.
[[noreturn]] void roll_back(int exe_fd, int state_fd, const DaemonOptions& opts, const std::string& why) {
    spdlog::error("upgrade failed: {}; running the previous binary again", why);
    if (exe_fd >= 0 && state_fd >= 0) {
        ::setenv(kUpgradeFailedEnv, why.c_str(), 1);
        ::setenv(kUpgradeStateEnv, std::to_string(state_fd).c_str(), 1);
        ::setenv(kUpgradeExeEnv, std::to_string(exe_fd).c_str(), 1);
        std::vector<std::string> args = upgrade_daemon_argv("nodeedge", opts.log_format);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::fexecve(exe_fd, argv.data(), environ);
        spdlog::critical("{}", Error::from_errno("rollback: fexecve of the previous binary").message);
    }
    std::_Exit(1);
}

int env_fd(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::atoi(v) : -1;
}

}  // namespace

int run_daemon(const DaemonOptions& opts, ProxyResources& proxy_resources) {
    std::string home = ipc::control::home_dir();
    std::error_code ec;
    fs::create_directories(home, ec);
    ::chmod(home.c_str(), 0700);
    // `upgrade` exec'd this program in place: same pid, already detached.
    const int state_fd = env_fd(kUpgradeStateEnv), exe_fd = env_fd(kUpgradeExeEnv);
    const std::string failed = std::getenv(kUpgradeFailedEnv) ? std::getenv(kUpgradeFailedEnv) : "";
    for (const char* e : {kUpgradeStateEnv, kUpgradeExeEnv, kUpgradeFailedEnv}) ::unsetenv(e);
    const bool upgraded = state_fd >= 0;
    int ready_fd = opts.foreground || upgraded ? -1 : daemonize(ipc::control::daemon_log_path(home));
    spdlog::set_default_logger(spdlog::stdout_logger_mt("nodeedge"));
    if (opts.log_format == "json") ::setenv(kLogFormatEnv, "json", 1);  // proxy workers follow
    set_log_format(opts.log_format, "%Y-%m-%dT%H:%M:%S.%e%z [%l] %v");
    spdlog::flush_on(spdlog::level::info);

    std::optional<UpgradeState> state;
    if (upgraded) {
        auto read = read_upgrade_state(state_fd);
        if (!read) {
            if (failed.empty()) roll_back(exe_fd, state_fd, opts, read.error().message);
            spdlog::critical("rollback: {}", read.error().message);
            return 1;
        }
        state = std::move(*read);
    }
    auto lock = lock_pid_file(ipc::control::pid_path(home));
    if (!lock) {
        spdlog::error("{}", lock.error().message);
        if (upgraded && failed.empty()) roll_back(exe_fd, state_fd, opts, lock.error().message);
        report_start(ready_fd, lock.error().message);
        return 1;
    }
    write_pid(lock->get());
    Master master(home, self_exe(), proxy_resources);
    master.set_log_format(opts.log_format);
    if (state) master.taken_over_by_upgrade(*state, failed);
    if (auto s = master.init(); !s) {
        spdlog::error("daemon start failed: {}", s.error().message);
        if (upgraded && failed.empty()) roll_back(exe_fd, state_fd, opts, s.error().message);
        report_start(ready_fd, "daemon start failed: " + s.error().message);
        return 1;
    }
    if (upgraded) {
        ::close(state_fd);
        ::close(exe_fd);
        if (failed.empty())
            spdlog::info("upgrade: now running {} (from {}), pid {}", ipc::version(), state->from_version, ::getpid());
        else
            spdlog::error("upgrade rolled back to {}: {}", ipc::version(), failed);
    }
    report_start(ready_fd, "ok");
    spdlog::info("daemon {} started, home {}", ::getpid(), home);
    int rc = master.run();
    ::unlink(ipc::control::pid_path(home).c_str());
    spdlog::info("daemon exiting");
    return rc;
}

}  // namespace ne::supervisor
