// Socket helpers shared by the master (listeners, readiness probes) and the proxy.
#pragma once

#include <string>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::net {

// A bound, listening, non-blocking, close-on-exec TCP socket (SO_REUSEADDR).
// host may be an IPv4/IPv6 literal or "localhost"; errors name the address.
Result<UniqueFd> listen_tcp(const std::string& host, int port, int backlog = 4096);

// A non-blocking socket with a connect() in progress (or done) to host:port.
Result<UniqueFd> connect_tcp_nonblocking(const std::string& host, int port);

// Split "host:port" / "[v6]:port". Error names the text.
struct HostPort { std::string host; int port = 0; };
Result<HostPort> split_host_port(const std::string& text);

}  // namespace ne::net
