// Accepting on a listening socket inherited from the master. Several proxy workers accept on
// the same socket; the kernel hands each connection to one of them.
#pragma once

#include <sys/socket.h>

#include <functional>
#include <string>

#include "ipc/event_ptr.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::proxy {

class Listener {
public:
    using OnAccept = std::function<void(UniqueFd fd, const sockaddr* peer, const std::string& address)>;

    // Takes ownership of fd (closed with the listener). Accepting starts with enable().
    static Result<std::unique_ptr<Listener>> open(event_base* base, std::string address, int fd, OnAccept on_accept);
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    void enable();
    void disable();
    // Closes this worker's copy of the socket for good. The address stays: the connections
    // accepted here keep a view of it while a quitting worker finishes them.
    void close();
    const std::string& address() const { return address_; }

private:
    Listener(event_base* base, std::string address, OnAccept on_accept);
    static void accept_cb(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int len, void* self);
    static void error_cb(evconnlistener*, void* self);
    static void resume_cb(evutil_socket_t, short, void* self);

    std::string address_;
    OnAccept on_accept_;
    ListenerPtr listener_;
    EventPtr resume_;       // re-enables accepting after running out of fds
    bool enabled_ = false;
};

}  // namespace ne::proxy
