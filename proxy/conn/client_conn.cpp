#include "proxy/conn/client_conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cstring>

#include "proxy/runtime.h"
#include "proxy/to_timeval.h"

namespace ne::proxy {

using std::chrono::milliseconds;

// How long a quitting worker keeps an idle keep-alive connection for a request on its way.
constexpr milliseconds kQuitIdleClose{1000};

ClientConn::ClientConn(Runtime& rt, BuffereventPtr bev, const ConnFacts& facts)
    : rt_(rt), bev_(std::move(bev)), listen_(facts.listen), scheme_(facts.scheme), output_high_(facts.output_high),
      parser_(MessageParser::Type::request, kRequestLimits), zone_context_(rt.zone, rt.acme), record_(output()) {
    const sockaddr* peer = facts.peer;
    const void* v4 = nullptr;
    if (peer->sa_family == AF_INET) {
        v4 = &reinterpret_cast<const sockaddr_in*>(peer)->sin_addr;
    } else if (peer->sa_family == AF_INET6) {
        const auto* a6 = &reinterpret_cast<const sockaddr_in6*>(peer)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            v4 = a6->s6_addr + 12;
        } else {
            inet_ntop(AF_INET6, a6, ip_.data(), ip_.size());
            std::memcpy(hash_key_.data(), a6->s6_addr, 16);
            hash_key_len_ = 16;
        }
    }
    if (v4) {
        inet_ntop(AF_INET, v4, ip_.data(), ip_.size());
        std::memcpy(hash_key_.data(), v4, 3);  // the client's /24, as nginx's ip_hash
        hash_key_len_ = 3;
    }
    ip_view_ = ip_.data();

    bufferevent_setcb(bev_.get(), read_cb, write_cb, event_cb, this);
    start_writes(bev_.get());
    bufferevent_setwatermark(bev_.get(), EV_WRITE, output_high_ / 2, 0);
    bufferevent_setwatermark(bev_.get(), EV_READ, 0, kMaxClientInput);
    timer_.reset(evtimer_new(rt_.base, timer_cb, this));
    upstream_head_.reserve(2048);
    client_head_.reserve(1024);
}

ClientConn::~ClientConn() {
    if (plan_.route.pool) plan_.route.pool->cancel(*this);
    release_backend();
}

void ClientConn::start() {
    set_read_timeout(milliseconds{0});
    next_request();
}

void ClientConn::quit() {
    quit_ = true;
    keep_alive_ = false;
    // An idle keep-alive connection is not closed at once: a request its client is sending
    // right now would meet the close (a failed request, as wrk counts it, during a proxy
    // generation change or an upgrade). A request within the next moment is answered with
    // Connection: close; a client that sends none is closed then, as a keepalive_timeout would.
    if (phase_ == Phase::head && evbuffer_get_length(input()) == 0) arm(Timer::keepalive, kQuitIdleClose);
}

// ---- trampolines ---------------------------------------------------------------------------
// Nothing below throws on purpose; a bad_alloc must still not unwind through libevent.

void ClientConn::read_cb(bufferevent*, void* self) {
    auto* c = static_cast<ClientConn*>(self);
    try {
        c->on_read();
    } catch (const std::exception& e) {
        spdlog::error("client {}: {}", c->ip_view_, e.what());
        c->close_now();
    }
}

void ClientConn::write_cb(bufferevent*, void* self) {
    auto* c = static_cast<ClientConn*>(self);
    try {
        c->on_write();
    } catch (const std::exception& e) {
        spdlog::error("client {}: {}", c->ip_view_, e.what());
        c->close_now();
    }
}

void ClientConn::event_cb(bufferevent*, short what, void* self) {
    auto* c = static_cast<ClientConn*>(self);
    try {
        c->on_event(what);
    } catch (const std::exception& e) {
        spdlog::error("client {}: {}", c->ip_view_, e.what());
        c->close_now();
    }
}

void ClientConn::timer_cb(evutil_socket_t, short, void* self) {
    auto* c = static_cast<ClientConn*>(self);
    try {
        c->on_timer();
    } catch (const std::exception& e) {
        spdlog::error("client {}: {}", c->ip_view_, e.what());
        c->close_now();
    }
}

// ---- events --------------------------------------------------------------------------------

void ClientConn::on_read() {
    switch (phase_) {
        case Phase::head: read_heads(); break;
        case Phase::proxying: pump_request_body(); break;
        case Phase::lingering: evbuffer_drain(input(), evbuffer_get_length(input())); break;
        default: break;
    }
}

void ClientConn::on_write() {
    unwatch_write_if_drained(bev_.get());
    switch (phase_) {
        case Phase::closing:
            if (evbuffer_get_length(output()) == 0) start_linger();
            break;
        case Phase::proxying:
            if (response_paused_ && up_) {
                response_paused_ = false;
                up_->resume_reading();
            }
            break;
        case Phase::head:
            read_heads();  // pipelined requests waited while answers piled up
            break;
        case Phase::file:
            pump_file();
            break;
        default: break;
    }
}

void ClientConn::on_event(short what) {
    if (what & BEV_EVENT_TIMEOUT) {
        // Reading: the request body stalled (client_body_timeout). Writing: the client stopped
        // reading its response.
        if ((what & BEV_EVENT_READING) && phase_ == Phase::proxying && !response_started_) {
            drop_upstream();
            release_backend();
            respond(408, false);
            return;
        }
        close_now();
        return;
    }
    if ((what & BEV_EVENT_EOF) && phase_ == Phase::head && evbuffer_get_length(output()) > 0) {
        // A half-close after the last request: the answers still go out.
        close_after_flush();
        return;
    }
    close_now();
}

void ClientConn::cache_fill_ended() {
    if (phase_ != Phase::queued || timer_kind_ != Timer::cache_lock) return;
    disarm();
    cache_action_ = cache_.retry(cache_clock_ms());
    proceed();
}

void ClientConn::on_timer() {
    Timer kind = timer_kind_;
    timer_kind_ = Timer::none;
    switch (kind) {
        case Timer::header:
            if (evbuffer_get_length(input()) > 0) {
                respond(408, false);
                return;
            }
            close_now();
            return;
        case Timer::queue:
            plan_.route.pool->cancel(*this);
            spdlog::warn("no ready backend for {} within {} ms: 503", plan_.route.pool->name(),
                         plan_.location->queue_timeout.count());
            if (cache_.serve_stale("error")) {
                serve_cached();
                return;
            }
            respond(503);
            return;
        case Timer::rate_delay:
            proceed();
            return;
        case Timer::cache_lock:
            if (rt_.cache_fills) rt_.cache_fills->cancel(*this);
            cache_action_ = cache_.retry(cache_clock_ms());
            proceed();
            return;
        case Timer::keepalive:
        case Timer::linger:
            close_now();
            return;
        case Timer::none:
            return;
    }
}

// ---- closing -------------------------------------------------------------------------------

void ClientConn::close_after_flush() {
    phase_ = Phase::closing;
    disarm();
    bufferevent_disable(bev_.get(), EV_READ);
    set_read_timeout(milliseconds{0});
    // Called back once the output is empty.
    bufferevent_setwatermark(bev_.get(), EV_WRITE, 0, 0);
    send_now(bev_.get());
    if (evbuffer_get_length(output()) == 0) start_linger();
}

void ClientConn::start_linger() {
    phase_ = Phase::lingering;
    shut_write(bev_.get());
    evbuffer_drain(input(), evbuffer_get_length(input()));
    bufferevent_enable(bev_.get(), EV_READ);
    arm(Timer::linger, server()->lingering_timeout);
}

void ClientConn::close_now() {
    if (phase_ == Phase::closed) return;
    phase_ = Phase::closed;
    log_request();
    record_.stop_counting();
    disarm();
    if (plan_.route.pool) plan_.route.pool->cancel(*this);
    if (rt_.cache_fills) rt_.cache_fills->cancel(*this);
    drop_upstream();
    release_backend();
    if (tunnel_) rt_.reaper.dispose(std::move(tunnel_));
    gzip_.end(rt_.gzip);
    file_body_.stop();
    cache_.end();
    if (bev_) {
        end_pair(bev_.get());
        keep_tls_session(bev_.get());
        bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
        bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
    }
    rt_.close(*this);
}

// ---- helpers -------------------------------------------------------------------------------

void ClientConn::arm(Timer t, milliseconds after) {
    timer_kind_ = t;
    timeval tv = to_timeval(after);
    evtimer_add(timer_.get(), &tv);
}

void ClientConn::disarm() {
    timer_kind_ = Timer::none;
    evtimer_del(timer_.get());
}

void ClientConn::set_read_timeout(milliseconds t) {
    timeval r = to_timeval(t);
    timeval w = to_timeval(server()->send_timeout);
    bufferevent_set_timeouts(bev_.get(), t.count() > 0 ? &r : nullptr, &w);
}

const config::Server* ClientConn::server() const {
    if (snap_ && plan_.server >= 0) return snap_->server(plan_.server);
    const Snapshot* s = snap_ ? snap_.get() : rt_.snapshot.get();
    if (s)
        if (int d = s->routes.default_server(listen_); d >= 0) return s->server(d);
    return &kUnclaimedServer;
}

}  // namespace ne::proxy
