#include "proxy/listener.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "proxy/to_timeval.h"

namespace ne::proxy {

Listener::Listener(event_base* base, std::string address, OnAccept on_accept)
    : address_(std::move(address)), on_accept_(std::move(on_accept)), resume_(evtimer_new(base, resume_cb, this)) {}

Result<std::unique_ptr<Listener>> Listener::open(event_base* base, std::string address, int fd, OnAccept on_accept) {
    UniqueFd owned(fd);
    evutil_make_socket_nonblocking(fd);
    std::unique_ptr<Listener> l(new Listener(base, std::move(address), std::move(on_accept)));
    // REUSEABLE only matters for sockets libevent binds itself; here it documents that the
    // socket is shared. Accepted sockets get CLOEXEC so nothing leaks into a child.
    l->listener_.reset(evconnlistener_new(base, accept_cb, l.get(),
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
                                              LEV_OPT_DISABLED,
                                          // 0: the master already called listen() with its
                                          // backlog; -1 would shrink it to libevent's 128.
                                          0, fd));
    if (!l->listener_) return Error::from_errno("listen on inherited fd " + std::to_string(fd) + " (" + l->address_ + ")");
    owned.release();
    evconnlistener_set_error_cb(l->listener_.get(), error_cb);
    return l;
}

void Listener::enable() {
    if (!listener_) return;   // closed
    enabled_ = true;
    evconnlistener_enable(listener_.get());
}

void Listener::disable() {
    enabled_ = false;
    evtimer_del(resume_.get());
    if (listener_) evconnlistener_disable(listener_.get());
}

void Listener::close() {
    disable();
    listener_.reset();
}

void Listener::accept_cb(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int, void* self) {
    auto* l = static_cast<Listener*>(self);
    UniqueFd owned(fd);
    try {
        l->on_accept_(std::move(owned), peer, l->address_);
    } catch (const std::exception& e) {
        spdlog::error("accept on {}: {}", l->address_, e.what());
    }
}

void Listener::error_cb(evconnlistener*, void* self) {
    auto* l = static_cast<Listener*>(self);
    int err = EVUTIL_SOCKET_ERROR();
    // Out of fds (EMFILE/ENFILE) the socket stays readable and accept keeps failing: pause
    // accepting briefly instead of spinning, as nginx does.
    spdlog::error("accept on {}: {}; pausing accepts for 100 ms", l->address_, evutil_socket_error_to_string(err));
    evconnlistener_disable(l->listener_.get());
    timeval tv = to_timeval(std::chrono::milliseconds{100});
    evtimer_add(l->resume_.get(), &tv);
}

void Listener::resume_cb(evutil_socket_t, short, void* self) {
    auto* l = static_cast<Listener*>(self);
    if (l->enabled_) evconnlistener_enable(l->listener_.get());
}

}  // namespace ne::proxy
