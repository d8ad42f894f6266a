#include "supervisor/app.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

#include "ipc/unique_fd.h"

namespace ne::supervisor {

namespace {

bool has_process(const Worker& w) {
    return up(w.state()) || w.state() == State::Draining || w.state() == State::Stopping ||
           w.state() == State::Launching;
}

int bind_probe(int port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
    socklen_t len = sizeof a;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) return -1;
    return ntohs(a.sin_port);
}

}  // namespace

int ephemeral_port() { return bind_probe(0); }

App::App(WorkerHost& host, std::shared_ptr<const config::App> cfg, int instances, Ids ids)
    : host_(host), cfg_(std::move(cfg)), instances_(instances), ids_(std::move(ids)) {
    for (int i = 0; i < instances_; ++i) slots_.push_back(ids_.next_slot());
}

Worker& App::add_worker(int instance, int port, int slot) {
    workers_.push_back(std::make_unique<Worker>(host_, cfg_, instance, port, slot, ids_.next_id()));
    return *workers_.back();
}

bool App::adopt(int instance, int port, uint64_t id, AdoptedProcess p) {
    if (instance < 0 || instance >= instances_ || current(instance)) return false;
    workers_.push_back(
        std::make_unique<Worker>(host_, cfg_, instance, port, slots_[static_cast<size_t>(instance)], id));
    workers_.back()->adopt(std::move(p));
    return true;
}

std::vector<Worker*> App::workers() const {
    std::vector<Worker*> out;
    for (auto& w : workers_) out.push_back(w.get());
    std::stable_sort(out.begin(), out.end(), [](Worker* a, Worker* b) { return a->instance() < b->instance(); });
    return out;
}

Worker* App::find(uint64_t id) const {
    for (auto& w : workers_)
        if (w->id() == id) return w.get();
    return nullptr;
}

Worker* App::current(int instance) const {
    Worker* best = nullptr;
    for (auto& w : workers_) {
        if (w->instance() != instance) continue;
        if (std::find(retired_.begin(), retired_.end(), w->id()) != retired_.end()) continue;
        best = w.get();  // later in the vector = newer
    }
    return best;
}

std::vector<uint64_t> App::start() {
    std::vector<uint64_t> started;
    for (int i = 0; i < instances_; ++i) {
        auto one = start(i);
        started.insert(started.end(), one.begin(), one.end());
    }
    return started;
}

std::vector<uint64_t> App::start(int i) {
    if (i < 0 || i >= instances_) return {};
    Worker* w = current(i);
    if (w && has_process(*w)) return {};
    if (!w) w = &add_worker(i, cfg_->port + i, slots_[static_cast<size_t>(i)]);
    else if (w->app_ptr() != cfg_) {
        // The config changed while it was stopped: a fresh worker picks it up.
        retired_.push_back(w->id());
        Worker& fresh = add_worker(i, cfg_->port + i, slots_[static_cast<size_t>(i)]);
        fresh.carry_restarts(*w);
        w = &fresh;
    }
    w->start();
    return {w->id()};
}

void App::stop(const std::string& why) {
    // A reload (or a watch or cron restart) waiting on one of these hears that it ended.
    for (auto& r : replacements_) {
        if (r->phase != Replacement::Phase::Starting && r->phase != Replacement::Phase::Draining) continue;
        r->phase = Replacement::Phase::Failed;
        r->error = name() + ":" + std::to_string(r->instance) + ": the app was stopped (" + why + ")";
    }
    replacements_.clear();
    for (auto* w : workers()) {
        if (up(w->state())) w->on(Event::Drain, why);
        else w->on(Event::Stop, why);
    }
}

void App::stop(int instance, const std::string& why) {
    std::erase_if(replacements_, [&](auto& r) { return r->instance == instance; });
    for (auto* w : workers()) {
        if (w->instance() != instance) continue;
        if (up(w->state())) w->on(Event::Drain, why);
        else w->on(Event::Stop, why);
    }
}

bool App::stopped(int instance) const {
    return std::none_of(workers_.begin(), workers_.end(),
                        [&](auto& w) { return w->instance() == instance && w->pid() > 0; });
}

bool App::all_stopped() const {
    return std::none_of(workers_.begin(), workers_.end(), [](auto& w) { return w->pid() > 0; });
}

std::vector<uint64_t> App::scale(int instances) {
    std::vector<uint64_t> started;
    if (instances > instances_) {
        for (int i = instances_; i < instances; ++i) {
            slots_.push_back(ids_.next_slot());
            Worker& w = add_worker(i, cfg_->port + i, slots_.back());
            started.push_back(w.id());
            w.start();
        }
    } else {
        for (auto& w : workers_) {
            if (w->instance() < instances) continue;
            retired_.push_back(w->id());
            if (up(w->state())) w->on(Event::Drain, "scale down");
            else w->on(Event::Stop, "scale down");
        }
        slots_.resize(static_cast<size_t>(instances));
    }
    instances_ = instances;
    return started;
}

int App::replacement_port(const Worker* old, int instance) const {
    // Both run until the new one is online, so they cannot share a port; alternating between
    // the two reserved ranges keeps every instance on one of two ports known in advance. A
    // port something else holds fails the replacement by name (Worker's start), and the old
    // worker keeps serving.
    const int home = cfg_->port + instance;
    return old && old->port() == home ? config::reload_base(*cfg_) + instance : home;
}

bool App::replacing(int instance) const {
    return std::any_of(replacements_.begin(), replacements_.end(), [&](auto& r) {
        return r->instance == instance &&
               (r->phase == Replacement::Phase::Starting || r->phase == Replacement::Phase::Draining);
    });
}

std::shared_ptr<Replacement> App::replace(int instance, const std::string& reason) {
    if (replacing(instance)) return nullptr;
    Worker* old = current(instance);
    auto r = std::make_shared<Replacement>();
    r->instance = instance;
    r->reason = reason;
    r->old_id = old ? old->id() : 0;
    Worker& nw = add_worker(instance, replacement_port(old, instance), slots_[static_cast<size_t>(instance)]);
    r->new_id = nw.id();
    replacements_.push_back(r);
    // The old worker still serves: a replacement that crashes before it is ready fails the
    // reload at once (reported, the old one kept) rather than being retried for minutes.
    nw.no_retry_before_ready();
    if (old) nw.carry_restarts(*old);
    nw.count_restart(old && old->pid() > 0 ? reason + ", replacing pid " + std::to_string(old->pid()) : reason);
    nw.start();
    on_state_change(nw);
    return r;
}

void App::on_state_change(Worker& changed) {
    for (auto& r : replacements_) {
        if (r->phase == Replacement::Phase::Starting && r->new_id == changed.id()) {
            if (changed.state() == State::Online) {
                Worker* old = find(r->old_id);
                if (old) {
                    retired_.push_back(old->id());
                    if (up(old->state())) old->on(Event::Drain, r->reason);
                    else old->on(Event::Stop, r->reason);
                }
                r->phase = (old && old->pid() > 0) ? Replacement::Phase::Draining : Replacement::Phase::Done;
            } else if (changed.state() == State::Errored || changed.state() == State::Stopped ||
                       changed.state() == State::Stopping) {
                r->phase = Replacement::Phase::Failed;
                r->error = changed.last_error().empty() ? changed.label() + " failed to start"
                                                        : changed.last_error();
                retired_.push_back(changed.id());
                if (changed.state() != State::Stopping && changed.pid() > 0) changed.on(Event::Stop, "replacement failed");
            }
        } else if (r->phase == Replacement::Phase::Draining && r->old_id == changed.id()) {
            if (changed.pid() <= 0 && (changed.state() == State::Stopped || changed.state() == State::Errored))
                r->phase = Replacement::Phase::Done;
        }
    }
    std::erase_if(replacements_, [](auto& r) {
        return r.use_count() == 1 &&
               (r->phase == Replacement::Phase::Done || r->phase == Replacement::Phase::Failed);
    });
}

void App::collect() {
    std::erase_if(workers_, [&](const std::unique_ptr<Worker>& w) {
        bool retired = std::find(retired_.begin(), retired_.end(), w->id()) != retired_.end();
        return retired && w->pid() <= 0 &&
               (w->state() == State::Stopped || w->state() == State::Errored);
    });
    std::erase_if(retired_, [&](uint64_t id) { return find(id) == nullptr; });
}

}  // namespace ne::supervisor
