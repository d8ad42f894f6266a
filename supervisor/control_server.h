// The daemon's control socket: $NODEEDGE_HOME/daemon.sock (mode 0600 in a 0700 folder), and
// only peers with our uid (or root) are served, checked with SO_PEERCRED. Each connection
// carries one request and gets one reply, which the handler may give later (start waits for
// workers to be ready).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "ipc/channel.h"
#include "ipc/event_ptr.h"
#include "ipc/result.h"

namespace ne::supervisor {

class ControlServer {
public:
    // reply() may be called once, now or later; calling it after the client left is harmless.
    using Reply = std::function<void(const nlohmann::json&)>;
    using Handler = std::function<void(const nlohmann::json& request, Reply reply)>;

    ControlServer(event_base* base, Handler handler);
    ~ControlServer();
    Status listen(const std::string& path);

private:
    struct Conn;
    static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* self);
    void accept(int fd);

    event_base* base_;
    Handler handler_;
    std::string path_;
    ListenerPtr listener_;
    uint64_t next_conn_ = 0;
    std::map<uint64_t, std::unique_ptr<Conn>> conns_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace ne::supervisor
