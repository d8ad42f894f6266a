#include "proxy/client_conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <ctime>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

#include "proxy/balancer.h"
#include "proxy/forward_headers.h"
#include "proxy/local_response.h"
#include "proxy/request_id.h"
#include "proxy/router.h"
#include "proxy/runtime.h"
#include "proxy/to_timeval.h"

namespace ne::proxy {

namespace {

using std::chrono::milliseconds;

constexpr MessageParser::Limits kRequestLimits{8192, 16384, 100};
// The largest head the parser may see before it has decided (see MessageParser's slack).
constexpr size_t kMaxRequestHead = kRequestLimits.max_target + kRequestLimits.max_header_bytes + 4096;
// A client that stops reading its response for this long is cut off (nginx's send_timeout).
constexpr milliseconds kClientSendTimeout{60000};
// After the last response, how long to read and discard what the client still sends, so that
// closing does not reset the connection under the response (nginx's lingering close).
constexpr milliseconds kLingerTimeout{2000};
// Reading from the client stays enabled; libevent suspends it by itself while this much input
// waits (a pipelined request, body bytes the upstream cannot take yet) and resumes once it is
// consumed. Toggling EV_READ around every request would cost two epoll_ctl calls each.
constexpr size_t kMaxClientInput = kMaxRequestHead + 32 * 1024;

// Timeouts and limits before a request names its server, when no config has arrived yet.
const config::Server kDefaultServer{};

bool idempotent(llhttp_method_t m) {
    return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS || m == HTTP_PUT || m == HTTP_DELETE;
}

StaticRequest static_request(const MessageParser& p) {
    return {p.method_name(), p.target(), p.header("if-none-match"), p.header("if-modified-since"),
            p.header("range"), p.header("if-range")};
}

std::vector<Header> header_views(const StaticPlan& plan) {
    std::vector<Header> out;
    out.reserve(plan.headers.size());
    for (const auto& [name, value] : plan.headers) out.push_back({name, value});
    return out;
}

}  // namespace

ClientConn::ClientConn(Runtime& rt, UniqueFd fd, const sockaddr* peer, std::string_view listen)
    : rt_(rt), listen_(listen), parser_(MessageParser::Type::request, kRequestLimits) {
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

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

    bev_.reset(bufferevent_socket_new(rt_.base, fd.get(), BEV_OPT_CLOSE_ON_FREE));
    if (!bev_) throw std::runtime_error("cannot create a bufferevent for client " + std::string(ip_view_));
    fd.release();
    bufferevent_setcb(bev_.get(), read_cb, write_cb, event_cb, this);
    bufferevent_disable(bev_.get(), EV_WRITE);  // libevent's default; see send_now()
    bufferevent_setwatermark(bev_.get(), EV_WRITE, kLowWatermark, 0);
    bufferevent_setwatermark(bev_.get(), EV_READ, 0, kMaxClientInput);
    timer_.reset(evtimer_new(rt_.base, timer_cb, this));
    upstream_head_.reserve(2048);
    client_head_.reserve(1024);
}

ClientConn::~ClientConn() {
    if (route_.pool) route_.pool->cancel(*this);
    release_backend();
}

void ClientConn::start() {
    set_read_timeout(milliseconds{0});
    next_request();
}

void ClientConn::quit() {
    quit_ = true;
    keep_alive_ = false;
    if (phase_ == Phase::head && evbuffer_get_length(input()) == 0) close_now();
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
            route_.pool->cancel(*this);
            spdlog::warn("no ready backend for {} within {} ms: 503", route_.pool->name(),
                         loc_->queue_timeout.count());
            respond(503);
            return;
        case Timer::keepalive:
        case Timer::linger:
            close_now();
            return;
        case Timer::none:
            return;
    }
}

// ---- the request cycle ---------------------------------------------------------------------

void ClientConn::next_request() {
    phase_ = Phase::head;
    snap_.reset();
    server_ = -1;
    loc_ = nullptr;
    route_ = {};
    req_id_len_ = 0;
    http10_ = head_request_ = idempotent_ = upgrade_ = expect_continue_ = sent_continue_ = false;
    body_done_ = true;
    response_started_ = response_paused_ = fresh_only_ = false;
    tried_count_ = 0;
    parser_.begin();
    set_read_timeout(milliseconds{0});
    bufferevent_enable(bev_.get(), EV_READ);  // EV_WRITE only while output waits (send_now)
    const config::Server* srv = server();
    if (evbuffer_get_length(input()) == 0 && served_ > 0)
        arm(Timer::keepalive, srv->keepalive_timeout);
    else
        arm(Timer::header, srv->client_header_timeout);
    read_heads();
}

void ClientConn::read_heads() {
    if (in_head_loop_) return;  // a local answer inside the loop below; the loop goes on
    in_head_loop_ = true;
    while (phase_ == Phase::head) {
        size_t len = evbuffer_get_length(input());
        if (len == 0) break;
        if (timer_kind_ == Timer::keepalive) arm(Timer::header, server()->client_header_timeout);
        if (evbuffer_get_length(output()) >= kHighWatermark) break;  // on_write() resumes
        size_t n = std::min(len, kMaxRequestHead + 1);
        const char* base = reinterpret_cast<const char*>(evbuffer_pullup(input(), static_cast<ev_ssize_t>(n)));
        auto progress = parser_.parse_head({base, n});
        if (progress == MessageParser::Progress::need_more) break;
        if (progress == MessageParser::Progress::error) {
            spdlog::debug("client {}: {} ({})", ip_view_, parser_.failure().reason, parser_.failure().status);
            respond(parser_.failure().status, false);
            break;
        }
        handle_head();
    }
    in_head_loop_ = false;
}

void ClientConn::handle_head() {
    disarm();
    snap_ = rt_.snapshot;
    http10_ = parser_.http_minor() == 0;
    head_request_ = parser_.method() == HTTP_HEAD;
    idempotent_ = idempotent(parser_.method());
    body_done_ = parser_.framing() == Framing::none;
    keep_alive_ = parser_.keep_alive() && !quit_ && !rt_.quitting;

    // Every answer from here on echoes the request id.
    std::string_view given = parser_.header("x-request-id");
    if (sane_request_id(given)) {
        std::memcpy(req_id_.data(), given.data(), given.size());
        req_id_len_ = given.size();
    } else {
        rt_.ids.next(req_id_.data());
        req_id_len_ = RequestIds::kLength;
    }

    // Decide while the head's views are valid; answer after the head has left the buffer.
    int status = 0;
    std::optional<StaticPlan> files;
    std::string_view authority;
    if (!snap_) {
        status = 503;
    } else {
        authority = split_target(parser_.target()).authority;
        server_ = snap_->routes.server_for(listen_, authority.empty() ? parser_.header("host") : authority);
        const config::Server* srv = server();
        if (served_ + 1 >= srv->keepalive_requests) keep_alive_ = false;
        int li = snap_->routes.location_for(server_, target_path(parser_.target()));
        if (parser_.method() == HTTP_CONNECT) {
            status = 405;
        } else if (parser_.framing() == Framing::length && parser_.content_length() > srv->client_max_body_size) {
            status = 413;
        } else if (li < 0) {
            status = 404;
        } else {
            loc_ = &srv->locations[static_cast<size_t>(li)];
            route_ = snap_->locations[static_cast<size_t>(server_)][static_cast<size_t>(li)];
            if (route_.files)
                files = route_.files->plan(static_request(parser_), std::time(nullptr));
            else if (!route_.pool)
                status = 501;  // `return` is not served yet
        }
    }
    if (status == 0 && route_.pool) {
        upgrade_ = parser_.upgrade() && loc_->websocket && parser_.method() == HTTP_GET;
        expect_continue_ = !body_done_ && !http10_ && header_is(trim_ows(parser_.header("expect")), "100-continue");
        UpstreamRequest req;
        req.method = parser_.method_name();
        req.target = split_target(parser_.target()).origin;
        req.headers = parser_.headers();
        req.host_override = authority;
        req.default_host = server()->server_name.empty() ? listen_ : std::string_view(server()->server_name.front());
        req.client_ip = ip_view_;
        req.request_id = request_id();
        req.upgrade = upgrade_;
        req.framing = parser_.framing();
        req.content_length = parser_.content_length();
        upstream_head_.clear();
        write_upstream_request(req, upstream_head_);
        req_pump_.start(parser_.framing(), parser_.content_length(), parser_.framing(),
                        server()->client_max_body_size);
    }
    evbuffer_drain(input(), parser_.head_size());  // the views end here

    if (status != 0) {
        respond(status, status == 404 || status == 501 || status == 503);
        return;
    }
    if (files) {
        serve_static(*files);
        return;
    }
    max_tries_ = std::clamp<size_t>(route_.pool->ready_count(), 1, tried_.size());
    dispatch();
}

void ClientConn::dispatch() {
    phase_ = Phase::proxying;
    body_started_ = false;
    Pool& pool = *route_.pool;
    PickContext ctx;
    ctx.now = Clock::now();
    ctx.tried = {tried_.data(), tried_count_};
    ctx.client_key = {hash_key_.data(), hash_key_len_};
    Backend* b = pick_backend(*route_.balancer, pool, ctx);
    if (!b) {
        if (tried_count_ > 0) {
            respond(502);
            return;
        }
        if (!pool.enqueue(*this)) {
            spdlog::warn("{}: {} requests already wait for a backend: 503", pool.name(), pool.waiting());
            respond(503);
            return;
        }
        phase_ = Phase::queued;
        arm(Timer::queue, loc_->queue_timeout);
        return;
    }
    backend_ = b->shared_from_this();
    Pool::begin_request(*b);
    up_ = fresh_only_ ? nullptr : rt_.idle.take(b->id);
    const bool reused = up_ != nullptr;
    if (!up_) up_ = std::make_unique<UpstreamConn>(rt_.base, backend_);
    up_->attach(*this, {loc_->connect_timeout, loc_->read_timeout, loc_->send_timeout}, head_request_);
    if (!reused) {
        if (auto st = up_->connect(); !st) {
            spdlog::warn("{}", st.error().message);
            upstream_failed(UpstreamConn::Failure::connect);
            return;
        }
    }
    evbuffer_add(up_->output(), upstream_head_.data(), upstream_head_.size());
    if (reused) {
        up_->flush();
        upstream_connected();
    }
}

void ClientConn::on_backend_ready() {
    disarm();
    max_tries_ = std::clamp<size_t>(route_.pool->ready_count(), 1, tried_.size());
    dispatch();
}

void ClientConn::upstream_connected() {
    if (body_done_) {
        up_->request_sent();
        return;
    }
    if (expect_continue_ && !sent_continue_) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        evbuffer_add(output(), kContinue.data(), kContinue.size());
        send_now(bev_.get());
        sent_continue_ = true;
    }
    body_started_ = true;
    set_read_timeout(server()->client_body_timeout);
    pump_request_body();
}

void ClientConn::pump_request_body() {
    if (!up_ || !body_started_ || body_done_) return;
    // The backend reads slower than the client sends: leave the bytes in our input (which
    // stops reading when full) until upstream_writable().
    if (evbuffer_get_length(up_->output()) >= kHighWatermark) return;
    const BodyPump::Step step = req_pump_.pump(input(), up_->output());
    if (step == BodyPump::Step::more || step == BodyPump::Step::done) up_->flush();
    if (step == BodyPump::Step::more) return;
    if (step == BodyPump::Step::done) {
        body_done_ = true;
        set_read_timeout(milliseconds{0});
        up_->request_sent();
        return;
    }
    if (step == BodyPump::Step::failed) spdlog::debug("client {}: bad chunked body: {}", ip_view_, req_pump_.error());
    drop_upstream();
    release_backend();
    if (response_started_)
        close_now();
    else
        respond(step == BodyPump::Step::too_large ? 413 : 400, false);
}

void ClientConn::upstream_writable() {
    if (phase_ == Phase::proxying && body_started_ && !body_done_) pump_request_body();
}

void ClientConn::upstream_head(const MessageParser& resp) {
    const int status = resp.status();
    ClientResponse r;
    r.status = status;
    r.reason = resp.reason();
    r.headers = resp.headers();
    r.request_id = request_id();
    r.extra = &server()->headers;
    r.client_http10 = http10_;
    if (status == 101) {
        if (!upgrade_) {
            spdlog::warn("{} backend {}: 101 to a request that asked for no upgrade", backend_->pool,
                         backend_->address);
            upstream_failed(UpstreamConn::Failure::bad_response);
            return;
        }
        r.upgrade = true;
        client_head_.clear();
        write_client_response(r, client_head_);
        evbuffer_add(output(), client_head_.data(), client_head_.size());
        response_started_ = true;
        start_tunnel();
        return;
    }
    Framing in = resp.framing();
    Framing out = in;
    if (in == Framing::chunked || in == Framing::until_close) out = http10_ ? Framing::until_close : Framing::chunked;
    // A body we did not read whole cannot be skipped to reach the next request.
    if (out == Framing::until_close || !body_done_) keep_alive_ = false;
    r.framing = out;
    r.has_length = in == Framing::length || (in == Framing::none && resp.has_content_length() && status != 204);
    r.content_length = resp.content_length();
    r.keep_alive = keep_alive_;
    client_head_.clear();
    write_client_response(r, client_head_);
    evbuffer_add(output(), client_head_.data(), client_head_.size());
    response_started_ = true;
    up_->start_body(output(), out);
}

void ClientConn::upstream_body_moved() {
    send_now(bev_.get());
    if (!response_paused_ && evbuffer_get_length(output()) >= kHighWatermark) {
        response_paused_ = true;  // on_write() resumes below the low watermark
        up_->pause_reading();
    }
}

void ClientConn::upstream_done(bool reusable) {
    send_now(bev_.get());
    Pool::note_success(*backend_);
    release_backend();
    if (reusable && body_done_ && loc_->keepalive > 0)
        rt_.idle.put(std::move(up_), static_cast<size_t>(loc_->keepalive));
    else
        drop_upstream();
    finish_request();
}

void ClientConn::upstream_failed(UpstreamConn::Failure f) {
    using F = UpstreamConn::Failure;
    const bool reused = up_ && up_->reused();
    const bool early = f == F::connect || f == F::closed_early;
    // A reused keep-alive connection closed under us is the race idle timeouts make rare, not
    // the backend's fault: no fail count, no try used, but a fresh connection next.
    const bool stale = reused && f == F::closed_early;
    const uint64_t id = backend_ ? backend_->id : 0;
    if (backend_ && early && !stale) Pool::note_failure(*backend_, Clock::now());
    drop_upstream();
    release_backend();
    if (response_started_) {
        close_now();  // part of a response went out: only a close can tell the client
        return;
    }
    const bool safe = early && req_pump_.consumed() == 0 && (idempotent_ || f == F::connect);
    if (safe) {
        if (stale)
            fresh_only_ = true;
        else
            tried_[tried_count_++] = id;
        if (tried_count_ < max_tries_) {
            set_read_timeout(milliseconds{0});
            dispatch();
            return;
        }
    }
    respond(f == F::timeout ? 504 : 502);
}

void ClientConn::start_tunnel() {
    BuffereventPtr upstream = up_->release();
    drop_upstream();
    disarm();
    set_read_timeout(milliseconds{0});
    phase_ = Phase::tunnel;
    // Bytes the client sent after its request head are still in its input: the tunnel
    // relays them first.
    tunnel_ = std::make_unique<Tunnel>(rt_.base, std::move(bev_), std::move(upstream), loc_->read_timeout,
                                       [this] {
                                           ++rt_.requests;
                                           close_now();
                                       });
}

void ClientConn::serve_static(StaticPlan& plan) {
    const std::vector<Header> headers = header_views(plan);
    if (plan.status >= 400) {
        if (!plan.error.empty()) spdlog::warn("static file for {}: {} ({})", request_id(), plan.error, plan.status);
        respond(plan.status, true, headers);
        return;
    }
    ClientResponse r;
    r.status = plan.status;
    r.headers = headers;
    r.request_id = request_id();
    r.extra = &server()->headers;
    r.client_http10 = http10_;
    r.keep_alive = settle_keep_alive(true);
    // 200/206 state the file's length (HEAD too); a 301 has an empty body; a 304 says nothing.
    r.framing = plan.body ? Framing::length : Framing::none;
    r.has_length = plan.status != 304;
    r.content_length = plan.length;
    client_head_.clear();
    write_client_response(r, client_head_);
    evbuffer_add(output(), client_head_.data(), client_head_.size());
    if (plan.body) {
        // sendfile(2) from the page cache; the evbuffer closes the fd once it is sent.
        if (evbuffer_add_file(output(), plan.fd.get(), static_cast<ev_off_t>(plan.offset),
                              static_cast<ev_off_t>(plan.length)) != 0) {
            spdlog::error("static file {} for {}: cannot queue it for sending", plan.path, request_id());
            close_now();  // the head went out already; only a close can tell the client
            return;
        }
        plan.fd.release();
    }
    end_local_response();
}

void ClientConn::finish_request() {
    ++rt_.requests;
    ++served_;
    if (!keep_alive_ || !body_done_ || quit_ || rt_.quitting) {
        close_after_flush();
        return;
    }
    next_request();
}

// ---- endings -------------------------------------------------------------------------------

void ClientConn::respond(int status, bool may_keep_alive, std::span<const Header> headers) {
    if (req_id_len_ == 0) {
        rt_.ids.next(req_id_.data());
        req_id_len_ = RequestIds::kLength;
    }
    const Snapshot* snap = snap_ ? snap_.get() : rt_.snapshot.get();
    LocalResponse r;
    r.status = status;
    r.request_id = request_id();
    r.extra = &server()->headers;
    r.keep_alive = settle_keep_alive(may_keep_alive);
    r.client_http10 = http10_;
    r.head_request = head_request_;
    r.headers = headers;
    if (snap && uses_error_page(status)) r.page = snap->error_page;
    client_head_.clear();
    write_local_response(r, client_head_);
    evbuffer_add(output(), client_head_.data(), client_head_.size());
    end_local_response();
}

bool ClientConn::settle_keep_alive(bool may_keep_alive) {
    keep_alive_ = keep_alive_ && may_keep_alive && body_done_;
    return keep_alive_ && !quit_ && !rt_.quitting;
}

void ClientConn::end_local_response() {
    send_now(bev_.get());
    response_started_ = true;
    finish_request();
}

void ClientConn::drop_upstream() {
    if (!up_) return;
    up_->abandon();
    rt_.reaper.dispose(std::move(up_));
}

void ClientConn::release_backend() {
    if (!backend_) return;
    auto b = std::move(backend_);
    rt_.end_request(*b);
}

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
    ::shutdown(bufferevent_getfd(bev_.get()), SHUT_WR);
    evbuffer_drain(input(), evbuffer_get_length(input()));
    bufferevent_enable(bev_.get(), EV_READ);
    arm(Timer::linger, kLingerTimeout);
}

void ClientConn::close_now() {
    if (phase_ == Phase::closed) return;
    phase_ = Phase::closed;
    disarm();
    if (route_.pool) route_.pool->cancel(*this);
    drop_upstream();
    release_backend();
    if (tunnel_) rt_.reaper.dispose(std::move(tunnel_));
    if (bev_) {
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
    timeval w = to_timeval(kClientSendTimeout);
    bufferevent_set_timeouts(bev_.get(), t.count() > 0 ? &r : nullptr, &w);
}

const config::Server* ClientConn::server() const {
    if (snap_ && server_ >= 0) return snap_->server(server_);
    const Snapshot* s = snap_ ? snap_.get() : rt_.snapshot.get();
    if (s)
        if (int d = s->routes.default_server(listen_); d >= 0) return s->server(d);
    return &kDefaultServer;
}

}  // namespace ne::proxy
