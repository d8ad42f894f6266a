#include "proxy/upstream/pool.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cstring>

#include "ipc/net.h"

namespace ne::proxy {

namespace {

std::string label(const std::string& host, int port) { return config::ListenAddr{host, port, {}}.str(); }

bool numeric_host(const std::string& host) {
    in6_addr a{};
    return inet_pton(AF_INET, host.c_str(), &a) == 1 || inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

void apply_settings(Backend& b, const config::UpstreamServer& s) {
    b.weight = std::max(1, s.weight);
    b.max_fails = s.max_fails;
    b.fail_timeout = s.fail_timeout;
}

}  // namespace

Result<std::shared_ptr<Backend>> make_backend(uint64_t id, std::string pool, int instance,
                                              const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string service = std::to_string(port);
    int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
    if (rc == EAI_NONAME) {
        hints.ai_flags = AI_NUMERICSERV;
        rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
    }
    if (rc != 0) return Error{"backend " + label(host, port) + " of " + pool + ": " + gai_strerror(rc)};
    auto b = std::make_shared<Backend>();
    b->id = id;
    b->pool = std::move(pool);
    b->instance = instance;
    b->address = label(host, port);
    std::memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
    b->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return b;
}

Backend* Pool::find(uint64_t id) const {
    for (auto& b : backends_)
        if (b->id == id) return b.get();
    return nullptr;
}

void Pool::add(std::shared_ptr<Backend> b) {
    if (find(b->id)) return;
    b->admin = Backend::Admin::ready;
    backends_.push_back(std::move(b));
}

bool Pool::drain(uint64_t id) {
    Backend* b = find(id);
    if (!b) return true;
    b->admin = Backend::Admin::draining;
    if (b->in_flight > 0 || b->drain_reported) return false;
    b->drain_reported = true;
    return true;
}

std::shared_ptr<Backend> Pool::remove(uint64_t id) {
    auto it = std::find_if(backends_.begin(), backends_.end(), [id](auto& b) { return b->id == id; });
    if (it == backends_.end()) return nullptr;
    auto b = std::move(*it);
    backends_.erase(it);
    b->admin = Backend::Admin::removed;
    return b;
}

size_t Pool::ready_count() const {
    return std::count_if(backends_.begin(), backends_.end(),
                         [](auto& b) { return b->admin == Backend::Admin::ready; });
}

void Pool::begin_request(Backend& b) { ++b.in_flight; }

bool Pool::end_request(Backend& b) {
    if (b.in_flight > 0) --b.in_flight;
    if (b.admin != Backend::Admin::draining || b.in_flight > 0 || b.drain_reported) return false;
    b.drain_reported = true;
    return true;
}

void Pool::note_failure(Backend& b, Clock::time_point now) {
    if (b.max_fails <= 0) return;
    if (++b.fails >= b.max_fails) {
        b.down_until = now + b.fail_timeout;
        b.fails = 0;
    }
}

void Pool::note_success(Backend& b) { b.fails = 0; }

bool Pool::enqueue(PoolWaiter& w) {
    if (w.queued_) return true;
    if (waiters_.size() >= kMaxWaiting) return false;
    w.pos_ = waiters_.insert(waiters_.end(), &w);
    w.queued_ = true;
    return true;
}

void Pool::cancel(PoolWaiter& w) {
    if (!w.queued_) return;
    waiters_.erase(w.pos_);
    w.queued_ = false;
}

void Pool::wake_waiters() {
    // One at a time: a woken request may fail, finish, or even wake others synchronously.
    while (!waiters_.empty() && has_ready()) {
        PoolWaiter* w = waiters_.front();
        cancel(*w);
        w->on_backend_ready();
    }
}

Pool& PoolSet::app(const std::string& name) {
    auto& p = apps_[name];
    if (!p) p = std::make_unique<Pool>(name);
    return *p;
}

Pool& PoolSet::upstream(const std::string& name) {
    auto& p = upstreams_[name];
    if (!p) p = std::make_unique<Pool>(name);
    return *p;
}

Pool* PoolSet::pool_of(uint64_t id) {
    for (auto& [n, p] : apps_)
        if (p->find(id)) return p.get();
    return nullptr;
}

std::vector<Error> PoolSet::sync_upstreams(const std::vector<config::Upstream>& ups) {
    std::vector<Error> errors;
    for (const auto& u : ups) {
        Pool& pool = upstream(u.name);
        std::vector<std::shared_ptr<Backend>> keep;
        for (const auto& s : u.servers) {
            auto hp = net::split_host_port(s.address);
            if (!hp) {
                errors.push_back(hp.error().wrap("upstream " + u.name));
                continue;
            }
            if (!numeric_host(hp->host)) {
                for (auto& old : pool.backends())
                    if (old && old->origin == s.address) {
                        apply_settings(*old, s);
                        keep.push_back(std::move(old));
                    }
                continue;
            }
            std::shared_ptr<Backend> b;
            for (auto& old : pool.backends())
                if (old && old->origin.empty() && old->address == label(hp->host, hp->port)) b = std::move(old);
            if (!b) {
                auto made = make_backend(next_local_id_++, u.name, 0, hp->host, hp->port);
                if (!made) {
                    errors.push_back(made.error());
                    continue;
                }
                b = std::move(*made);
            }
            apply_settings(*b, s);
            keep.push_back(std::move(b));
        }
        for (auto& old : pool.backends())
            if (old) old->admin = Backend::Admin::removed;
        pool.backends() = std::move(keep);
    }
    // An [[upstreams]] entry that left the config keeps its (empty) pool: nothing routes to it.
    for (auto& [name, pool] : upstreams_) {
        // Not [&]: clang 14 cannot capture a structured binding.
        bool listed = std::any_of(ups.begin(), ups.end(), [&n = name](auto& u) { return u.name == n; });
        if (listed) continue;
        for (auto& old : pool->backends()) old->admin = Backend::Admin::removed;
        pool->backends().clear();
    }
    return errors;
}

bool PoolSet::set_resolved(const std::string& upstream_name, const config::UpstreamServer& server, int port,
                           const std::vector<std::string>& ips) {
    Pool& pool = upstream(upstream_name);
    bool changed = false;
    std::vector<std::shared_ptr<Backend>> next;
    for (auto& b : pool.backends()) {
        bool listed = b->origin != server.address ||
                      std::any_of(ips.begin(), ips.end(), [&](const std::string& ip) { return b->address == label(ip, port); });
        if (listed) {
            next.push_back(b);
        } else {
            b->admin = Backend::Admin::removed;
            changed = true;
        }
    }
    for (const auto& ip : ips) {
        bool known = std::any_of(next.begin(), next.end(), [&](auto& b) {
            return b->origin == server.address && b->address == label(ip, port);
        });
        if (known) continue;
        auto made = make_backend(next_local_id_++, upstream_name, 0, ip, port);
        if (!made) continue;  // not an address: the resolver only hands us numeric ones
        (*made)->origin = server.address;
        apply_settings(**made, server);
        next.push_back(std::move(*made));
        changed = true;
    }
    pool.backends() = std::move(next);
    if (changed) pool.wake_waiters();
    return changed;
}

}  // namespace ne::proxy
