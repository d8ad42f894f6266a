// ClientConn's upstream leg: the request head for the backend, choosing a backend (or
// waiting for one), retries, relaying the response, and the turn into a tunnel after a 101.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "proxy/conn/client_conn.h"
#include "proxy/http/forward_headers.h"
#include "proxy/route/router.h"
#include "proxy/runtime.h"
#include "proxy/upstream/balancer.h"
#include "proxy/upstream/sticky.h"

namespace ne::proxy {

using std::chrono::milliseconds;

uint64_t ClientConn::cache_clock_ms() {
    using namespace std::chrono;
    return static_cast<uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

void ClientConn::prepare_upstream(const RequestFacts& facts) {
    const config::Server& srv = *server();
    const LocationPlan& lp = *plan_.route.plan;
    UpstreamRequest req;
    req.method = parser_.method_name();
    req.target = split_target(parser_.target()).origin;
    req.headers = parser_.headers();
    req.host_override = plan_.authority;
    req.default_host = srv.server_name.empty() ? listen_ : std::string_view(srv.server_name.front());
    req.client_ip = ip_view_;
    req.proto = scheme_;
    req.request_id = request_id();
    req.upgrade = plan_.action == RequestPlan::Action::tunnel;
    req.framing = parser_.framing();
    req.content_length = parser_.content_length();
    if (!lp.proxy_headers.empty()) {
        HostBuffer host;
        req.set_headers = proxy_headers_.expand(lp.proxy_headers, request_vars(facts, srv, plan_.authority, host));
    }
    upstream_head_.clear();
    write_upstream_request(req, upstream_head_);
    // The head leaves the buffer before a backend is chosen (and again for each retry).
    if (plan_.location->sticky.enabled)
        sticky_sent_ = cookie_value(parser_.header("cookie"), plan_.location->sticky.cookie);
    req_pump_.start(parser_.framing(), parser_.content_length(), parser_.framing(),
                    config::body_limit(srv, plan_.location));
    cache_action_ = CacheStep::Action::proxy;
    if (plan_.cache) {
        const config::Location& loc = *plan_.location;
        const std::string scope = std::string(listen_) + " " + loc.path;
        cache_action_ = cache_.begin(rt_.cache.get(), loc.cache, scope, parser_.method_name(), parser_.headers(),
                                     scheme_, plan_.authority.empty() ? parser_.header("host") : plan_.authority,
                                     req.target, cache_clock_ms());
    }
}

void ClientConn::start_proxying() {
    max_tries_ = std::clamp<size_t>(plan_.route.pool->ready_count(), 1, tried_.size());
    dispatch();
}

void ClientConn::dispatch() {
    phase_ = Phase::proxying;
    body_started_ = false;
    Pool& pool = *plan_.route.pool;
    PickContext ctx;
    ctx.now = Clock::now();
    ctx.tried = {tried_.data(), tried_count_};
    ctx.client_key = {hash_key_.data(), hash_key_len_};
    const config::Sticky& sticky = plan_.location->sticky;
    Backend* b = sticky.enabled ? sticky_backend(pool, sticky_sent_, ctx) : nullptr;
    if (!b) b = pick_backend(*plan_.route.balancer, pool, ctx);
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
        arm(Timer::queue, plan_.location->queue_timeout);
        return;
    }
    backend_ = b->shared_from_this();
    Pool::begin_request(*b);
    sticky_set_.clear();
    if (sticky.enabled)
        if (std::string v = sticky_value(*b); v != sticky_sent_) sticky_set_ = sticky_set_cookie(sticky, v);
    record_.upstream_began(b->address);
    // A gRPC call gets a connection of its own (one HTTP/2 stream each, never parked).
    up_ = fresh_only_ || plan_.location->grpc ? nullptr : rt_.idle.take(b->id);
    const bool reused = up_ != nullptr;
    const config::Location& loc = *plan_.location;
    if (!up_) up_ = std::make_unique<UpstreamConn>(rt_.base, backend_, loc.grpc);
    up_->attach(*this, {loc.connect_timeout, loc.read_timeout, loc.send_timeout}, plan_.head_request);
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
    start_proxying();
}

void ClientConn::upstream_connected() {
    if (body_done_) {
        up_->request_sent();
        return;
    }
    if (plan_.expect_continue && !sent_continue_) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        evbuffer_add(output(), kContinue.data(), kContinue.size());
        send_now(bev_.get());
        sent_continue_ = true;
    }
    body_started_ = true;
    set_read_timeout(config::body_timeout(*server(), plan_.location));
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
    r.extra = &config::response_headers(*server(), plan_.location);
    r.client_http10 = plan_.http10;
    if (status == 101) {
        if (plan_.action != RequestPlan::Action::tunnel) {
            spdlog::warn("{} backend {}: 101 to a request that asked for no upgrade", backend_->pool,
                         backend_->address);
            upstream_failed(UpstreamConn::Failure::bad_response);
            return;
        }
        r.upgrade = true;
        r.set_cookie = sticky_set_;
        client_head_.clear();
        write_client_response(r, client_head_);
        record_.answered(status, client_head_.size());
        record_.upstream_ended();
        evbuffer_add(output(), client_head_.data(), client_head_.size());
        response_started_ = true;
        start_tunnel();
        return;
    }
    if (status >= 500 && cache_.serve_stale("http_" + std::to_string(status))) {
        drop_upstream();
        release_backend();
        serve_cached();
        return;
    }
    Framing in = resp.framing();
    const GzipDecision gz = in == Framing::none || plan_.location->grpc
        ? GzipDecision{}
        : gzip_.response(response_query(status, resp.headers(),
                                        in == Framing::length ? std::optional(resp.content_length()) : std::nullopt),
                         config::gzip_for(*server(), plan_.location), rt_.gzip);
    r.vary_accept_encoding = gz.vary;
    r.gzip = gz.compress;
    Framing out = in;
    if (in == Framing::chunked || in == Framing::until_close || gz.compress)
        out = plan_.http10 ? Framing::until_close : Framing::chunked;
    // A body we did not read whole cannot be skipped to reach the next request.
    if (out == Framing::until_close || !body_done_) keep_alive_ = false;
    r.framing = out;
    r.has_length = !gz.compress && (in == Framing::length || (in == Framing::none && resp.has_content_length() && status != 204));
    r.content_length = resp.content_length();
    r.keep_alive = keep_alive_;
    r.cache_status = cache_status_name(cache_.status());
    r.set_cookie = sticky_set_;
    client_head_.clear();
    write_client_response(r, client_head_);
    record_.answered(status, client_head_.size());
    evbuffer_add(output(), client_head_.data(), client_head_.size());
    response_started_ = true;
    up_->start_body(output(), out, cache_.store(status, resp.headers(), gzip_.filter(), std::time(nullptr)));
}

void ClientConn::upstream_body_moved() {
    send_now(bev_.get());
    if (!response_paused_ && evbuffer_get_length(output()) >= output_high_) {
        response_paused_ = true;  // on_write() resumes below the low watermark
        up_->pause_reading();
    }
}

void ClientConn::upstream_done(bool reusable) {
    record_.upstream_ended();
    send_now(bev_.get());
    Pool::note_success(*backend_);
    release_backend();
    if (reusable && body_done_ && plan_.location->keepalive > 0)
        rt_.idle.put(std::move(up_), static_cast<size_t>(plan_.location->keepalive), plan_.location->keepalive_timeout);
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
    if (backend_) record_.upstream_ended();
    if (backend_ && early && !stale) Pool::note_failure(*backend_, Clock::now());
    drop_upstream();
    release_backend();
    if (response_started_) {
        close_now();  // part of a response went out: only a close can tell the client
        return;
    }
    const bool safe = early && req_pump_.consumed() == 0 && (plan_.idempotent || f == F::connect);
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
    if (cache_.serve_stale(f == F::timeout ? "timeout" : "error")) {
        serve_cached();
        return;
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
    tunnel_ = std::make_unique<Tunnel>(rt_.base, std::move(bev_), std::move(upstream), plan_.location->read_timeout,
                                       [this] {
                                           ++rt_.requests;
                                           close_now();
                                       });
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

}  // namespace ne::proxy
