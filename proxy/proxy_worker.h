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

// Runs until Quit or until the master's channel closes; returns the process exit code.
// `zone_fd`: the rate-limit zone the master created (proxy/shared_zone.h), or -1.
// `cache_fd`: the response cache's index (proxy/cache_index.h), or -1.
int run_proxy_worker(int channel_fd, const std::vector<InheritedListener>& listeners, int zone_fd, int cache_fd);

}  // namespace ne::proxy
