#include "supervisor/control_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc/control.h"
#include "ipc/unique_fd.h"

namespace ne::supervisor {

struct ControlServer::Conn {
    std::unique_ptr<ipc::Channel> channel;
    bool answered = false;
};

ControlServer::ControlServer(event_base* base, Handler handler) : base_(base), handler_(std::move(handler)) {}

ControlServer::~ControlServer() {
    *alive_ = false;
    if (!path_.empty()) ::unlink(path_.c_str());
}

Status ControlServer::listen(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path)
        return Error{"control socket path too long (" + std::to_string(path.size()) + " bytes): " + path};
    std::copy(path.begin(), path.end(), addr.sun_path);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return Error::from_errno("socket for " + path);
    ::unlink(path.c_str());  // a stale socket from a daemon that died; the pid lock says we are alone
    mode_t old = ::umask(0177);
    int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::umask(old);
    if (rc != 0) return Error::from_errno("bind " + path);
    ::chmod(path.c_str(), 0600);
    if (::listen(fd.get(), 64) != 0) return Error::from_errno("listen " + path);
    listener_.reset(evconnlistener_new(base_, on_accept, this, LEV_OPT_CLOSE_ON_FREE, -1, fd.release()));
    if (!listener_) return Error{"evconnlistener on " + path};
    path_ = path;
    return {};
}

void ControlServer::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* self) {
    static_cast<ControlServer*>(self)->accept(fd);
}

void ControlServer::accept(int raw) {
    UniqueFd fd(raw);
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        (cred.uid != ::geteuid() && cred.uid != 0)) {
        spdlog::warn("control socket: refused a client with uid {} (pid {})", cred.uid, cred.pid);
        std::string reply = ipc::control::fail("permission denied: the daemon belongs to another user").dump();
        (void)ipc::write_frame(fd.get(), reply);
        return;
    }
    uint64_t key = next_conn_++;
    auto conn = std::make_unique<Conn>();
    Conn* c = conn.get();
    auto alive = alive_;
    auto close_conn = [this, key, alive] {
        if (!*alive) return;
        // Deferred: the channel may be on the stack of the callback that closes it.
        event_base_once(base_, -1, EV_TIMEOUT, [](evutil_socket_t, short, void* arg) {
            auto* pair = static_cast<std::pair<ControlServer*, uint64_t>*>(arg);
            pair->first->conns_.erase(pair->second);
            delete pair;
        }, new std::pair<ControlServer*, uint64_t>(this, key), nullptr);
    };
    c->channel = std::make_unique<ipc::Channel>(
        base_, std::move(fd),
        [this, c, key, alive, close_conn](std::string payload) {
            if (c->answered) return;  // one request per connection
            c->answered = true;
            auto req = ipc::control::parse_request(payload);
            Reply reply = [this, key, alive, close_conn](const nlohmann::json& r) {
                if (!*alive) return;
                auto it = conns_.find(key);
                if (it == conns_.end()) return;  // the client left; the work was still done
                it->second->channel->send(r.dump());
                it->second->channel->on_flushed(close_conn);
            };
            if (!req) {
                reply(ipc::control::fail(req.error().message));
                return;
            }
            try {
                handler_(*req, reply);
            } catch (const std::exception& e) {
                spdlog::error("control request {}: {}", (*req)["cmd"].get<std::string>(), e.what());
                reply(ipc::control::fail(std::string("internal error: ") + e.what()));
            }
        },
        [close_conn](const std::string&) { close_conn(); });
    conns_.emplace(key, std::move(conn));
}

}  // namespace ne::supervisor
