// What a daemon needs to take over a running set of workers instead of starting one: the
// descriptors that kept it alive (by name, from the keeper after a crash, or inherited across
// `upgrade`'s execve), the Node workers as state.db recorded them, and the proxy workers'
// pids. One struct whatever its source, so adoption is one code path (Master::adopt_*,
// App::adopt, Worker::adopt, ProxyWorkers::adopt).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipc/unique_fd.h"
#include "supervisor/state_db.h"

namespace ne::supervisor {

struct ProxyRecord {
    pid_t pid = 0;
    unsigned long long start_ticks = 0;   // with the pid, the process' identity
};

struct Takeover {
    std::map<std::string, UniqueFd> fds;
    std::vector<WorkerRow> workers;
    std::vector<ProxyRecord> proxies;

    // The descriptor held under `name`, moved out (invalid when there is none).
    UniqueFd take(const std::string& name);
    bool empty() const { return fds.empty(); }
};

// Descriptor names, shared by the keeper and the upgrade hand-over.
std::string worker_fd_name(uint64_t worker_id, std::string_view stream);   // "out:7", "err:7", "ipc:7"
std::string proxy_fd_name(pid_t pid);                                      // "proxy:1234"
std::string listener_fd_name(const std::string& address);                 // "listen:127.0.0.1:8080"

// state.db's meta "proxy_workers": [{pid, start_ticks}].
nlohmann::json proxy_records_json(const std::vector<ProxyRecord>& records);
std::vector<ProxyRecord> proxy_records_from_json(const nlohmann::json& j);

}  // namespace ne::supervisor
