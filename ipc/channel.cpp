#include "ipc/channel.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace ne::ipc {

Channel::Channel(event_base* base, UniqueFd fd, OnFrame on_frame, OnClose on_close)
    : on_frame_(std::move(on_frame)), on_close_(std::move(on_close)) {
    evutil_make_socket_nonblocking(fd.get());
    bev_.reset(bufferevent_socket_new(base, fd.release(), BEV_OPT_CLOSE_ON_FREE));
    bufferevent_setcb(bev_.get(), read_cb, write_cb, event_cb, this);
    bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
}

Channel::~Channel() { *alive_ = false; }

int Channel::fd() const { return bufferevent_getfd(bev_.get()); }

void Channel::send(const std::string& payload) {
    if (closed_) return;
    uint32_t len = htonl(static_cast<uint32_t>(payload.size()));
    evbuffer* out = bufferevent_get_output(bev_.get());
    evbuffer_add(out, &len, sizeof len);
    evbuffer_add(out, payload.data(), payload.size());
}

size_t Channel::pending() const { return evbuffer_get_length(bufferevent_get_output(bev_.get())); }

void Channel::on_flushed(std::function<void()> fn) {
    if (pending() == 0 || closed_) {
        fn();
        return;
    }
    on_flushed_ = std::move(fn);
}

void Channel::read_cb(bufferevent*, void* self) {
    try {
        static_cast<Channel*>(self)->on_read();
    } catch (const std::exception& e) {
        spdlog::error("ipc channel: {}", e.what());
    }
}

void Channel::write_cb(bufferevent*, void* self) {
    auto* ch = static_cast<Channel*>(self);
    if (ch->on_flushed_ && ch->pending() == 0) {
        auto fn = std::move(ch->on_flushed_);
        ch->on_flushed_ = nullptr;
        fn();
    }
}

void Channel::event_cb(bufferevent*, short what, void* self) {
    auto* ch = static_cast<Channel*>(self);
    if (what & BEV_EVENT_EOF) {
        auto alive = ch->alive_;
        ch->on_read();  // frames that arrived with the close still count
        if (*alive) ch->fail("closed by peer");
    }
    else if (what & BEV_EVENT_ERROR) ch->fail(std::strerror(EVUTIL_SOCKET_ERROR()));
}

void Channel::on_read() {
    evbuffer* in = bufferevent_get_input(bev_.get());
    auto alive = alive_;
    while (!closed_) {
        uint32_t len_be;
        if (evbuffer_copyout(in, &len_be, sizeof len_be) < static_cast<ev_ssize_t>(sizeof len_be)) return;
        uint32_t len = ntohl(len_be);
        if (len > kMaxFrame) {
            fail("frame of " + std::to_string(len) + " bytes exceeds the limit");
            return;
        }
        if (evbuffer_get_length(in) < sizeof len_be + len) return;
        evbuffer_drain(in, sizeof len_be);
        std::string payload(len, '\0');
        evbuffer_remove(in, payload.data(), len);
        on_frame_(std::move(payload));
        if (!*alive) return;
    }
}

void Channel::fail(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    if (on_close_) on_close_(why);
}

Status write_frame(int fd, const std::string& payload) {
    uint32_t len = htonl(static_cast<uint32_t>(payload.size()));
    std::string buf(reinterpret_cast<const char*>(&len), sizeof len);
    buf += payload;
    size_t off = 0;
    while (off < buf.size()) {
        ssize_t n = ::send(fd, buf.data() + off, buf.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno("write to control socket");
        }
        off += static_cast<size_t>(n);
    }
    return {};
}

// How long the rest of a frame may take once its first byte arrived (see read_frame).
constexpr int kRestOfFrameMs = 5000;

static Status read_exact(int fd, char* dst, size_t n, int timeout_ms,
                         std::chrono::steady_clock::time_point start) {
    size_t got = 0;
    while (got < n) {
        if (timeout_ms >= 0) {
            auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start).count();
            int left = static_cast<int>(timeout_ms - spent);
            if (left <= 0) return Error{"timed out waiting for the daemon's reply"};
            pollfd p{fd, POLLIN, 0};
            int r = ::poll(&p, 1, left);
            if (r < 0 && errno != EINTR) return Error::from_errno("poll control socket");
            if (r <= 0) continue;
        }
        ssize_t k = ::recv(fd, dst + got, n - got, 0);
        if (k == 0) return Error{"closed"};
        if (k < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno("read from control socket");
        }
        got += static_cast<size_t>(k);
    }
    return {};
}

Result<std::string> read_frame(int fd, int timeout_ms) {
    char len_bytes[4];
    if (auto s = read_exact(fd, len_bytes, 1, timeout_ms, std::chrono::steady_clock::now()); !s) return s.error();
    // A frame that has begun follows whole at once (the peer writes it in one go): a short
    // timeout must not cut it, or the next read would take payload bytes for a length.
    const int rest_ms = timeout_ms < 0 ? -1 : std::max(timeout_ms, kRestOfFrameMs);
    const auto begun = std::chrono::steady_clock::now();
    if (auto s = read_exact(fd, len_bytes + 1, sizeof len_bytes - 1, rest_ms, begun); !s) return s.error();
    uint32_t len_be;
    std::memcpy(&len_be, len_bytes, sizeof len_be);
    uint32_t len = ntohl(len_be);
    if (len > kMaxFrame) return Error{"reply frame too large"};
    std::string payload(len, '\0');
    if (auto s = read_exact(fd, payload.data(), len, rest_ms, begun); !s) return s.error();
    return payload;
}

}  // namespace ne::ipc
