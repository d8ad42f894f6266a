#include "supervisor/proxy_workers.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/json.h"
#include "config/tls.h"
#include "ipc/net.h"
#include "ipc/control.h"
#include "ipc/fd_passing.h"
#include "ipc/proxy_launch.h"
#include "supervisor/spawn.h"

namespace ne::supervisor {

using nlohmann::json;

namespace {

// Keys tracked at once by rate limits (about 40 bytes each, 2.5 MiB in all, touched only as
// used); past that the least recently used key in a probe window is forgotten.
constexpr size_t kRateLimitKeys = 65536;

}  // namespace

ProxyWorkers::ProxyWorkers(event_base* base, std::string self_exe, ProxyResources& resources,
                           OnDrainDone on_drain_done, Takeover& takeover, Keeper* keeper)
    : base_(base), exe_(std::move(self_exe)), resources_(resources), on_drain_done_(std::move(on_drain_done)),
      keeper_(keeper) {
    zone_ = takeover.take("zone:rate");
    cache_zone_ = takeover.take("zone:cache");
    tls_sessions_ = takeover.take("zone:tls");
    if (!zone_) {
        auto zone = resources_.create_rate_limit_zone(kRateLimitKeys);
        if (zone)
            zone_ = std::move(*zone);
        else
            spdlog::error("{}; rate_limit is not enforced", zone.error().message);
    }
    // An adopted index still describes the files in the cache folder: they stay.
    if (!cache_zone_)
        if (auto st = start_cache(); !st) spdlog::error("{}; responses are not cached", st.error().message);
    if (!tls_sessions_) {
        if (auto sessions = resources_.create_tls_session_cache())
            tls_sessions_ = std::move(*sessions);
        else
            spdlog::error("{}; each proxy worker resumes only the TLS sessions it made", sessions.error().message);
    }
    hold_zones();
}

void ProxyWorkers::hold_zones() {
    hold("zone:rate", zone_.get());
    hold("zone:cache", cache_zone_.get());
    hold("zone:tls", tls_sessions_.get());
}

void ProxyWorkers::adopt(Takeover& takeover, const std::string& user) {
    const std::string prefix = listener_fd_name("");
    for (auto it = takeover.fds.begin(); it != takeover.fds.end();) {
        if (it->first.rfind(prefix, 0) != 0) {
            ++it;
            continue;
        }
        std::string address = it->first.substr(prefix.size());
        hold(it->first, it->second.get());
        listeners_[address] = std::move(it->second);
        order_.push_back(address);
        it = takeover.fds.erase(it);
    }
    user_ = user;
    if (!user.empty() && ::geteuid() == 0)
        if (auto c = resolve_credentials(user, "")) credentials_ = std::move(*c);
    for (auto& r : takeover.proxies) {
        UniqueFd log_socket = takeover.take(proxy_fd_name(r.pid));
        if (!log_socket || r.start_ticks == 0 || process_start_ticks(r.pid) != r.start_ticks) continue;
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            spdlog::error("{}", Error::from_errno("proxy worker " + std::to_string(r.pid) + ": socketpair").message);
            continue;
        }
        UniqueFd ours(sv[0]), theirs(sv[1]);
        if (auto sent = ipc::send_fd(log_socket.get(), theirs.get(), ipc::kNewChannelNote); !sent) {
            spdlog::warn("proxy worker {}: cannot adopt it: {}", r.pid, sent.error().message);
            continue;
        }
        auto watch = PidWatch::open(base_, r.pid, [this](pid_t pid, std::optional<int> status) {
            on_exit(pid, status.value_or(-1));
        });
        if (!watch) {
            spdlog::warn("proxy worker {}: cannot adopt it: {}", r.pid, watch.error().message);
            ::kill(r.pid, SIGTERM);
            continue;
        }
        Proc& p = add_proc(r.pid, std::move(ours), std::move(log_socket));
        p.start_ticks = r.start_ticks;
        p.watch = std::move(*watch);
        spdlog::info("proxy worker {} adopted", r.pid);
    }
    changed();
}

ProxyWorkers::Proc& ProxyWorkers::add_proc(pid_t pid, UniqueFd channel, UniqueFd log_socket) {
    Proc p;
    p.pid = pid;
    p.generation = generation_;
    p.start_ticks = process_start_ticks(pid);
    p.log_socket = std::move(log_socket);
    hold(proxy_fd_name(pid), p.log_socket.get());
    p.channel = std::make_unique<ipc::Channel>(
        base_, std::move(channel), [this, pid](std::string payload) { on_frame(pid, payload); },
        [pid](const std::string& why) { spdlog::debug("proxy worker {} channel: {}", pid, why); });
    send_access_log(p);   // before the config, which the worker takes it with
    return procs_.emplace(pid, std::move(p)).first->second;
}

std::vector<ProxyRecord> ProxyWorkers::records() const {
    std::vector<ProxyRecord> out;
    for (auto& [pid, p] : procs_)
        if (!p.quitting) out.push_back({pid, p.start_ticks});
    return out;
}

void ProxyWorkers::changed() {
    if (on_change_) on_change_(records());
}

Status ProxyWorkers::start_cache() {
    // Answers a previous daemon stored are loaded into the new index (nginx's cache loader),
    // a batch at a time on this loop while the workers already serve.
    const std::string dir = ipc::control::home_dir() + "/cache";
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Error::from_errno("cache: mkdir " + dir);
    auto index = resources_.create_cache_index();
    if (!index) return index.error();
    cache_zone_ = std::move(*index);
    auto load = resources_.load_cache(cache_zone_.get(), dir);
    if (!load) {
        spdlog::error("{}; the cache starts empty", load.error().message);
        return {};
    }
    cache_load_ = std::move(*load);
    cache_load_timer_.reset(evtimer_new(base_, on_cache_load, this));
    const timeval now{0, 0};
    evtimer_add(cache_load_timer_.get(), &now);
    return {};
}

Result<size_t> ProxyWorkers::purge_cache(const std::string& location, const std::string& prefix) {
    if (!cache_zone_) return Error{"cache purge: the daemon has no response cache (see its log)"};
    return resources_.purge_cache(cache_zone_.get(), ipc::control::home_dir() + "/cache", location, prefix);
}

void ProxyWorkers::on_cache_load(evutil_socket_t, short, void* self) {
    auto* w = static_cast<ProxyWorkers*>(self);
    if (!w->cache_load_->step()) {
        w->cache_load_.reset();
        return;
    }
    const auto ms = w->cache_load_->sleep().count();
    const timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
    evtimer_add(w->cache_load_timer_.get(), &tv);
}

ProxyWorkers::~ProxyWorkers() {
    for (auto& [pid, p] : procs_) ::kill(pid, SIGKILL);
}

Status ProxyWorkers::set_listeners(const std::vector<std::string>& addresses) {
    std::map<std::string, UniqueFd> next;
    for (const auto& a : addresses) {
        if (next.count(a)) continue;
        if (auto it = listeners_.find(a); it != listeners_.end()) {
            next.emplace(a, std::move(it->second));
            continue;
        }
        auto hp = net::split_host_port(a);
        if (!hp) return hp.error();
        auto fd = net::listen_tcp(hp->host, hp->port);
        if (!fd) {
            // Put back what we borrowed: a failed change leaves everything as it was.
            for (auto& [addr, f] : next)
                if (listeners_.count(addr)) listeners_[addr] = std::move(f);
            return fd.error();
        }
        next.emplace(a, std::move(*fd));
    }
    std::vector<std::string> order;
    for (auto& [a, fd] : next) {
        order.push_back(a);
        if (!listeners_.count(a)) hold(listener_fd_name(a), fd.get());
    }
    if (keeper_)
        for (auto& [a, fd] : listeners_)
            if (fd && !next.count(a)) keeper_->drop(listener_fd_name(a));
    bool changed = order != order_;
    listeners_ = std::move(next);
    order_ = std::move(order);
    if (changed && !order_.empty()) start_generation();
    if (order_.empty()) {
        for (auto& [pid, p] : procs_) {
            p.quitting = true;
            p.channel->send(ipc::encode(ipc::Quit{}));
        }
    }
    return {};
}

void ProxyWorkers::start_generation() {
    ++generation_;
    // The old generation stops accepting and finishes what it has, tunnels included, for up
    // to worker_shutdown_timeout; the new one takes over the (same or changed) listening
    // sockets. No socket is closed under a client.
    const int64_t grace = shutdown_timeout_.count();
    for (auto& [pid, p] : procs_) {
        if (p.generation < generation_ && !p.quitting) {
            p.quitting = true;
            p.channel->send(ipc::encode(ipc::Quit{grace}));
        }
    }
    for (int i = 0; i < count_; ++i)
        if (auto r = fork_one(); !r) spdlog::error("proxy worker: {}", r.error().message);
}

void ProxyWorkers::set_config(json config) {
    config_ = std::move(config);
    const auto section = config_.value("proxy", json::object());
    std::string path = resources_.access_log_path(section.value("access_log", ""), ipc::control::home_dir());
    // A file that could not be opened is tried again on every reload.
    if (path != access_log_path_ || (!path.empty() && !access_log_)) {
        access_log_path_ = std::move(path);
        open_access_log();
        for (auto& [pid, p] : procs_)
            if (!p.quitting) send_access_log(p);
    }
    tls_files_.clear();
    if (auto cfg = config::from_json(config_); !cfg) {
        spdlog::error("proxy config: {}", cfg.error().message);
    } else if (auto keys = config::read_tls_files(*cfg); !keys) {
        spdlog::error("{}; the proxy workers keep their previous config", keys.error().message);
    } else {
        tls_files_ = std::move(*keys);
    }
    send_all(ipc::ProxyConfig{config_, tls_files_});
}

void ProxyWorkers::open_access_log() {
    access_log_.reset();
    if (access_log_path_.empty()) return;
    auto fd = resources_.open_access_log(access_log_path_);
    if (!fd) {
        spdlog::error("{}; not logging requests until it can be opened (reload or SIGUSR1)", fd.error().message);
        return;
    }
    access_log_ = std::move(*fd);
}

void ProxyWorkers::send_access_log(Proc& p) {
    if (auto sent = ipc::send_fd(p.log_socket.get(), access_log_.get(), access_log_path_); !sent)
        spdlog::error("proxy worker {}: access log: {}", p.pid, sent.error().message);
}

Status ProxyWorkers::set_user(const std::string& user) {
    if (user == user_) return {};
    std::optional<Credentials> next;
    if (!user.empty() && ::geteuid() != 0) {
        spdlog::warn("[proxy] user = \"{}\" ignored: the daemon does not run as root", user);
    } else {
        auto c = resolve_credentials(user, "");
        if (!c) return c.error().wrap("[proxy] user");
        next = std::move(*c);
    }
    user_ = user;
    credentials_ = std::move(next);
    // Proxy workers write the cache's files as that user.
    if (credentials_) {
        const std::string dir = ipc::control::home_dir() + "/cache";
        if (::chown(dir.c_str(), credentials_->uid, credentials_->gid) != 0)
            spdlog::warn("{}", Error::from_errno("cache: chown " + dir + " to " + user).message);
    }
    if (!order_.empty()) start_generation();
    return {};
}

void ProxyWorkers::set_count(int n) {
    count_ = std::max(1, n);
    if (order_.empty()) return;
    int live = 0;
    for (auto& [pid, p] : procs_)
        if (!p.quitting && p.generation == generation_) ++live;
    for (; live < count_; ++live)
        if (auto r = fork_one(); !r) spdlog::error("proxy worker: {}", r.error().message);
    for (auto& [pid, p] : procs_) {
        if (live <= count_) break;
        if (p.quitting || p.generation != generation_) continue;
        p.quitting = true;
        p.channel->send(ipc::encode(ipc::Quit{}));
        --live;
    }
}

Result<pid_t> ProxyWorkers::fork_one() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return Error::from_errno("socketpair for proxy worker");
    UniqueFd ours(sv[0]), theirs(sv[1]);
    auto log_sockets = ipc::fd_socketpair();
    if (!log_sockets) return log_sockets.error().wrap("proxy worker");
    auto& [log_ours, log_theirs] = *log_sockets;

    // Everything the child needs is prepared before fork: no allocation after it. The child
    // finds the descriptors at 3, 4, ... in the order they are listed here.
    std::vector<int> sources;
    auto inherit = [&sources](int fd) {
        sources.push_back(fd);
        return 2 + static_cast<int>(sources.size());
    };
    ipc::ProxyLaunch launch;
    launch.channel_fd = inherit(theirs.get());
    launch.log_socket = inherit(log_theirs.get());
    for (auto& a : order_) launch.listeners.push_back({a, inherit(listeners_[a].get())});
    if (zone_) launch.rate_limit_zone = inherit(zone_.get());
    if (cache_zone_) launch.cache_zone = inherit(cache_zone_.get());
    if (tls_sessions_) launch.tls_sessions_zone = inherit(tls_sessions_.get());
    std::vector<std::string> args = ipc::to_argv(launch);
    args.insert(args.begin(), exe_);
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    const Credentials* as = credentials_ ? &*credentials_ : nullptr;

    pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno("fork proxy worker");
    if (pid == 0) {
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, nullptr);
        // Move sources out of the way first, so dup2 onto 3.. cannot clobber one of them.
        std::vector<int>& high = sources;
        for (int& fd : high) fd = fcntl(fd, F_DUPFD_CLOEXEC, 64);
        for (size_t i = 0; i < high.size(); ++i) dup2(high[i], 3 + static_cast<int>(i));
        // The listening sockets are bound (by us, as root) and passed down; the worker gives
        // up root before it reads a single request byte.
        if (as && !switch_to(*as)) {
            static constexpr char kWhy[] = "proxy worker: cannot switch to [proxy] user\n";
            [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, kWhy, sizeof kWhy - 1);
            _exit(126);
        }
        execv(exe_.c_str(), argv.data());
        _exit(127);
    }
    theirs.reset();
    log_theirs.reset();
    Proc& p = add_proc(pid, std::move(ours), std::move(log_ours));
    p.channel->send(ipc::encode(ipc::ProxyConfig{config_, tls_files_}));
    for (auto& [id, b] : ready_) p.channel->send(ipc::encode(b));
    if (!acme_challenges_.http.empty() || !acme_challenges_.alpn.empty())
        p.channel->send(ipc::encode(acme_challenges_));
    spdlog::info("proxy worker {} started (generation {})", pid, generation_);
    changed();
    return pid;
}

void ProxyWorkers::send_all(const ipc::Message& m) {
    std::string frame = ipc::encode(m);
    for (auto& [pid, p] : procs_)
        if (!p.quitting) p.channel->send(frame);
}

void ProxyWorkers::backend_add(const ipc::BackendAdd& b) {
    ready_[b.id] = b;
    send_all(b);
}

void ProxyWorkers::backend_drain(uint64_t id) {
    ready_.erase(id);
    std::set<pid_t> waiting;
    for (auto& [pid, p] : procs_)
        if (!p.quitting) waiting.insert(pid);
    if (waiting.empty()) {
        on_drain_done_(id);
        return;
    }
    drains_[id] = std::move(waiting);
    send_all(ipc::BackendDrain{id});
}

void ProxyWorkers::backend_remove(uint64_t id) {
    ready_.erase(id);
    drains_.erase(id);
    // Quitting workers are told too: they may still hold connections to it.
    std::string frame = ipc::encode(ipc::BackendRemove{id});
    for (auto& [pid, p] : procs_) p.channel->send(frame);
}

void ProxyWorkers::on_frame(pid_t pid, const std::string& payload) {
    auto msg = ipc::decode(payload);
    if (!msg) {
        spdlog::error("proxy worker {}: {}", pid, msg.error().message);
        return;
    }
    if (auto* d = std::get_if<ipc::DrainDone>(&*msg)) {
        auto it = drains_.find(d->id);
        if (it == drains_.end()) return;
        it->second.erase(pid);
        if (it->second.empty()) {
            drains_.erase(it);
            on_drain_done_(d->id);
        }
    } else if (auto* a = std::get_if<ipc::AcmeChallengesApplied>(&*msg)) {
        if (a->serial == acme_challenges_.serial) acme_challenges_applied(pid);
    } else if (auto* s = std::get_if<ipc::Stats>(&*msg)) {
        auto it = procs_.find(pid);
        if (it == procs_.end()) return;
        Proc& p = it->second;
        p.connections = s->connections;
        totals_.update(pid, *s);
    }
}

void ProxyWorkers::forget_in_drains(pid_t pid) {
    // A dead proxy worker has nothing in flight any more.
    std::vector<uint64_t> done;
    for (auto& [id, waiting] : drains_) {
        waiting.erase(pid);
        if (waiting.empty()) done.push_back(id);
    }
    for (uint64_t id : done) {
        drains_.erase(id);
        on_drain_done_(id);
    }
}

void ProxyWorkers::set_acme_challenges(ipc::AcmeChallenges c, std::function<void()> applied) {
    c.serial = acme_challenges_.serial + 1;
    acme_challenges_ = std::move(c);
    acme_applied_ = std::move(applied);
    acme_waiting_.clear();
    for (auto& [pid, p] : procs_)
        if (!p.quitting) acme_waiting_.insert(pid);
    send_all(acme_challenges_);
    acme_challenges_applied(-1);
}

// A worker applied the current set, or exited (a re-forked one gets the set at start).
void ProxyWorkers::acme_challenges_applied(pid_t pid) {
    acme_waiting_.erase(pid);
    if (acme_waiting_.empty() && acme_applied_) std::exchange(acme_applied_, nullptr)();
}

bool ProxyWorkers::on_exit(pid_t pid, int status) {
    auto it = procs_.find(pid);
    if (it == procs_.end()) return false;
    bool expected = it->second.quitting;
    int gen = it->second.generation;
    procs_.erase(it);
    if (keeper_) keeper_->drop(proxy_fd_name(pid));
    changed();
    totals_.retire(pid);
    forget_in_drains(pid);
    acme_challenges_applied(pid);
    if (!expected) {
        spdlog::error("proxy worker {} died ({}); starting another", pid,
                      status < 0            ? std::string("status unknown: adopted, not our child")
                      : WIFSIGNALED(status) ? std::string("signal ") + std::to_string(WTERMSIG(status))
                                            : "exit " + std::to_string(WEXITSTATUS(status)));
        if (!quitting_ && gen == generation_ && !order_.empty())
            if (auto r = fork_one(); !r) spdlog::error("proxy worker: {}", r.error().message);
    }
    check_quit_done();
    return true;
}

void ProxyWorkers::reopen_logs() {
    open_access_log();
    for (auto& [pid, p] : procs_) send_access_log(p);
}

void ProxyWorkers::quit(std::function<void()> done) {
    quitting_ = true;
    quit_done_ = std::move(done);
    for (auto& [pid, p] : procs_) {
        p.quitting = true;
        p.channel->send(ipc::encode(ipc::Quit{}));
    }
    // Escalate: a proxy worker that has not exited in 10 s is killed.
    kill_timer_.reset(evtimer_new(base_, on_kill_timer, this));
    timeval tv{10, 0};
    evtimer_add(kill_timer_.get(), &tv);
    check_quit_done();
}

void ProxyWorkers::on_kill_timer(evutil_socket_t, short, void* self) {
    auto* pw = static_cast<ProxyWorkers*>(self);
    for (auto& [pid, p] : pw->procs_) {
        spdlog::warn("proxy worker {} did not quit in 10 s; SIGKILL", pid);
        ::kill(pid, SIGKILL);
    }
}

void ProxyWorkers::check_quit_done() {
    if (quitting_ && procs_.empty() && quit_done_) {
        kill_timer_.reset();
        auto done = std::move(quit_done_);
        quit_done_ = nullptr;
        done();
    }
}

std::vector<std::string> ProxyWorkers::listen_addresses() const { return order_; }

json ProxyWorkers::status() const {
    json workers = json::array();
    uint64_t conns = 0;
    for (auto& [pid, p] : procs_) {
        workers.push_back({{"pid", pid}, {"status", p.quitting ? "stopping" : "online"}});
        conns += p.connections;
    }
    return {{"listen", order_}, {"connections", conns}, {"workers", workers}};
}

}  // namespace ne::supervisor
