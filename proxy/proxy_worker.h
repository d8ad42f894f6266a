// One proxy worker process: its own event_base, the channel to the master, and the listening
// sockets it inherited. It routes requests per the last ProxyConfig and only to backends the
// master announced (BackendAdd), and answers drains (BackendDrain -> DrainDone).
#pragma once

#include <string>
#include <vector>

namespace ne::proxy {

struct InheritedListener {
    std::string address;   // "127.0.0.1:8080", as in [[servers]] listen
    int fd = -1;           // already bound and listening (opened by the master)
};

// The memfds the master shares with every proxy worker; -1: not there.
struct InheritedZones {
    int rate_limit = -1;     // proxy/limits/rate_limit_zone.h
    int cache = -1;          // the response cache's index, proxy/cache/index.h
    int tls_sessions = -1;   // proxy/tls/session_cache.h
};

// Runs until Quit or until the master's channel closes; returns the process exit code.
// `log_socket`: where the master sends the access log's descriptor (ipc/fd_passing.h).
int run_proxy_worker(int channel_fd, int log_socket, const std::vector<InheritedListener>& listeners,
                     const InheritedZones& zones);

}  // namespace ne::proxy
