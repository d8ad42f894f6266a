#include "proxy/proxy_worker.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include "ipc/channel.h"
#include "ipc/control.h"
#include "ipc/event_ptr.h"
#include "ipc/fd_passing.h"
#include "ipc/log_format.h"
#include "ipc/messages.h"
#include "proxy/listener.h"
#include "proxy/runtime.h"
#include "proxy/to_timeval.h"

namespace ne::proxy {

namespace {

// In-flight requests get this long after Quit (or the master's death) before the worker exits
// anyway; the master escalates to SIGTERM/SIGKILL after the same 10 s when it stops. An old
// generation after a reload gets [proxy] worker_shutdown_timeout instead (Quit::grace_ms).
constexpr std::chrono::seconds kQuitGrace{10};
constexpr std::chrono::seconds kStatsEvery{1};

// The request-id seed: distinct per worker, so ids from several workers never collide.
std::pair<uint64_t, uint64_t> random_seed() {
    uint64_t s[2] = {0, 0};
    if (getrandom(s, sizeof s, 0) != static_cast<ssize_t>(sizeof s)) {
        auto now = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        s[0] = now ^ (static_cast<uint64_t>(getpid()) << 32);
        s[1] = ~now;
    }
    return {s[0], s[1]};
}

// The loop applies the changes a turn made to one fd as one epoll_ctl, at dispatch. An
// openssl bufferevent deletes and re-adds its events when the handshake ends and toggles
// EV_WRITE as OpenSSL wants to write: 12 epoll_ctl calls per TLS connection otherwise,
// against nginx's 2. libevent's caveat for the changelist (fds in one loop that are dup()s
// of each other) does not arise: a proxy worker dups no fd.
EventBasePtr new_loop() {
    std::unique_ptr<event_config, decltype(&event_config_free)> cfg(event_config_new(), event_config_free);
    if (!cfg) return nullptr;
    event_config_set_flag(cfg.get(), EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    return EventBasePtr(event_base_new_with_config(cfg.get()));
}

class ProxyWorker {
public:
    ProxyWorker() = default;
    ProxyWorker(const ProxyWorker&) = delete;
    ProxyWorker& operator=(const ProxyWorker&) = delete;

    Status init(const ipc::ProxyLaunch& launch);
    int run();

private:
    void on_frame(const std::string& payload);
    void on_channel_closed(const std::string& why);
    void open_channel(UniqueFd fd);
    void apply_config(const ipc::ProxyConfig& m);
    void take_acme_challenges(const ipc::AcmeChallenges& m);
    void take_log_files();
    static void log_socket_cb(evutil_socket_t, short, void* self);
    void add_backend(const ipc::BackendAdd& m);
    void drain_backend(uint64_t id);
    void remove_backend(uint64_t id);
    void begin_quit(const char* why, std::chrono::milliseconds grace = kQuitGrace);
    void finish();
    void send_stats();
    static void stats_cb(evutil_socket_t, short, void* self);
    static void quit_timer_cb(evutil_socket_t, short, void* self);

    // Declaration order is destruction order in reverse: connections (in the runtime) go
    // before the channel they may still report drains on, and the loop goes last.
    EventBasePtr base_;
    std::unique_ptr<ipc::Channel> channel_;
    std::unique_ptr<Runtime> rt_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    UniqueFd log_socket_;   // the master hands the access log's descriptor down here
    EventPtr log_event_;
    EventPtr stats_timer_;
    EventPtr quit_timer_;
    bool quitting_ = false;
    bool finishing_ = false;
    bool master_gone_ = false;   // the channel closed; serving on until a new master adopts us
    std::chrono::milliseconds grace_{kQuitGrace};
};

Status ProxyWorker::init(const ipc::ProxyLaunch& launch) {
    base_ = new_loop();
    if (!base_) return Error{"proxy worker: cannot create an event loop"};
    auto [hi, lo] = random_seed();
    rt_ = std::make_unique<Runtime>(base_.get(), hi, lo);
    if (launch.rate_limit_zone >= 0) {
        auto zone = SharedZone::attach(launch.rate_limit_zone);
        ::close(launch.rate_limit_zone);  // the mapping stays; re-forked workers get the master's copy
        if (!zone) return zone.error().wrap("proxy worker");
        rt_->zone.emplace(std::move(*zone));
    } else {
        spdlog::warn("proxy worker {}: started without a rate-limit zone; rate_limit is not enforced", getpid());
    }
    if (launch.cache_zone >= 0) {
        auto index = CacheIndex::attach(launch.cache_zone);
        ::close(launch.cache_zone);
        if (!index) return index.error().wrap("proxy worker");
        rt_->cache = std::make_unique<CacheStore>(CacheStore{std::move(*index), ipc::control::home_dir() + "/cache"});
        if (auto fills = CacheFillEvents::watch(base_.get(), rt_->cache->dir))
            rt_->cache_fills.emplace(std::move(*fills));
        else
            spdlog::warn("proxy worker {}: {}; requests waiting for a cache fill wait out lock_timeout", getpid(),
                         fills.error().message);
    } else {
        spdlog::warn("proxy worker {}: started without a cache zone; responses are not cached", getpid());
    }
    // Without it (the master said why), each context keeps OpenSSL's per-process cache.
    if (launch.tls_sessions_zone >= 0) {
        auto sessions = TlsSessionCache::attach(launch.tls_sessions_zone);
        ::close(launch.tls_sessions_zone);
        if (!sessions) return sessions.error().wrap("proxy worker");
        rt_->tls_sessions.emplace(std::move(*sessions));
    }
    rt_->on_drained = [this](uint64_t id) {
        if (!master_gone_) channel_->send(ipc::encode(ipc::DrainDone{id}));
    };
    rt_->on_all_closed = [this] { finish(); };
    open_channel(UniqueFd(launch.channel_fd));
    for (const auto& l : launch.listeners) {
        auto opened = Listener::open(base_.get(), l.address, l.fd,
                                     [this](UniqueFd fd, const sockaddr* peer, const std::string& address) {
                                         rt_->accept(std::move(fd), peer, address);
                                     });
        if (!opened) return opened.error();
        listeners_.push_back(std::move(*opened));
    }
    if (launch.log_socket >= 0) {
        log_socket_.reset(launch.log_socket);
        log_event_.reset(event_new(base_.get(), launch.log_socket, EV_READ | EV_PERSIST, log_socket_cb, this));
        event_add(log_event_.get(), nullptr);
    }
    stats_timer_.reset(event_new(base_.get(), -1, EV_PERSIST, stats_cb, this));
    timeval every = to_timeval(kStatsEvery);
    evtimer_add(stats_timer_.get(), &every);
    quit_timer_.reset(evtimer_new(base_.get(), quit_timer_cb, this));
    return {};
}

int ProxyWorker::run() {
    spdlog::info("proxy worker {} running ({} listeners); waiting for its config", getpid(), listeners_.size());
    event_base_dispatch(base_.get());
    spdlog::info("proxy worker {} exiting", getpid());
    return 0;
}

void ProxyWorker::on_frame(const std::string& payload) {
    auto msg = ipc::decode(payload);
    if (!msg) {
        spdlog::error("proxy worker {}: {}", getpid(), msg.error().message);
        return;
    }
    if (auto* c = std::get_if<ipc::ProxyConfig>(&*msg)) apply_config(*c);
    else if (auto* a = std::get_if<ipc::BackendAdd>(&*msg)) add_backend(*a);
    else if (auto* d = std::get_if<ipc::BackendDrain>(&*msg)) drain_backend(d->id);
    else if (auto* r = std::get_if<ipc::BackendRemove>(&*msg)) remove_backend(r->id);
    else if (auto* q = std::get_if<ipc::Quit>(&*msg))
        begin_quit("asked by the master", q->grace_ms > 0 ? std::chrono::milliseconds(q->grace_ms) : kQuitGrace);
    else if (auto* a = std::get_if<ipc::AcmeChallenges>(&*msg)) take_acme_challenges(*a);
    else spdlog::warn("proxy worker {}: unexpected message from the master: {}", getpid(), payload);
}

void ProxyWorker::apply_config(const ipc::ProxyConfig& m) {
    auto snap = build_snapshot(m.config, m.tls_files, rt_->pools, rt_->tls_sessions ? &*rt_->tls_sessions : nullptr);
    if (!snap) {
        // The master validated it; keep serving with what we have rather than nothing.
        spdlog::error("proxy worker {}: {}; keeping the previous config", getpid(), snap.error().message);
        return;
    }
    const bool first = !rt_->snapshot;
    rt_->snapshot = std::move(*snap);
    rt_->resolver.sync(rt_->snapshot->config.upstreams);
    const auto& proxy = rt_->snapshot->config.proxy;
    rt_->access_log.set_format(proxy.access_log_format == "json" ? AccessLogFormat::json : AccessLogFormat::combined);
    // The master sent the file (if it changed) before this config: take it before the first
    // request can be served and logged.
    take_log_files();
    if (first && !quitting_)
        for (auto& l : listeners_) l->enable();
}

// Acknowledged even when a certificate did not load: the daemon then hears of the failure from
// the CA's answer rather than waiting for a reply that never comes.
void ProxyWorker::take_acme_challenges(const ipc::AcmeChallenges& m) {
    if (auto s = rt_->acme.set(m); !s) spdlog::error("proxy worker {}: {}", getpid(), s.error().message);
    channel_->send(ipc::encode(ipc::AcmeChallengesApplied{m.serial}));
}

// The master sends the access log's descriptor when a worker starts, when a config names
// another file, and after each rotation (its SIGUSR1); an invalid one means no log.
void ProxyWorker::take_log_files() {
    while (log_socket_) {
        auto got = ipc::receive_fd(log_socket_.get());
        if (!got) {
            // Neither a master nor the keeper holds the other end: no daemon can ever adopt
            // this worker, so it finishes what it has and exits.
            event_del(log_event_.get());
            log_socket_.reset();
            begin_quit("no master and no keeper left");
            return;
        }
        if (!*got) return;
        if ((*got)->note == ipc::kNewChannelNote) {
            open_channel(std::move((*got)->fd));
            continue;
        }
        rt_->access_log.use(std::move((*got)->fd), std::move((*got)->note));
    }
}

void ProxyWorker::log_socket_cb(evutil_socket_t, short, void* self) { static_cast<ProxyWorker*>(self)->take_log_files(); }

void ProxyWorker::add_backend(const ipc::BackendAdd& m) {
    auto b = make_backend(m.id, m.app, m.instance, m.host, m.port);
    if (!b) {
        spdlog::error("proxy worker {}: {}", getpid(), b.error().message);
        return;
    }
    Pool& pool = rt_->pools.app(m.app);
    pool.add(std::move(*b));
    spdlog::debug("proxy worker {}: backend {} ({}:{}) added to {}", getpid(), m.id, m.app, m.instance, m.app);
    pool.wake_waiters();
}

void ProxyWorker::drain_backend(uint64_t id) {
    rt_->idle.close_for(id);
    Pool* pool = rt_->pools.pool_of(id);
    // Unknown here (never announced, or already gone): nothing of ours is in flight to it.
    if (!pool || pool->drain(id)) channel_->send(ipc::encode(ipc::DrainDone{id}));
}

void ProxyWorker::remove_backend(uint64_t id) {
    rt_->idle.close_for(id);
    if (Pool* pool = rt_->pools.pool_of(id)) pool->remove(id);
}

void ProxyWorker::begin_quit(const char* why, std::chrono::milliseconds grace) {
    if (quitting_) return;
    quitting_ = true;
    spdlog::info("proxy worker {}: quitting ({}); {} connections open", getpid(), why, rt_->connections());
    // Our copies of the listening sockets close (the master keeps its own); the Listener
    // objects stay, since every open connection holds a view of its listener's address.
    for (auto& l : listeners_) l->close();
    grace_ = grace;
    const timeval tv = to_timeval(grace);
    evtimer_add(quit_timer_.get(), &tv);
    rt_->quit();
}

void ProxyWorker::finish() {
    if (finishing_) return;
    finishing_ = true;
    send_stats();
    if (master_gone_) {
        event_base_loopexit(base_.get(), nullptr);
        return;
    }
    channel_->on_flushed([this] { event_base_loopexit(base_.get(), nullptr); });
}

// The master died (SIGKILL, OOM, a crash): serve on with the last config and pool, as
// nginx's workers outlive their master. Workers that die meanwhile leave by passive health;
// a new daemon adopts this one through the log socket (open_channel). A master that wanted
// this worker gone says Quit first.
void ProxyWorker::on_channel_closed(const std::string& why) {
    if (quitting_) return;
    master_gone_ = true;
    if (!log_socket_) {   // no descriptor socket, so no master can ever adopt this worker
        begin_quit(("master channel: " + why).c_str());
        return;
    }
    spdlog::warn("proxy worker {}: master channel {}; serving on until a new master adopts this worker", getpid(), why);
}

void ProxyWorker::open_channel(UniqueFd fd) {
    // The old channel is dropped without a word: its peer is gone.
    channel_ = std::make_unique<ipc::Channel>(
        base_.get(), std::move(fd), [this](std::string payload) { on_frame(payload); },
        [this](const std::string& why) { on_channel_closed(why); });
    if (master_gone_) {
        master_gone_ = false;
        spdlog::info("proxy worker {}: adopted by a new master", getpid());
        send_stats();
    }
}

void ProxyWorker::send_stats() {
    if (master_gone_) return;   // nobody reads them; the next master gets fresh ones
    channel_->send(ipc::encode(
        ipc::Stats{static_cast<int>(getpid()), rt_->connections(), rt_->requests, rt_->stats.series()}));
}

void ProxyWorker::stats_cb(evutil_socket_t, short, void* self) { static_cast<ProxyWorker*>(self)->send_stats(); }

void ProxyWorker::quit_timer_cb(evutil_socket_t, short, void* self) {
    auto* w = static_cast<ProxyWorker*>(self);
    spdlog::warn("proxy worker {}: {} connections still open after {} ms; exiting", getpid(),
                 w->rt_->connections(), w->grace_.count());
    event_base_loopexit(w->base_.get(), nullptr);
}

}  // namespace

int run_proxy_worker(const ipc::ProxyLaunch& launch) {
    // Writes to a client that went away must fail with EPIPE, not kill the process. SIGINT
    // from a terminal reaches the whole process group: the master decides when we stop.
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    set_log_format("", "%+");  // the master's choice, through NODEEDGE_LOG_FORMAT
    ProxyWorker w;
    if (auto st = w.init(launch); !st) {
        spdlog::error("proxy worker {}: {}", getpid(), st.error().message);
        return 1;
    }
    return w.run();
}

}  // namespace ne::proxy
