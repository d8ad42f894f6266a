// The proxy workers' request counters summed, as the master sees them. Each proxy worker
// reports cumulative counters since it started; when one exits (quit, crash, re-fork), its last
// report is kept in a retired sum, so the totals never go backwards and a re-forked worker
// starting again from zero does not reset them.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "ipc/messages.h"

namespace ne::supervisor {

class ProxyTotals {
public:
    // The latest report of a live proxy worker.
    void update(pid_t pid, const ipc::Stats& s);
    // The proxy worker exited: its last report becomes part of the totals for good.
    void retire(pid_t pid);

    // Every series, summed over live and retired workers; locations first, then upstreams,
    // each sorted by labels.
    std::vector<ipc::RequestSeries> series() const;
    uint64_t connections() const;   // open client connections now (live workers)
    uint64_t requests() const;      // answered since the daemon started

private:
    using Key = std::tuple<ipc::RequestSeries::Kind, std::string, std::string>;
    static Key key(const ipc::RequestSeries& s) { return {s.kind, s.server, s.name}; }
    static void add_into(std::map<Key, ipc::RequestSeries>& into, const std::vector<ipc::RequestSeries>& from);

    std::map<pid_t, ipc::Stats> live_;
    std::map<Key, ipc::RequestSeries> retired_;
    uint64_t retired_requests_ = 0;
};

}  // namespace ne::supervisor
