#include "proxy/conn/client_conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

#include "proxy/upstream/balancer.h"
#include "proxy/http/forward_headers.h"
#include "proxy/conn/local_response.h"
#include "proxy/http/request_id.h"
#include "proxy/route/router.h"
#include "proxy/runtime.h"
#include "proxy/to_timeval.h"
#include "proxy/route/variables.h"

namespace ne::proxy {

namespace {

using std::chrono::milliseconds;

constexpr MessageParser::Limits kRequestLimits{8192, 16384, 100};
// The largest head the parser may see before it has decided (see MessageParser's slack).
constexpr size_t kMaxRequestHead = kRequestLimits.max_target + kRequestLimits.max_header_bytes + 4096;
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

// The cache's clock: wall time, the same in every proxy worker.
uint64_t wall_ms() {
    using namespace std::chrono;
    return static_cast<uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

double seconds_since(RequestRecord::Clock::time_point t) {
    return std::chrono::duration<double>(RequestRecord::Clock::now() - t).count();
}

std::vector<Header> header_views(const StaticPlan& plan) {
    std::vector<Header> out;
    out.reserve(plan.headers.size());
    for (const auto& [name, value] : plan.headers) out.push_back({name, value});
    return out;
}

}  // namespace

ClientConn::ClientConn(Runtime& rt, BuffereventPtr bev, const ConnFacts& facts)
    : rt_(rt), bev_(std::move(bev)), listen_(facts.listen), scheme_(facts.scheme), output_high_(facts.output_high),
      parser_(MessageParser::Type::request, kRequestLimits) {
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
    // Bytes sent are counted where they enter the output, whoever adds them (heads, relayed
    // bodies, sendfile segments, gzip), for the access log.
    counted_out_ = output();
    out_cb_ = evbuffer_add_cb(counted_out_, output_cb, this);
}

ClientConn::~ClientConn() {
    if (out_cb_) evbuffer_remove_cb_entry(counted_out_, out_cb_);  // bev_ or tunnel_ still owns it
    if (route_.pool) route_.pool->cancel(*this);
    release_backend();
}

void ClientConn::output_cb(evbuffer*, const evbuffer_cb_info* info, void* self) {
    static_cast<ClientConn*>(self)->out_bytes_ += info->n_added;
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
            cache_action_ = cache_.retry(wall_ms());
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
    files_.reset();
    delay_ms_ = 0;
    gzip_.end(rt_.gzip);
    file_body_.stop();
    cache_.end();
    cache_action_ = CacheStep::Action::proxy;
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
        if (!rec_active_) {
            rec_.reset();
            rec_.start = RequestRecord::Clock::now();
            rec_.remote_addr = ip_view_;
            rec_.listen = listen_;
            out_mark_ = out_bytes_;
            head_bytes_ = 0;
            rec_active_ = true;
        }
        if (evbuffer_get_length(output()) >= output_high_) break;  // on_write() resumes
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
    gzip_.request(parser_.header("accept-encoding"), head_request_);
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
    rec_.method = parser_.method_name();
    rec_.target = parser_.target();
    rec_.http_minor = parser_.http_minor();
    rec_.host = parser_.header("host");
    rec_.referer = parser_.header("referer");
    rec_.user_agent = parser_.header("user-agent");
    rec_.request_id = request_id();

    // Decide while the head's views are valid; answer after the head has left the buffer.
    int status = 0;
    std::span<const Header> status_headers;
    Header retry_after;
    Header location;
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
        } else if (srv->redirect_https && scheme_ != "https") {
            status = 301;
            location = {"Location", https_location(authority)};
            status_headers = {&location, 1};
        } else if (parser_.framing() == Framing::length && parser_.content_length() > srv->client_max_body_size) {
            status = 413;
        } else if (li < 0) {
            status = 404;
        } else {
            loc_ = &srv->locations[static_cast<size_t>(li)];
            route_ = snap_->locations[static_cast<size_t>(server_)][static_cast<size_t>(li)];
            rec_.server = server_;
            rec_.location = loc_;
            const LocationPlan& plan = *route_.plan;
            const bool readable = parser_.method() == HTTP_GET || parser_.method() == HTTP_HEAD;
            if (plan.rate && (status = limit_rate(*plan.rate)) != 0) {
                retry_after = {"Retry-After", retry_after_.data()};
                status_headers = {&retry_after, 1};
            } else if (plan.ret) {
                return_text_.clear();
                expand(plan.ret->text, request_vars(authority), return_text_);
            } else if (route_.files && (readable || !route_.pool)) {
                files_ = route_.files->plan(static_request(parser_), std::time(nullptr));
                // Files and an app: like nginx's `try_files $uri @app`, only a file that
                // exists is served here; a missing one (or a directory) is the app's.
                if (route_.pool && files_->missing) files_.reset();
            } else if (!route_.pool) {
                status = 500;  // a `return` that did not parse (logged when the config came)
            }
        }
    }
    if (status == 0 && route_.pool && !files_ && !route_.plan->ret) {
        upgrade_ = parser_.upgrade() && loc_->websocket && parser_.method() == HTTP_GET;
        expect_continue_ = !body_done_ && !http10_ && header_is(trim_ows(parser_.header("expect")), "100-continue");
        UpstreamRequest req;
        req.method = parser_.method_name();
        req.target = split_target(parser_.target()).origin;
        req.headers = parser_.headers();
        req.host_override = authority;
        req.default_host = server()->server_name.empty() ? listen_ : std::string_view(server()->server_name.front());
        req.client_ip = ip_view_;
        req.proto = scheme_;
        req.request_id = request_id();
        req.upgrade = upgrade_;
        req.framing = parser_.framing();
        req.content_length = parser_.content_length();
        if (!route_.plan->proxy_headers.empty()) {
            const RequestVars vars = request_vars(authority);
            const auto& wanted = route_.plan->proxy_headers;
            proxy_header_text_.clear();
            proxy_header_ends_.clear();
            for (const auto& h : wanted) {
                expand(h.value, vars, proxy_header_text_);
                proxy_header_ends_.push_back(proxy_header_text_.size());
            }
            // Views once the text has stopped growing.
            proxy_header_views_.clear();
            const std::string_view text = proxy_header_text_;
            for (size_t i = 0, at = 0; i < wanted.size(); at = proxy_header_ends_[i++])
                proxy_header_views_.push_back({wanted[i].name, text.substr(at, proxy_header_ends_[i] - at)});
            req.set_headers = proxy_header_views_;
        }
        upstream_head_.clear();
        write_upstream_request(req, upstream_head_);
        req_pump_.start(parser_.framing(), parser_.content_length(), parser_.framing(),
                        server()->client_max_body_size);
        cache_action_ = CacheStep::Action::proxy;
        if (loc_->cache.enabled) {
            const std::string scope = std::string(listen_) + " " + loc_->path;
            cache_action_ = cache_.begin(rt_.cache.get(), loc_->cache, scope, parser_.method_name(), parser_.headers(),
                                         scheme_, authority.empty() ? parser_.header("host") : authority,
                                         req.target, wall_ms());
        }
    }
    evbuffer_drain(input(), parser_.head_size());  // the views end here

    if (status != 0) {
        respond(status, status == 404 || status == 500 || status == 503 || !status_headers.empty(),
                status_headers);
        return;
    }
    if (delay_ms_ > 0) {
        phase_ = Phase::queued;  // the body (if any) waits in the input meanwhile
        arm(Timer::rate_delay, milliseconds{delay_ms_});
        return;
    }
    proceed();
}

int ClientConn::limit_rate(const RateRule& rule) {
    if (!rt_.zone) return 0;  // started without a zone (logged at start)
    const std::string_view key = rule.header.empty() ? ip_view_ : parser_.header(rule.header);
    if (key.empty()) return 0;  // nginx: an empty key is not limited
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const uint64_t now_ms = static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
    auto d = rt_.zone->limit(rt_.zone->key_hash(rule.scope, key), now_ms, rule.limit);
    if (!d) {
        spdlog::error("rate_limit {}: {}; letting the request through", rule.scope, d.error().message);
        return 0;
    }
    if (d->reject) {
        rec_.rate_limit = RequestRecord::RateLimit::rejected;
        auto [end, ec] = std::to_chars(retry_after_.data(), retry_after_.data() + retry_after_.size() - 1,
                                       d->retry_after_s);
        *end = '\0';
        spdlog::debug("rate_limit {}: rejecting {}, excess {}.{:03}", rule.scope, key, d->excess / 1000,
                      d->excess % 1000);
        return rule.status;
    }
    delay_ms_ = d->delay_ms;
    rec_.rate_limit = delay_ms_ > 0 ? RequestRecord::RateLimit::delayed : RequestRecord::RateLimit::passed;
    return 0;
}

void ClientConn::proceed() {
    if (route_.plan->ret) {
        answer_return();
        return;
    }
    if (files_) {
        serve_static(*files_);
        return;
    }
    switch (cache_action_) {
        case CacheStep::Action::serve:
            serve_cached();
            return;
        case CacheStep::Action::wait:
            phase_ = Phase::queued;
            arm(Timer::cache_lock, milliseconds{CacheStep::kRetryMs});
            return;
        case CacheStep::Action::proxy:
            break;
    }
    start_proxying();
}

void ClientConn::answer_return() {
    const config::ReturnSpec& spec = *route_.plan->ret;
    LocalResponse r;
    r.status = spec.code;
    r.no_store = false;
    const Header location{"Location", return_text_};
    if (spec.redirect()) {
        r.headers = {&location, 1};
    } else if (!return_text_.empty()) {
        r.page = return_text_;
        r.content_type = "text/plain; charset=utf-8";
    } else if (uses_error_page(spec.code)) {
        r.page = snap_->error_page;
    }
    // The request body, if any, is not read: like any local answer, keep the connection
    // only when there is none.
    send_local(r, true);
}

std::string_view ClientConn::https_location(std::string_view authority) {
    const RequestVars v = request_vars(authority);
    const int port = snap_->tls.https_port(server_);
    https_location_.assign("https://").append(v.host);
    if (port != 443) https_location_.append(":").append(std::to_string(port));
    https_location_.append(v.target);
    return https_location_;
}

RequestVars ClientConn::request_vars(std::string_view authority) {
    std::string_view host = authority.empty() ? parser_.header("host") : authority;
    if (host.empty())
        host = server()->server_name.empty() ? std::string_view{} : std::string_view(server()->server_name.front());
    RequestVars v;
    v.scheme = scheme_;
    v.host = normalize_host(host, host_buf_.data(), host_buf_.size());
    v.target = split_target(parser_.target()).origin;
    v.remote_addr = ip_view_;
    v.request_id = request_id();
    const size_t colon = listen_.rfind(':');
    v.server_port = colon == std::string_view::npos ? std::string_view{} : listen_.substr(colon + 1);
    return v;
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
    if (!rec_.upstream_addr.empty()) rec_.upstream_addr.append(", ");
    rec_.upstream_addr.append(b->address);
    up_start_ = RequestRecord::Clock::now();
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
        rec_.status = status;
        rec_.upstream_seconds = seconds_since(up_start_);
        head_bytes_ = client_head_.size();
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
    const GzipDecision gz = in == Framing::none
        ? GzipDecision{}
        : gzip_.response(response_query(status, resp.headers(),
                                        in == Framing::length ? std::optional(resp.content_length()) : std::nullopt),
                         server()->gzip, rt_.gzip);
    r.vary_accept_encoding = gz.vary;
    r.gzip = gz.compress;
    Framing out = in;
    if (in == Framing::chunked || in == Framing::until_close || gz.compress)
        out = http10_ ? Framing::until_close : Framing::chunked;
    // A body we did not read whole cannot be skipped to reach the next request.
    if (out == Framing::until_close || !body_done_) keep_alive_ = false;
    r.framing = out;
    r.has_length = !gz.compress && (in == Framing::length || (in == Framing::none && resp.has_content_length() && status != 204));
    r.content_length = resp.content_length();
    r.keep_alive = keep_alive_;
    r.cache_status = cache_status_name(cache_.status());
    client_head_.clear();
    write_client_response(r, client_head_);
    rec_.status = status;
    head_bytes_ = client_head_.size();
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
    rec_.upstream_seconds = seconds_since(up_start_);
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
    if (backend_) rec_.upstream_seconds = seconds_since(up_start_);
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
    // 200/206 state the file's length (HEAD too); a 301 has an empty body; a 304 says nothing.
    send_file_answer(plan.status, headers, std::move(plan.fd), plan.path, plan.offset, plan.length, plan.body,
                     plan.status != 304);
}

void ClientConn::send_file_answer(int status, std::span<const Header> headers, UniqueFd fd, std::string_view path,
                                  uint64_t offset, uint64_t length, bool body, bool has_length,
                                  std::string_view preread) {
    const GzipDecision gz = gzip_.response(response_query(status, headers, length), server()->gzip, rt_.gzip);
    const bool compress = gz.compress && body;
    ClientResponse r;
    r.status = status;
    r.headers = headers;
    r.request_id = request_id();
    r.extra = &server()->headers;
    r.client_http10 = http10_;
    r.keep_alive = settle_keep_alive(!(compress && http10_));
    r.gzip = compress;
    r.vary_accept_encoding = gz.vary;
    r.cache_status = cache_status_name(cache_.status());
    // Compressed, the length is known only at the end.
    r.framing = compress ? (http10_ ? Framing::until_close : Framing::chunked)
                         : body ? Framing::length : Framing::none;
    r.has_length = !compress && has_length;
    r.content_length = length;
    client_head_.clear();
    write_client_response(r, client_head_);
    rec_.status = status;
    head_bytes_ = client_head_.size();
    evbuffer_add(output(), client_head_.data(), client_head_.size());
    if (compress) {
        file_body_.start(std::move(fd), path, offset, length, *gzip_.filter(), r.framing);
        phase_ = Phase::file;
        response_started_ = true;
        pump_file();
        return;
    }
    if (body && preread.size() == length) {
        evbuffer_add(output(), preread.data(), preread.size());
    } else if (body && length <= kCopiedFileBytes) {
        if (Status s = append_file_range(output(), fd.get(), path, offset, length); !s) {
            spdlog::error("{} for {}", s.error().message, request_id());
            close_now();  // the head is queued already; only a close can tell the client
            return;
        }
    } else if (body) {
        // sendfile(2) from the page cache; the evbuffer closes the fd once it is sent.
        if (evbuffer_add_file(output(), fd.get(), static_cast<ev_off_t>(offset), static_cast<ev_off_t>(length)) != 0) {
            spdlog::error("file {} for {}: cannot queue it for sending", path, request_id());
            close_now();  // the head went out already; only a close can tell the client
            return;
        }
        fd.release();
    }
    end_local_response();
}

void ClientConn::serve_cached() {
    auto cached = cache_.open();
    if (!cached) {
        spdlog::warn("{} (for {}); asking the app", cached.error().message, request_id());
        start_proxying();
        return;
    }
    send_file_answer(cached->status, cached->headers, std::move(cached->fd), "cache file", cached->body_offset,
                     cached->body_length, !head_request_, true, cached->body);
}

void ClientConn::start_proxying() {
    max_tries_ = std::clamp<size_t>(route_.pool->ready_count(), 1, tried_.size());
    dispatch();
}

void ClientConn::pump_file() {
    switch (file_body_.pump(output(), output_high_)) {
        case FileBody::Step::more:
            send_now(bev_.get());  // on_write() comes back once the client took most of it
            return;
        case FileBody::Step::done:
            end_local_response();
            return;
        case FileBody::Step::failed:
            spdlog::error("static file for {}: {}", request_id(), file_body_.error());
            close_now();  // the head went out already; only a close can tell the client
            return;
    }
}

void ClientConn::finish_request() {
    ++rt_.requests;
    ++served_;
    log_request();
    if (!keep_alive_ || !body_done_ || quit_ || rt_.quitting) {
        close_after_flush();
        return;
    }
    next_request();
}

// ---- endings -------------------------------------------------------------------------------

void ClientConn::respond(int status, bool may_keep_alive, std::span<const Header> headers) {
    const Snapshot* snap = snap_ ? snap_.get() : rt_.snapshot.get();
    LocalResponse r;
    r.status = status;
    r.headers = headers;
    if (snap && uses_error_page(status)) r.page = snap->error_page;
    send_local(r, may_keep_alive);
}

void ClientConn::send_local(LocalResponse& r, bool may_keep_alive) {
    if (req_id_len_ == 0) {
        rt_.ids.next(req_id_.data());
        req_id_len_ = RequestIds::kLength;
        rec_.request_id = request_id();
    }
    r.request_id = request_id();
    r.extra = &server()->headers;
    r.keep_alive = settle_keep_alive(may_keep_alive);
    r.client_http10 = http10_;
    r.head_request = head_request_;
    client_head_.clear();
    write_local_response(r, client_head_);
    rec_.status = r.status;
    head_bytes_ = client_head_.find("\r\n\r\n") + 4;
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
    shut_write(bev_.get());
    evbuffer_drain(input(), evbuffer_get_length(input()));
    bufferevent_enable(bev_.get(), EV_READ);
    arm(Timer::linger, kLingerTimeout);
}

void ClientConn::close_now() {
    if (phase_ == Phase::closed) return;
    phase_ = Phase::closed;
    log_request();
    evbuffer_remove_cb_entry(counted_out_, out_cb_);
    out_cb_ = nullptr;
    disarm();
    if (route_.pool) route_.pool->cancel(*this);
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

void ClientConn::log_request() {
    if (!rec_active_) return;
    rec_active_ = false;
    // A connection closed before a head was read whole is not a request (nginx logs nothing
    // for a connection that sent nothing; a partial head that timed out got its 408).
    if (rec_.status == 0 && rec_.method.empty()) return;
    if (rec_.status == 0) rec_.status = 499;  // nginx: the client closed before the answer
    rec_.request_seconds = seconds_since(rec_.start);
    rec_.bytes_sent = out_bytes_ - out_mark_;
    rec_.body_bytes_sent = rec_.bytes_sent > head_bytes_ ? rec_.bytes_sent - head_bytes_ : 0;
    if (!loc_ || loc_->access_log) rt_.access_log.write(rec_);
    rt_.stats.count(snap_, rec_, route_.pool ? std::string_view(route_.pool->name()) : std::string_view());
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
