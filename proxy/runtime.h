// What every connection of one proxy worker shares: the loop, the current config snapshot,
// the pools and idle upstream connections, request ids, counters, and the open client
// connections themselves. Owned by the ProxyWorker; connections get a Runtime&.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "ipc/unique_fd.h"
#include "proxy/pool.h"
#include "proxy/reaper.h"
#include "proxy/request_id.h"
#include "proxy/snapshot.h"
#include "proxy/upstream_conn.h"

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
    IdleConnections idle;
    RequestIds ids;
    std::shared_ptr<const Snapshot> snapshot;   // null until the first valid ProxyConfig
    uint64_t requests = 0;                      // answered since start
    bool quitting = false;

    // A draining backend has nothing in flight any more: tell the master (DrainDone).
    std::function<void(uint64_t backend_id)> on_drained;
    // The last connection closed while quitting.
    std::function<void()> on_all_closed;

    // Takes over an accepted client socket that came in on `listen` (an address string that
    // outlives the connection).
    void accept(UniqueFd fd, const sockaddr* peer, std::string_view listen);
    // Called by a connection that is finished; it is destroyed from the loop.
    void close(ClientConn& c);
    size_t connections() const { return conns_.size(); }
    // Quit: idle connections close now, busy ones after their current response.
    void quit();

    // A request on `b` ended (in any way); reports a completed drain.
    void end_request(Backend& b);

private:
    std::unordered_map<ClientConn*, std::unique_ptr<ClientConn>> conns_;
};

}  // namespace ne::proxy
