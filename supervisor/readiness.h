// Is a new worker ready? Either its PORT accepts a TCP connection (probed every 100 ms on the
// loop), or - with wait_ready - it called process.send('ready') over Node's IPC channel
// (newline-delimited JSON on NODE_CHANNEL_FD, as PM2 reads it).
#pragma once

#include <event2/event.h>

#include <functional>
#include <string>

#include "ipc/event_ptr.h"
#include "ipc/unique_fd.h"

namespace ne::supervisor {

class PortProbe {
public:
    // Calls on_ready once 127.0.0.1:port (or host) accepts a connection. Never gives up by
    // itself: the caller owns the listen_timeout and destroys the probe.
    PortProbe(event_base* base, std::string host, int port, std::function<void()> on_ready);
    ~PortProbe();

private:
    static void on_timer(evutil_socket_t, short, void* self);
    static void on_connect(evutil_socket_t, short, void* self);
    void try_connect();
    event_base* base_;
    std::string host_;
    int port_;
    std::function<void()> on_ready_;
    EventPtr timer_;
    EventPtr conn_ev_;
    UniqueFd conn_;
};

// Reads Node's IPC channel; calls on_ready when a message equal to the string "ready" arrives
// (process.send('ready') serialises as "\"ready\"\n"). on_close when the channel closes.
class NodeIpcReader {
public:
    NodeIpcReader(event_base* base, int fd, std::function<void()> on_ready);
    ~NodeIpcReader();

private:
    static void on_readable(evutil_socket_t, short, void* self);
    int fd_;
    std::function<void()> on_ready_;
    std::string buf_;
    EventPtr ev_;
};

}  // namespace ne::supervisor
