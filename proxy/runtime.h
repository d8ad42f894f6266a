// What every connection of one proxy worker shares: the loop, the current config snapshot,
// the pools and idle upstream connections, request ids, counters, and the open client
// connections themselves. Owned by the ProxyWorker; connections get a Runtime&.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "ipc/event_ptr.h"
#include "ipc/unique_fd.h"
#include "proxy/conn/connection.h"
#include "proxy/log/access_log.h"
#include "proxy/cache/file.h"
#include "proxy/cache/fill_events.h"
#include "proxy/http/gzip.h"
#include "proxy/upstream/pool.h"
#include "proxy/reaper.h"
#include "proxy/http/request_id.h"
#include "proxy/limits/rate_limit_zone.h"
#include "proxy/snapshot.h"
#include "proxy/log/stats_table.h"
#include "proxy/tls/acme_answers.h"
#include "proxy/tls/session_cache.h"
#include "proxy/upstream/resolver.h"
#include "proxy/upstream/upstream_conn.h"

namespace ne::proxy {

class ClientConn;

class Runtime {
public:
    Runtime(event_base* base, uint64_t seed_hi, uint64_t seed_lo);
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    event_base* const base;
    Reaper reaper;
    PoolSet pools;
    UpstreamResolver resolver{base, pools};     // [[upstreams]] servers given by DNS name
    IdleConnections idle;
    RequestIds ids;
    GzipEncoders gzip;                          // idle encoders, reused across responses
    std::unique_ptr<CacheStore> cache;          // null: no cache zone, nothing is cached
    std::optional<CacheFillEvents> cache_fills; // wakes `lock` waiters; none: they wait out lock_timeout
    AccessLog access_log;
    std::optional<SharedZone> zone;             // rate-limit buckets shared by every proxy worker
    std::optional<TlsSessionCache> tls_sessions;  // shared by every proxy worker; outlives the snapshots
    std::shared_ptr<const Snapshot> snapshot;   // null until the first valid ProxyConfig
    AcmeAnswers acme;                           // the ACME challenges the daemon asked us to answer
    uint64_t requests = 0;                      // answered since start
    StatsTable stats;                           // per location / upstream, for metrics
    bool quitting = false;

    // A draining backend has nothing in flight any more: tell the master (DrainDone).
    std::function<void(uint64_t backend_id)> on_drained;
    // The last connection closed while quitting.
    std::function<void()> on_all_closed;

    // Takes over an accepted client socket that came in on `listen` (an address string that
    // outlives the connection): a TLS handshake when the listen address serves TLS in the
    // current snapshot, else an HTTP/1.1 connection.
    void accept(UniqueFd fd, const sockaddr* peer, std::string_view listen);
    // Owns and starts a connection born elsewhere (after a TLS handshake, an HTTP/2 stream).
    void adopt(std::unique_ptr<Connection> c);
    // An HTTP/1.1 connection over `bev` (a socket, TLS after its handshake, an HTTP/2 stream).
    void adopt_http1(BuffereventPtr bev, const ConnFacts& facts);
    // Called by a connection that is finished; it is destroyed from the loop.
    void close(Connection& c);
    size_t connections() const { return conns_.size(); }
    // Quit: idle connections close now, busy ones after their current response.
    void quit();

    // A request on `b` ended (in any way); reports a completed drain.
    void end_request(Backend& b);

private:
    std::unordered_map<Connection*, std::unique_ptr<Connection>> conns_;
};

}  // namespace ne::proxy
