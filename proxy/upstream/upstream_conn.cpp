#include "proxy/upstream/upstream_conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>

#include "proxy/to_timeval.h"

namespace ne::proxy {

namespace {

// Node's own limit is 16 KiB; a little more room for what an app adds (cookies).
constexpr MessageParser::Limits kResponseLimits{8192, 64 * 1024, 200};
constexpr size_t kMaxResponseHead = kResponseLimits.max_target + kResponseLimits.max_header_bytes + 8192;

}  // namespace

UpstreamConn::UpstreamConn(event_base* base, std::shared_ptr<Backend> backend, bool h2c)
    : base_(base), backend_(std::move(backend)), speaks_h2c_(h2c),
      parser_(MessageParser::Type::response, kResponseLimits) {}

UpstreamConn::~UpstreamConn() = default;

void UpstreamConn::attach(Owner& owner, const Timeouts& t, bool head_request) {
    owner_ = &owner;
    timeouts_ = t;
    head_request_ = head_request;
    parser_.begin(head_request);
    got_bytes_ = false;
    paused_ = false;
    dst_ = nullptr;
    if (state_ != State::connecting) {
        state_ = State::head;
        set_timeouts(std::chrono::milliseconds{0}, timeouts_.send);
    }
}

Status UpstreamConn::connect() {
    if (speaks_h2c_) return connect_h2c();
    const std::string what = "connect to " + backend_->pool + " backend " + backend_->address;
    int fd = ::socket(backend_->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error::from_errno(what);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bev_.reset(bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE));
    if (!bev_) {
        ::close(fd);
        return Error{what + ": cannot create a bufferevent"};
    }
    bufferevent_setcb(bev_.get(), read_cb, write_cb, event_cb, this);
    bufferevent_disable(bev_.get(), EV_WRITE);  // libevent's default; see send_now()
    bufferevent_setwatermark(bev_.get(), EV_WRITE, kLowWatermark, 0);
    // libevent times a connect with the write timeout.
    set_timeouts(std::chrono::milliseconds{0}, timeouts_.connect);
    state_ = State::connecting;
    if (bufferevent_socket_connect(bev_.get(), reinterpret_cast<sockaddr*>(&backend_->addr),
                                   static_cast<int>(backend_->addr_len)) != 0)
        return Error::from_errno(what);
    // libevent watches the connect itself; EV_WRITE is ours only while output waits.
    bufferevent_enable(bev_.get(), EV_READ);
    return {};
}

Status UpstreamConn::connect_h2c() {
    bufferevent* pair[2] = {nullptr, nullptr};
    // Deferred callbacks: neither side's callbacks run inside the other's.
    if (bufferevent_pair_new(base_, BEV_OPT_DEFER_CALLBACKS, pair) != 0)
        return Error{"connect to " + backend_->pool + " backend " + backend_->address + ": cannot create a bufferevent pair"};
    bev_.reset(pair[0]);
    bufferevent_setcb(bev_.get(), read_cb, write_cb, event_cb, this);
    bufferevent_disable(bev_.get(), EV_WRITE);  // enabled once connected, as for a socket
    bufferevent_setwatermark(bev_.get(), EV_WRITE, kLowWatermark, 0);
    state_ = State::connecting;
    h2c_ = std::make_unique<H2cBridge>(base_, BuffereventPtr(pair[1]), *backend_, timeouts_.connect);
    if (auto st = h2c_->connect(); !st) return st;
    bufferevent_enable(bev_.get(), EV_READ);
    return {};
}

void UpstreamConn::set_timeouts(std::chrono::milliseconds read, std::chrono::milliseconds write) {
    timeval r = to_timeval(read);
    timeval w = to_timeval(write);
    bufferevent_set_timeouts(bev_.get(), read.count() > 0 ? &r : nullptr, write.count() > 0 ? &w : nullptr);
}

void UpstreamConn::flush() {
    if (state_ != State::connecting) send_now(bev_.get());
}

void UpstreamConn::request_sent() {
    if (state_ == State::head || state_ == State::body) set_timeouts(timeouts_.read, timeouts_.send);
}

void UpstreamConn::read_cb(bufferevent*, void* self) { static_cast<UpstreamConn*>(self)->on_read(); }

void UpstreamConn::write_cb(bufferevent*, void* self) {
    auto* c = static_cast<UpstreamConn*>(self);
    unwatch_write_if_drained(c->bev_.get());
    if (c->owner_ && (c->state_ == State::head || c->state_ == State::body)) c->owner_->upstream_writable();
}

void UpstreamConn::event_cb(bufferevent*, short what, void* self) { static_cast<UpstreamConn*>(self)->on_event(what); }

void UpstreamConn::on_read() {
    switch (state_) {
        case State::head: read_head(); break;
        case State::body: pump_body(); break;
        case State::idle: parked_in_->lost(*this); break;  // nothing may arrive unasked
        default: break;
    }
}

void UpstreamConn::on_event(short what) {
    if (state_ == State::idle) {
        parked_in_->lost(*this);
        return;
    }
    if (what & BEV_EVENT_CONNECTED) {
        state_ = State::head;
        set_timeouts(std::chrono::milliseconds{0}, timeouts_.send);
        send_now(bev_.get());  // the request head written while connecting
        if (owner_) owner_->upstream_connected();
        return;
    }
    if (state_ == State::connecting) {
        int err = EVUTIL_SOCKET_ERROR();
        spdlog::warn("connect to {} backend {}: {}", backend_->pool, backend_->address,
                     (what & BEV_EVENT_TIMEOUT) ? "timed out" : evutil_socket_error_to_string(err));
        fail(Failure::connect);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        fail(Failure::timeout);
        return;
    }
    if (state_ == State::head) {
        fail(got_bytes_ ? Failure::bad_response : Failure::closed_early);
        return;
    }
    if (state_ == State::body && (what & BEV_EVENT_EOF)) {
        if (pump_.finish_at_eof(dst_) == BodyPump::Step::done) {
            finish_response();
            return;
        }
    }
    if (state_ == State::body) fail(Failure::closed_mid);
}

void UpstreamConn::read_head() {
    evbuffer* in = bufferevent_get_input(bev_.get());
    while (state_ == State::head) {
        size_t len = evbuffer_get_length(in);
        if (len == 0) return;
        got_bytes_ = true;
        size_t n = std::min(len, kMaxResponseHead + 1);
        const char* base = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(n)));
        switch (parser_.parse_head({base, n})) {
            case MessageParser::Progress::need_more:
                return;
            case MessageParser::Progress::error:
                spdlog::warn("{} backend {}: bad response head: {}", backend_->pool, backend_->address,
                             parser_.failure().reason);
                fail(Failure::bad_response);
                return;
            case MessageParser::Progress::head_complete:
                break;
        }
        int status = parser_.status();
        if (status >= 100 && status < 200 && status != 101) {
            // Interim responses (100 Continue, 103 Early Hints) are not passed on: the proxy
            // answers the client's Expect itself.
            evbuffer_drain(in, parser_.head_size());
            parser_.begin(head_request_);
            continue;
        }
        owner_->upstream_head(parser_);
        return;
    }
}

void UpstreamConn::start_body(evbuffer* dst, Framing out, BodyFilter* filter) {
    evbuffer_drain(bufferevent_get_input(bev_.get()), parser_.head_size());
    dst_ = dst;
    pump_.start(parser_.framing(), parser_.content_length(), out);
    pump_.filter_through(filter);
    state_ = State::body;
    pump_body();
}

void UpstreamConn::pump_body() {
    if (paused_) return;
    switch (pump_.pump(bufferevent_get_input(bev_.get()), dst_)) {
        case BodyPump::Step::more: owner_->upstream_body_moved(); break;
        case BodyPump::Step::done: finish_response(); break;
        default:
            spdlog::warn("{} backend {}: bad response body: {}", backend_->pool, backend_->address, pump_.error());
            fail(Failure::closed_mid);
            break;
    }
}

void UpstreamConn::finish_response() {
    state_ = State::done;
    bool reusable = !speaks_h2c_ && parser_.keep_alive() && parser_.framing() != Framing::until_close &&
                    evbuffer_get_length(bufferevent_get_input(bev_.get())) == 0;
    set_timeouts(std::chrono::milliseconds{0}, std::chrono::milliseconds{0});
    owner_->upstream_done(reusable);
}

void UpstreamConn::fail(Failure f) {
    state_ = State::spent;
    bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    if (owner_) owner_->upstream_failed(f);
}

void UpstreamConn::pause_reading() {
    paused_ = true;
    bufferevent_disable(bev_.get(), EV_READ);
}

void UpstreamConn::resume_reading() {
    if (!paused_) return;
    paused_ = false;
    bufferevent_enable(bev_.get(), EV_READ);
    // What was read before the pause is still in the input; no new event will announce it.
    if (state_ == State::body) pump_body();
}

BuffereventPtr UpstreamConn::release() {
    evbuffer_drain(bufferevent_get_input(bev_.get()), parser_.head_size());
    bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
    state_ = State::spent;
    owner_ = nullptr;
    return std::move(bev_);
}

void UpstreamConn::abandon() {
    owner_ = nullptr;
    state_ = State::spent;
    if (bev_) bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
}

void UpstreamConn::park(IdleConnections& pool, std::chrono::milliseconds idle_timeout) {
    parked_in_ = &pool;
    owner_ = nullptr;
    state_ = State::idle;
    set_timeouts(idle_timeout, std::chrono::milliseconds{0});
    bufferevent_enable(bev_.get(), EV_READ);
}

void UpstreamConn::unpark() {
    parked_in_ = nullptr;
    reused_ = true;
    state_ = State::head;
    set_timeouts(std::chrono::milliseconds{0}, std::chrono::milliseconds{0});
}

// ---- IdleConnections -----------------------------------------------------------------------

void IdleConnections::put(std::unique_ptr<UpstreamConn> c, size_t max_idle, std::chrono::milliseconds idle_timeout) {
    auto& list = idle_[c->backend().id];
    if (c->backend().admin != Backend::Admin::ready || list.size() >= max_idle) {
        reaper_.dispose(std::move(c));
        return;
    }
    c->park(*this, idle_timeout);
    list.push_back(std::move(c));
}

std::unique_ptr<UpstreamConn> IdleConnections::take(uint64_t backend_id) {
    auto it = idle_.find(backend_id);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    auto c = std::move(it->second.back());
    it->second.pop_back();
    c->unpark();
    return c;
}

void IdleConnections::close_for(uint64_t backend_id) {
    auto it = idle_.find(backend_id);
    if (it == idle_.end()) return;
    for (auto& c : it->second) reaper_.dispose(std::move(c));
    idle_.erase(it);
}

void IdleConnections::clear() {
    for (auto& [id, list] : idle_)
        for (auto& c : list) reaper_.dispose(std::move(c));
    idle_.clear();
}

size_t IdleConnections::size() const {
    size_t n = 0;
    for (auto& [id, list] : idle_) n += list.size();
    return n;
}

void IdleConnections::lost(UpstreamConn& c) {
    auto it = idle_.find(c.backend().id);
    if (it == idle_.end()) return;
    auto& list = it->second;
    auto pos = std::find_if(list.begin(), list.end(), [&](auto& p) { return p.get() == &c; });
    if (pos == list.end()) return;
    bufferevent_disable(c.bev_.get(), EV_READ | EV_WRITE);
    reaper_.dispose(std::move(*pos));
    list.erase(pos);
}

}  // namespace ne::proxy
