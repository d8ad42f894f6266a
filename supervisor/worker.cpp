#include "supervisor/worker.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <cstring>

#include "supervisor/memory.h"
#include "supervisor/port_owner.h"
#include "supervisor/spawn.h"

namespace ne::supervisor {

using namespace std::chrono;

namespace {

int64_t wall_ms() {
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string describe_exit(int status) {
    if (status == Worker::kExitUnknown) return "ended (adopted, so its exit status is unknown)";
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* name = sigabbrev_np(WTERMSIG(status));
        return std::string("killed by SIG") + (name ? name : std::to_string(WTERMSIG(status)).c_str());
    }
    return "ended (status " + std::to_string(status) + ")";
}

}  // namespace

Worker::Worker(WorkerHost& host, std::shared_ptr<const config::App> app, int instance, int port,
               int slot, uint64_t id)
    : host_(host), app_(std::move(app)), instance_(instance), port_(port), slot_(slot), id_(id),
      policy_(*app_) {}

Worker::~Worker() {
    // A Worker is destroyed only once stopped; a live process here would be a leak.
    if (pid_ > 0) signal_group(SIGKILL);
}

std::string Worker::label() const { return app_->name + ":" + std::to_string(instance_); }

int64_t Worker::uptime_ms() const {
    if (!up(state_) && state_ != State::Draining) return 0;
    return duration_cast<milliseconds>(steady_clock::now() - started_).count();
}

void Worker::start() {
    failed_start_ = false;
    if (state_ == State::Stopped || state_ == State::Errored) {
        on(Event::Restart, "start");
    }
}

void Worker::on(Event e, const std::string& why) {
    auto t = supervisor::on(state_, e);
    if (!t) return;
    if (e == Event::Stop || e == Event::Drain) asked_to_stop_ = true;
    State from = state_;
    state_ = t->next;
    std::string reason = why.empty() ? to_string(e) : why;
    if (from != state_) {
        spdlog::info("{} {} -> {} ({})", label(), to_string(from), to_string(state_), reason);
        host_.state_changed(*this, from, reason);
    }
    for (Action a : t->actions) run(a, reason);
    if (from != state_) watch_health();
}

void Worker::run(Action a, const std::string& why) {
    switch (a) {
        case Action::PoolAdd: host_.pool_add(*this); break;
        case Action::PoolDrain: host_.pool_drain(*this); break;
        case Action::PoolRemove: host_.pool_remove(*this); break;
        case Action::SendTerm:
            probe_.reset();
            listen_timer_.reset();
            if (pid_ > 0) {
                signal_group(SIGTERM);
                arm(kill_timer_, app_->kill_timeout, on_kill_timeout);
            } else {
                on(Event::ExitExpected, why);  // nothing running (e.g. waiting to restart)
            }
            break;
        case Action::SendKill:
            if (pid_ > 0) {
                host_.event(*this, "kill", "did not exit within kill_timeout; SIGKILL");
                signal_group(SIGKILL);
            }
            break;
        case Action::ScheduleRestart: schedule_restart(); break;
        case Action::Spawn: spawn(); break;
    }
}

void Worker::spawn() {
    restart_timer_.reset();
    asked_to_stop_ = false;
    // Another program on the port would answer the readiness probe's connects and, if this
    // worker were taken for ready, the proxy's clients; the worker itself would die on EADDRINUSE.
    if (auto holder = port_holder(port_)) {
        fail_spawn(port_in_use_message(port_, *holder));
        return;
    }
    auto spec = worker_spec(*app_, instance_, port_);
    auto child = supervisor::spawn(spec);
    if (!child) {
        fail_spawn(child.error().message);
        return;
    }
    pid_ = child->pid;
    start_ticks_ = child->start_ticks;
    started_ = steady_clock::now();
    started_wall_ms_ = wall_ms();
    cpu_ticks_ = 0;
    cpu_percent_ = 0;
    rss_ = 0;
    host_.pid_started(*this);
    host_.event(*this, "start", "pid " + std::to_string(pid_) + " on port " + std::to_string(port_));
    host_.hold_pipes(*this, child->out.get(), child->err.get(), child->ipc.get());
    attach_pipes(std::move(child->out), std::move(child->err), std::move(child->ipc));
    if (!app_->wait_ready)
        probe_ = std::make_unique<PortProbe>(host_.loop(), "127.0.0.1", port_, pid_, [this] { on_ready(); });
    arm(listen_timer_, app_->listen_timeout, on_listen_timeout);
    host_.state_changed(*this, state_, "spawned");
}

void Worker::attach_pipes(UniqueFd out, UniqueFd err, UniqueFd ipc) {
    event_base* base = host_.loop();
    if (out)
        out_ = std::make_unique<LogCapture>(base, std::move(out), host_.log_file(*app_, instance_, false), label(),
                                            app_->log_date_format);
    if (err)
        err_ = std::make_unique<LogCapture>(base, std::move(err), host_.log_file(*app_, instance_, true), label(),
                                            app_->log_date_format);
    // Node workers always get the IPC channel (apps call process.send('ready') whether or not
    // wait_ready is set, as under PM2); it is drained either way, and only counts with wait_ready.
    if (ipc) {
        node_ipc_ = std::move(ipc);
        ipc_reader_ = std::make_unique<NodeIpcReader>(base, node_ipc_.get(), [this] {
            if (app_->wait_ready) on_ready();
        });
    }
}

void Worker::adopt(AdoptedProcess p) {
    pid_ = p.pid;
    start_ticks_ = p.start_ticks;
    restarts_ = p.restarts;
    started_wall_ms_ = p.started_at_ms;
    started_ = steady_clock::now() - milliseconds(std::max<int64_t>(0, wall_ms() - p.started_at_ms));
    ever_ready_ = true;
    host_.pid_adopted(*this);
    host_.hold_pipes(*this, p.out.get(), p.err.get(), p.ipc.get());
    attach_pipes(std::move(p.out), std::move(p.err), std::move(p.ipc));
    host_.event(*this, "adopt", "pid " + std::to_string(pid_) + " on port " + std::to_string(port_) +
                                    " taken over from the previous daemon");
    State from = state_;
    state_ = State::Online;
    spdlog::info("{} {} -> {} (adopted)", label(), to_string(from), to_string(state_));
    host_.state_changed(*this, from, "adopted");
    run(Action::PoolAdd, "adopted");
    watch_health();
    // Read now, so that status does not show an adopted process at 0 bytes until the next tick.
    read_usage(steady_clock::now());
}

void Worker::fail_spawn(const std::string& why) {
    last_error_ = label() + ": " + why;
    host_.event(*this, "errored", last_error_);
    on(Event::GiveUp, why);
}

void Worker::on_ready() {
    probe_.reset();
    listen_timer_.reset();
    if (state_ != State::Launching) return;
    ever_ready_ = true;
    last_error_.clear();
    on(Event::Ready, app_->wait_ready ? "process.send('ready')" : "port " + std::to_string(port_) + " accepts");
}

// Checked only while up: a launching worker has its readiness probe, and a draining or
// stopping one is leaving the pool anyway. Each time it comes up starts with a clean count;
// going unhealthy and back keeps it.
void Worker::watch_health() {
    if (!up(state_) || !app_->health_check.enabled) {
        health_.reset();
        return;
    }
    if (health_) return;
    health_state_ = HealthState(app_->health_check.fails);
    health_ = std::make_unique<HealthCheck>(host_.loop(), "127.0.0.1", port_, app_->health_check,
                                            [this](bool ok, const std::string& detail) { on_health(ok, detail); });
}

void Worker::on_health(bool ok, const std::string& detail) {
    const std::string& path = app_->health_check.path;
    if (!ok) spdlog::warn("{} health check {} failed: {}", label(), path, detail);
    switch (health_state_.on_result(ok)) {
        case HealthState::Action::None: break;
        case HealthState::Action::TakeOut:
            on(Event::HealthFailed, path + " failed");
            host_.event(*this, "health", std::to_string(health_state_.failures()) + " checks of " + path +
                                             " failed in a row (last: " + detail + "); taken out of the pool");
            break;
        case HealthState::Action::PutBack:
            on(Event::HealthOk, path + " " + detail);
            host_.event(*this, "health", path + " " + detail + "; back in the pool");
            break;
        case HealthState::Action::Replace:
            // Checks go on while a slow replacement starts; only the request that starts one
            // is an event.
            if (host_.replace(*this, "health check"))
                host_.event(*this, "health", "unhealthy for " + std::to_string(health_state_.failures()) +
                                                 " checks in a row (last: " + detail + "); replacing it");
            break;
    }
}

void Worker::schedule_restart() {
    auto uptime = duration_cast<milliseconds>(steady_clock::now() - started_);
    // A crash before the first ready is retried like any other, as PM2 does (a database that
    // is not up yet at boot), unless the caller wants to hear of it at once (no_retry_before_ready).
    auto delay = ever_ready_ || !no_retry_ ? policy_.on_exit(uptime) : std::nullopt;
    if (!delay) {
        const std::string tries = std::to_string(restarts_) + " restarts";
        const std::string max = std::to_string(app_->max_restarts);
        if (ever_ready_)
            last_error_ = label() + ": giving up after " + tries + ", the last " + max + " unstable (errored)";
        else if (!no_retry_)   // last_error_ already says how it ended before becoming ready
            last_error_ += ", after " + tries + " (max_restarts " + max + ")";
        host_.event(*this, "errored", last_error_);
        on(Event::GiveUp, "max_restarts reached");
        return;
    }
    count_restart("after an unexpected exit, in " + std::to_string(delay->count()) + " ms");
    arm(restart_timer_, *delay, on_restart_timer);
}

void Worker::count_restart(const std::string& why) {
    ++restarts_;
    host_.event(*this, "restart", why);
}

void Worker::on_exit(int wait_status) {
    std::string how = describe_exit(wait_status);
    pid_t old = pid_;
    release_process();
    bool expected = state_ == State::Stopping || state_ == State::Draining;
    host_.event(*this, "exit", "pid " + std::to_string(old) + " " + how);
    if (!expected) {
        if (!ever_ready_) {
            last_error_ = label() + " " + how + " before becoming ready";
            // Taken between the check before the spawn and the worker's bind, Node's EADDRINUSE:
            // the worker is gone, so whoever listens there now is not this worker.
            if (auto holder = port_holder(port_)) last_error_ += " (" + port_in_use_message(port_, *holder) + ")";
        }
        // PM2: with autorestart off an exit, clean or not, leaves the process stopped.
        on(app_->autorestart ? Event::ExitUnexpected : Event::ExitNoRestart, how);
        return;
    }
    on(Event::ExitExpected, how);
    if (failed_start_ && state_ == State::Stopped) on(Event::GiveUp, last_error_);
}

void Worker::release_process() {
    host_.release_pipes(*this);
    pid_ = -1;
    probe_.reset();
    ipc_reader_.reset();
    node_ipc_.reset();
    listen_timer_.reset();
    kill_timer_.reset();
    // The pipes stay with their LogCapture until EOF so a dying worker's last lines are kept;
    // they close by themselves once every writer (also grandchildren) is gone.
}

void Worker::reset_restarts() {
    restarts_ = 0;
    policy_ = RestartPolicy(*app_);
    host_.event(*this, "reset", "restart count set to 0");
}

Status Worker::send_signal(int sig) {
    if (pid_ <= 0) return Error{label() + " has no process (" + to_string(state_) + ")"};
    if (::kill(pid_, sig) != 0) return Error::from_errno(label() + ": kill " + std::to_string(pid_));
    host_.event(*this, "signal", "sent signal " + std::to_string(sig) + " to pid " + std::to_string(pid_));
    return {};
}

void Worker::signal_group(int sig) {
    if (pid_ <= 0) return;
    // The worker leads its own process group (setsid at spawn): signal the whole tree.
    if (::kill(-pid_, sig) != 0) ::kill(pid_, sig);
}

void Worker::sample(steady_clock::time_point now) {
    read_usage(now);
    check_memory();
}

void Worker::read_usage(steady_clock::time_point now) {
    if (pid_ <= 0) {
        cpu_percent_ = 0;
        rss_ = 0;
        return;
    }
    rss_ = tree_rss_bytes(pid_);
    uint64_t ticks = tree_cpu_ticks(pid_);
    if (cpu_at_ != steady_clock::time_point{} && cpu_ticks_ != 0) {
        double secs = duration<double>(now - cpu_at_).count();
        cpu_percent_ = supervisor::cpu_percent(cpu_ticks_, ticks, secs);
    }
    cpu_ticks_ = ticks;
    cpu_at_ = now;
}

void Worker::check_memory() {
    uint64_t limit = app_->max_memory_restart;
    if (limit == 0 || !up(state_) || rss_ <= limit) return;
    // Sampled twice a second while its replacement starts: only the request that starts one is
    // an event (none when one is already under way, e.g. a reload, which serves as well).
    if (host_.replace(*this, "memory limit"))
        host_.event(*this, "memory", "RSS " + std::to_string(rss_ >> 20) + " MiB over max_memory_restart " +
                                         std::to_string(limit >> 20) + " MiB: replacing it");
}

void Worker::arm(EventPtr& ev, milliseconds after, void (*cb)(evutil_socket_t, short, void*)) {
    ev.reset(evtimer_new(host_.loop(), cb, this));
    timeval tv{static_cast<time_t>(after.count() / 1000), static_cast<suseconds_t>((after.count() % 1000) * 1000)};
    evtimer_add(ev.get(), &tv);
}

void Worker::on_listen_timeout(evutil_socket_t, short, void* self) {
    auto* w = static_cast<Worker*>(self);
    w->failed_start_ = true;
    w->last_error_ = w->label() + " did not become ready within listen_timeout (" +
                     std::to_string(w->app_->listen_timeout.count()) + " ms)";
    w->host_.event(*w, "errored", w->last_error_);
    w->on(Event::ReadyTimeout, "listen_timeout");
}

void Worker::on_kill_timeout(evutil_socket_t, short, void* self) {
    static_cast<Worker*>(self)->on(Event::KillTimeout);
}

void Worker::on_restart_timer(evutil_socket_t, short, void* self) {
    auto* w = static_cast<Worker*>(self);
    w->restart_timer_.reset();
    w->on(Event::Restart, "restart delay passed");
}

}  // namespace ne::supervisor
