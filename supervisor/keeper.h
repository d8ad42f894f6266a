// The keeper: a tiny process (`nodeedge __keeper`) that holds a copy of every descriptor the
// running set cannot lose when the daemon dies: the read ends of the Node workers' stdout,
// stderr and IPC pipes (closed, a worker's next write would get EPIPE and its lines would be
// lost), the listening sockets, the proxy workers' shared-memory zones and the master's end of
// each proxy worker's descriptor socket (through which a new master hands it a new channel).
// It reads nothing and decides nothing; it only keeps descriptors open under a name, and hands
// copies to whichever daemon connects to $NODEEDGE_HOME/keeper.sock next. A daemon that starts
// and finds a keeper takes over the running set (supervisor/takeover.h); one that finds none
// starts a keeper. While no daemon runs, the kernel's pipe buffers (1 MiB each, raised at
// spawn) hold what the workers write.
//
// The protocol is fd_passing messages (SOCK_SEQPACKET, one note and at most one descriptor):
//   "put NAME" + fd     keep fd under NAME (replacing the one held under it)
//   "drop NAME"         close it
//   "list"              the keeper answers "fd NAME" + fd for each, then "end"
//   "quit"              the daemon stopped cleanly: close everything and exit
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::supervisor {

// The hidden verb of the keeper process; its listening socket is inherited as descriptor 3.
inline constexpr std::string_view kKeeperVerb = "__keeper";

// The keeper process's body: serves the socket on `listen_fd` until told to quit.
int run_keeper(int listen_fd);

// The daemon's side of the keeper. Every call is blocking and short (a local SEQPACKET socket
// the keeper reads at once); a failure is logged once and the daemon carries on without
// crash survival rather than failing requests.
class Keeper {
public:
    // Connects to a running keeper; nullptr when there is none (no socket, or nobody listens).
    static Result<std::unique_ptr<Keeper>> connect(const std::string& home);
    // Binds keeper.sock and fork/execs `exe __keeper` on it, then connects.
    static Result<std::unique_ptr<Keeper>> start(const std::string& home, const std::string& exe);

    // Copies of everything held, by name.
    Result<std::map<std::string, UniqueFd>> list();
    void put(const std::string& name, int fd);
    void drop(const std::string& name);
    // Drops every name not put by this daemon (what a takeover did not adopt).
    void drop_unclaimed(const std::vector<std::string>& listed);
    void quit();

private:
    explicit Keeper(UniqueFd conn) : conn_(std::move(conn)) {}
    void send(int fd, const std::string& note);
    UniqueFd conn_;
    std::set<std::string> claimed_;
    bool warned_ = false;
};

}  // namespace ne::supervisor
