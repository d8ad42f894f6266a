// Is a new worker ready? Either its PORT accepts a TCP connection on a listening socket that its
// own process tree holds (probed every 100 ms on the loop; another program on the port is not the
// worker), or - with wait_ready - it called process.send('ready') over Node's IPC channel
// (newline-delimited JSON on NODE_CHANNEL_FD, as PM2 reads it).
#pragma once

#include <sys/types.h>

#include <event2/event.h>

#include <functional>
#include <string>

#include "ipc/event_ptr.h"
#include "ipc/unique_fd.h"

namespace ne::supervisor {

class PortProbe {
public:
    // Calls on_ready once host:port (e.g. "127.0.0.1") accepts a connection and the listening
    // socket belongs to `owner` or one of its descendants; the probe connection is closed at
    // once. Never gives up by itself: the caller owns the listen_timeout and destroys the probe.
    // on_ready may destroy the probe.
    PortProbe(event_base* base, std::string host, int port, pid_t owner, std::function<void()> on_ready);
    ~PortProbe();

private:
    static void on_timer(evutil_socket_t, short, void* self);
    static void on_connect(evutil_socket_t, short what, void* self);
    void try_connect();
    void connect_done(short what);
    void retry_later();
    bool connected_to_other() const;
    bool listener_is_owners() const;
    event_base* base_;
    std::string host_;
    int port_;
    pid_t owner_;
    std::function<void()> on_ready_;
    EventPtr timer_;
    EventPtr conn_ev_;
    UniqueFd conn_;
};

// Reads Node's IPC channel (the fd stays owned by the caller and must be non-blocking, as
// spawn() makes it). Calls on_ready once, when the first message equal to the string "ready"
// arrives (process.send('ready') serialises as "\"ready\"\n"); other messages are read and
// discarded, so the app never blocks on a full channel. on_close runs once when the channel
// closes (the worker exited or closed it). Either callback may destroy the reader.
class NodeIpcReader {
public:
    NodeIpcReader(event_base* base, int fd, std::function<void()> on_ready,
                  std::function<void()> on_close = {});
    ~NodeIpcReader();

private:
    static void on_readable(evutil_socket_t, short, void* self);
    void read_some();
    bool scan_lines();           // true when a "ready" message was in the new lines
    int fd_;
    std::function<void()> on_ready_;
    std::function<void()> on_close_;
    std::string buf_;
    bool discarding_ = false;    // inside a message too long to be "ready"
    EventPtr ev_;
};

}  // namespace ne::supervisor
