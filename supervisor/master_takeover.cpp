// The Master's takeover of a running set (supervisor/takeover.h): after a crash, the keeper
// holds the descriptors and state.db the rows. Workers that can be adopted (alive, same start
// time, ready, their pipes held) are taken over as their apps are restored; the others are
// stopped as before, so restore_running starts them afresh.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "ipc/control.h"
#include "supervisor/master.h"
#include "supervisor/spawn.h"

namespace ne::supervisor {

using nlohmann::json;

namespace {

int64_t takeover_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
}

bool adoptable(const WorkerRow& r, const Takeover& t) {
    return (r.status == "online" || r.status == "unhealthy") && r.pid > 0 && r.start_ticks != 0 &&
           process_start_ticks(r.pid) == r.start_ticks && t.fds.count(worker_fd_name(r.id, "out")) &&
           t.fds.count(worker_fd_name(r.id, "err"));
}

}  // namespace

Status Master::begin_takeover() {
    if (!takeover_from_upgrade_) {   // an upgrade hands its rows over itself
        auto rows = db_->workers();
        if (!rows) return rows.error();
        takeover_.workers = std::move(*rows);
    }
    for (auto& r : takeover_.workers) next_id_ = std::max(next_id_, r.id + 1);

    auto found = Keeper::connect(home_);
    if (!found) return found.error();
    if (*found) {
        keeper_ = std::move(*found);
        auto fds = keeper_->list();
        if (!fds) return fds.error();
        takeover_.fds = std::move(*fds);
        for (auto& [name, fd] : takeover_.fds) taken_names_.push_back(name);
        if (!takeover_from_upgrade_)
            if (auto m = db_->meta("proxy_workers"); m && *m)
            takeover_.proxies = proxy_records_from_json(json::parse(**m, nullptr, false));
        spdlog::info("keeper found: taking over {} descriptor(s), {} proxy worker(s)", takeover_.fds.size(),
                     takeover_.proxies.size());
    } else if (takeover_from_upgrade_) {
        return Error{"upgrade: no keeper answers on " + ipc::control::keeper_socket_path(home_)};
    } else {
        auto started = Keeper::start(home_, exe_);
        if (!started) return started.error();
        keeper_ = std::move(*started);
    }
    if (!takeover_.empty()) {
        std::string user;
        if (auto m = db_->meta("running"); m && *m) {
            json running = json::parse(**m, nullptr, false);
            if (running.is_object()) user = running.value("proxy", json::object()).value("user", "");
        }
        // proxy_ does not exist yet: Master::init adopts the proxy workers right after
        // creating it, with this user.
        takeover_user_ = user;
    }
    return {};
}

void Master::stop_orphans(bool keep_adoptable) {
    // Workers a previous daemon left running that cannot be adopted (no keeper held their
    // pipes, or they were not serving): they are not our children, so we cannot supervise
    // them. Stop them (by process group, only if pid + start time still match) and account
    // for each in the events; restore_running() starts the apps again.
    std::vector<pid_t> stopping;
    std::vector<WorkerRow> kept;
    for (auto& r : takeover_.workers) {
        if (keep_adoptable && adoptable(r, takeover_)) {
            kept.push_back(r);
            continue;
        }
        if (proxy_) proxy_->backend_remove(r.id);
        (void)db_->delete_worker(r.id);
        if (r.pid <= 0 || r.start_ticks == 0 || process_start_ticks(r.pid) != r.start_ticks) continue;
        spdlog::warn("{}:{} pid {} outlived the previous daemon ({}); stopping it", r.app, r.instance, r.pid, r.status);
        (void)db_->add_event(EventRow{takeover_now_ms(), r.app, r.app + ":" + std::to_string(r.instance), "orphan",
                                      "pid " + std::to_string(r.pid) + " outlived the previous daemon; stopped"});
        if (::kill(-r.pid, SIGTERM) != 0) ::kill(r.pid, SIGTERM);
        stopping.push_back(r.pid);
    }
    takeover_.workers = std::move(kept);
    // Bounded wait (they are not our children, so no SIGCHLD): 5 s, then SIGKILL.
    for (int i = 0; i < 50 && !stopping.empty(); ++i) {
        std::erase_if(stopping, [](pid_t p) { return ::kill(p, 0) != 0; });
        if (!stopping.empty()) ::usleep(100000);
    }
    for (pid_t p : stopping) {
        if (::kill(-p, SIGKILL) != 0) ::kill(p, SIGKILL);
    }
}

void Master::adopt_workers(App& app) {
    for (auto it = takeover_.workers.begin(); it != takeover_.workers.end();) {
        const WorkerRow& r = *it;
        if (r.app != app.name()) {
            ++it;
            continue;
        }
        AdoptedProcess p;
        p.pid = r.pid;
        p.start_ticks = r.start_ticks;
        p.restarts = r.restarts;
        p.started_at_ms = r.started_at_ms;
        p.out = takeover_.take(worker_fd_name(r.id, "out"));
        p.err = takeover_.take(worker_fd_name(r.id, "err"));
        p.ipc = takeover_.take(worker_fd_name(r.id, "ipc"));
        if (app.adopt(r.instance, r.port, r.id, std::move(p))) it = takeover_.workers.erase(it);
        else ++it;   // not in the restored config: stopped by finish_takeover
    }
}

void Master::pid_adopted(Worker& w) {
    pid_started(w);
    auto watch = PidWatch::open(base_.get(), w.pid(),
                                [this](pid_t pid, std::optional<int> status) { on_adopted_exit(pid, status); });
    if (!watch) {
        spdlog::error("{}: {}; its exit will go unnoticed", w.label(), watch.error().message);
        return;
    }
    adopted_[w.pid()] = std::move(*watch);
}

void Master::on_adopted_exit(pid_t pid, std::optional<int> status) {
    adopted_.erase(pid);
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end()) return;
    Worker* w = it->second;
    by_pid_.erase(it);
    w->on_exit(status.value_or(Worker::kExitUnknown));
    kick();
}

void Master::finish_takeover() {
    // Rows no restored app took: their apps are gone from the config, or their instance is.
    stop_orphans(false);
    if (keeper_) keeper_->drop_unclaimed(taken_names_);
    takeover_ = Takeover{};
    taken_names_.clear();
}

}  // namespace ne::supervisor
