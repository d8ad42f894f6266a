// One proxy worker process: its own event_base, the channel to the master, and the listening
// sockets it inherited. It routes requests per the last ProxyConfig and only to backends the
// master announced (BackendAdd), and answers drains (BackendDrain -> DrainDone).
#pragma once

#include "ipc/proxy_launch.h"

namespace ne::proxy {

// Runs with what the master handed down (its channel, the access log's socket, the listeners and
// the shared zones: proxy/limits/rate_limit_zone.h, proxy/cache/index.h,
// proxy/tls/session_cache.h; a zone of -1 is not there) until Quit or until the master's
// channel closes; returns the process exit code.
int run_proxy_worker(const ipc::ProxyLaunch& launch);

}  // namespace ne::proxy
