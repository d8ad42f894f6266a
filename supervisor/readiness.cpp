#include "supervisor/readiness.h"

#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "ipc/net.h"
#include "supervisor/memory.h"
#include "supervisor/port_owner.h"

namespace ne::supervisor {

namespace {

constexpr timeval kProbeInterval{0, 100 * 1000};
// A SYN to a loopback port is answered at once; this only bounds a probe of a remote host
// that drops packets, after which we try again.
constexpr timeval kConnectTimeout{1, 0};
// "ready" is 8 bytes on the wire; a longer message is skipped without being held whole.
constexpr size_t kMaxMessage = 64 * 1024;

bool is_ready_message(std::string_view line) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    return j.is_string() && j.get_ref<const std::string&>() == "ready";
}

// Callbacks run last and from a local copy: they may destroy the object that called them.
void call_last(std::function<void()>& slot) {
    std::function<void()> cb = std::move(slot);
    slot = nullptr;
    if (cb) cb();
}

}  // namespace

PortProbe::PortProbe(event_base* base, std::string host, int port, pid_t owner, std::function<void()> on_ready)
    : base_(base), host_(std::move(host)), port_(port), owner_(owner), on_ready_(std::move(on_ready)) {
    timer_.reset(evtimer_new(base_, &PortProbe::on_timer, this));
    try_connect();
}

PortProbe::~PortProbe() = default;

void PortProbe::on_timer(evutil_socket_t, short, void* self) {
    try {
        static_cast<PortProbe*>(self)->try_connect();
    } catch (const std::exception& e) {
        spdlog::error("port probe: {}", e.what());
    }
}

void PortProbe::on_connect(evutil_socket_t, short what, void* self) {
    try {
        static_cast<PortProbe*>(self)->connect_done(what);
    } catch (const std::exception& e) {
        spdlog::error("port probe: {}", e.what());
    }
}

void PortProbe::try_connect() {
    conn_ev_.reset();
    auto fd = net::connect_tcp_nonblocking(host_, port_);
    if (!fd) {  // refused at once: the usual answer while the worker starts
        conn_.reset();
        retry_later();
        return;
    }
    conn_ = std::move(*fd);
    conn_ev_.reset(event_new(base_, conn_.get(), EV_WRITE, &PortProbe::on_connect, this));
    event_add(conn_ev_.get(), &kConnectTimeout);
}

void PortProbe::connect_done(short what) {
    int err = 0;
    socklen_t len = sizeof err;
    bool up = !(what & EV_TIMEOUT) && getsockopt(conn_.get(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
              err == 0 && connected_to_other() && listener_is_owners();
    conn_ev_.reset();
    conn_.reset();
    if (!up) {
        retry_later();
        return;
    }
    call_last(on_ready_);
}

void PortProbe::retry_later() { evtimer_add(timer_.get(), &kProbeInterval); }

// A connect to a free port in the ephemeral range can pick that same port as its source and
// "succeed" by connecting to itself (TCP simultaneous open); that is not the worker.
bool PortProbe::connected_to_other() const {
    sockaddr_storage self{}, peer{};
    socklen_t self_len = sizeof self, peer_len = sizeof peer;
    if (getsockname(conn_.get(), reinterpret_cast<sockaddr*>(&self), &self_len) != 0) return false;
    if (getpeername(conn_.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) return false;
    return self_len != peer_len || std::memcmp(&self, &peer, self_len) != 0;
}

bool PortProbe::listener_is_owners() const {
    const std::vector<pid_t> tree = process_tree(owner_);
    return holds_any(tree, listening_inodes(port_));
}

NodeIpcReader::NodeIpcReader(event_base* base, int fd, std::function<void()> on_ready,
                             std::function<void()> on_close)
    : fd_(fd), on_ready_(std::move(on_ready)), on_close_(std::move(on_close)) {
    ev_.reset(event_new(base, fd_, EV_READ | EV_PERSIST, &NodeIpcReader::on_readable, this));
    event_add(ev_.get(), nullptr);
}

NodeIpcReader::~NodeIpcReader() = default;

void NodeIpcReader::on_readable(evutil_socket_t, short, void* self) {
    try {
        static_cast<NodeIpcReader*>(self)->read_some();
    } catch (const std::exception& e) {
        spdlog::error("node ipc: {}", e.what());
    }
}

void NodeIpcReader::read_some() {
    char buf[16 * 1024];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n > 0) {
        buf_.append(buf, static_cast<size_t>(n));
        if (scan_lines()) call_last(on_ready_);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    event_del(ev_.get());
    call_last(on_close_);
}

bool NodeIpcReader::scan_lines() {
    bool ready = false;
    size_t start = 0;
    for (size_t nl; (nl = buf_.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (!discarding_ && on_ready_ && is_ready_message(std::string_view(buf_).substr(start, nl - start)))
            ready = true;
        discarding_ = false;
    }
    buf_.erase(0, start);
    if (buf_.size() > kMaxMessage) {
        buf_.clear();
        discarding_ = true;
    }
    return ready;
}

}  // namespace ne::supervisor
