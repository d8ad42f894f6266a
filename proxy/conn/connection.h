// What a proxy worker's Runtime owns for each accepted connection, whatever it speaks: a TLS
// handshake in progress, an HTTP/1.1 ClientConn, an HTTP/2 session (whose streams are
// ClientConns too), and the facts a connection is born with.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <string_view>

#include "proxy/upstream/relay.h"

namespace ne::proxy {

class Connection {
public:
    virtual ~Connection() = default;
    // Called once the runtime owns it: callbacks may run (and close it) from here on.
    virtual void start() = 0;
    // The worker is quitting: close now when idle, else after the work in hand.
    virtual void quit() = 0;
};

// Where a client connection came from. `listen` is the address string of the listener it
// came in on, which outlives every connection; `scheme` is "https" behind TLS (also for
// HTTP/2 streams), "http" otherwise. `output_high`: how much response the connection's output
// may hold before its source (backend, file) stops being read, resumed below half of it; an
// HTTP/2 stream's ClientConn holds less, its stream buffers more behind it.
struct ConnFacts {
    const sockaddr* peer = nullptr;
    std::string_view listen;
    std::string_view scheme = "http";
    size_t output_high = kHighWatermark;
};

}  // namespace ne::proxy
