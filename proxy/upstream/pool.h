// The backends of one upstream (an app's ready workers, or a [[upstreams]] list) as plain data,
// and the bounded queue of requests waiting for one of them to become ready.
//
// Membership comes only from the master (BackendAdd/Drain/Remove) or from the config for
// [[upstreams]]. A removed backend leaves the pool at once but lives on while a connection still
// holds it (shared_ptr: nginx's zombie + refs), so a late response can still be accounted for.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "ipc/result.h"

namespace ne::proxy {

using Clock = std::chrono::steady_clock;

struct Backend : std::enable_shared_from_this<Backend> {
    // Intent, set by the master; health (below) is ours and kept apart, as HAProxy keeps
    // administrative and operational state apart.
    enum class Admin : uint8_t { ready, draining, removed };

    uint64_t id = 0;
    std::string pool;            // app or [[upstreams]] name
    int instance = 0;
    std::string address;         // "127.0.0.1:3001", for logs and config matching
    std::string origin;          // [[upstreams]] server given by name: its "name:port"; else ""
    sockaddr_storage addr{};     // resolved once, so connecting never blocks on DNS
    socklen_t addr_len = 0;

    int weight = 1;
    int max_fails = 1;           // 0: never marked down
    std::chrono::milliseconds fail_timeout{10000};

    Admin admin = Admin::ready;
    int fails = 0;               // consecutive failures since the last success
    Clock::time_point down_until{};
    uint32_t in_flight = 0;      // requests of this proxy worker using it now
    int current_weight = 0;      // smooth weighted round robin state (nginx's current_weight)
    bool drain_reported = false;

    bool up(Clock::time_point now) const { return now >= down_until; }
};

// Resolves "host:port" (numeric first, so announced workers never touch DNS) into a Backend.
Result<std::shared_ptr<Backend>> make_backend(uint64_t id, std::string pool, int instance,
                                              const std::string& host, int port);

// A request parked until its pool has a ready backend. Queued at most once.
class PoolWaiter {
public:
    virtual void on_backend_ready() = 0;

protected:
    ~PoolWaiter() = default;

private:
    friend class Pool;
    std::list<PoolWaiter*>::iterator pos_;
    bool queued_ = false;
};

class Pool {
public:
    // Requests waiting for a backend beyond this get 503 at once: memory stays bounded.
    static constexpr size_t kMaxWaiting = 1024;

    explicit Pool(std::string name) : name_(std::move(name)) {}
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    const std::string& name() const { return name_; }
    std::vector<std::shared_ptr<Backend>>& backends() { return backends_; }
    const std::vector<std::shared_ptr<Backend>>& backends() const { return backends_; }
    Backend* find(uint64_t id) const;

    // An id already present is left as it is (a repeated announcement changes nothing).
    void add(std::shared_ptr<Backend> b);
    // Stops choosing it. True when nothing is in flight, i.e. the drain is already complete.
    bool drain(uint64_t id);
    // Forgets it; the returned pointer keeps it alive for whoever still holds it.
    std::shared_ptr<Backend> remove(uint64_t id);

    size_t ready_count() const;
    bool has_ready() const { return ready_count() > 0; }

    // A request starts / ends on `b`. end() returns true when it completed a drain, i.e. the
    // master must now be told DrainDone (reported once).
    static void begin_request(Backend& b);
    static bool end_request(Backend& b);
    // Passive health: after max_fails failures in a row, no new requests for fail_timeout.
    static void note_failure(Backend& b, Clock::time_point now);
    static void note_success(Backend& b);

    // False when the queue is full.
    bool enqueue(PoolWaiter& w);
    void cancel(PoolWaiter& w);
    size_t waiting() const { return waiters_.size(); }
    // Hands ready backends to waiting requests, oldest first, while there are ready backends.
    void wake_waiters();

private:
    std::string name_;
    std::vector<std::shared_ptr<Backend>> backends_;
    std::list<PoolWaiter*> waiters_;
};

// Every pool of one proxy worker: one per app (members announced by the master) and one per
// [[upstreams]] (members from the config). Pools are never deleted, so a Pool* stays valid
// across config changes.
class PoolSet {
public:
    Pool& app(const std::string& name);
    Pool& upstream(const std::string& name);
    // The pool holding backend `id` (app pools only: [[upstreams]] members have local ids).
    Pool* pool_of(uint64_t id);

    // Makes each [[upstreams]] pool hold exactly the configured servers, keeping the state
    // (fails, in-flight, round-robin position) of those that stay. Errors name the address;
    // a server that cannot be resolved is left out.
    // Servers given by a DNS name are left to set_resolved() (no lookup blocks the loop here);
    // the backends resolved for them so far stay.
    std::vector<Error> sync_upstreams(const std::vector<config::Upstream>& ups);
    // The addresses `server` (a "name:port" of [[upstreams]] `upstream`) resolves to now:
    // backends for new addresses join, those for vanished ones leave. True when it changed.
    bool set_resolved(const std::string& upstream, const config::UpstreamServer& server, int port,
                      const std::vector<std::string>& ips);

    template <class Fn>
    void for_each(Fn&& fn) {
        for (auto& [n, p] : apps_) fn(*p);
        for (auto& [n, p] : upstreams_) fn(*p);
    }

private:
    std::map<std::string, std::unique_ptr<Pool>, std::less<>> apps_;
    std::map<std::string, std::unique_ptr<Pool>, std::less<>> upstreams_;
    // Ids of config-defined servers live apart from the master's ids.
    uint64_t next_local_id_ = uint64_t{1} << 63;
};

}  // namespace ne::proxy
