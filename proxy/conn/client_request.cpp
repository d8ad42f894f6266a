// ClientConn's request cycle: reads a head, has plan_request() decide what the request gets,
// carries the plan out, and finishes the request (log, keep-alive or close).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "proxy/conn/client_conn.h"
#include "proxy/http/request_id.h"
#include "proxy/runtime.h"

namespace ne::proxy {

using std::chrono::milliseconds;

void ClientConn::next_request() {
    phase_ = Phase::head;
    snap_.reset();
    plan_.clear();
    req_id_len_ = 0;
    sent_continue_ = false;
    body_done_ = true;
    response_started_ = response_paused_ = fresh_only_ = false;
    tried_count_ = 0;
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
        record_.begin(ip_view_, listen_);
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
    take_request_id();  // every answer from here on echoes it
    record_.head(parser_, request_id());

    // Decide while the head's views are valid; answer after the head has left the buffer.
    const RequestFacts facts{&parser_, listen_, scheme_, ip_view_, request_id(), served_, quit_ || rt_.quitting};
    plan_request(facts, snap_.get(), zone_context_, plan_);
    keep_alive_ = plan_.keep_alive;
    body_done_ = parser_.framing() == Framing::none;
    gzip_.request(parser_.header("accept-encoding"), plan_.head_request);
    if (plan_.location) record_.routed(plan_.server, plan_.location);
    record_.rate_limit(plan_.rate);
    if (plan_.action == RequestPlan::Action::proxy || plan_.action == RequestPlan::Action::tunnel)
        prepare_upstream(facts);
    evbuffer_drain(input(), parser_.head_size());  // the views end here

    if (plan_.delay_ms > 0) {
        phase_ = Phase::queued;  // the body (if any) waits in the input meanwhile
        arm(Timer::rate_delay, milliseconds{plan_.delay_ms});
        return;
    }
    proceed();
}

void ClientConn::take_request_id() {
    std::string_view given = parser_.header("x-request-id");
    if (sane_request_id(given)) {
        std::memcpy(req_id_.data(), given.data(), given.size());
        req_id_len_ = given.size();
    } else {
        rt_.ids.next(req_id_.data());
        req_id_len_ = RequestIds::kLength;
    }
}

void ClientConn::proceed() {
    switch (plan_.action) {
        case RequestPlan::Action::respond:
            respond(plan_.status, true, plan_.headers());
            return;
        case RequestPlan::Action::ret:
            answer_return();
            return;
        case RequestPlan::Action::static_file:
            serve_static(*plan_.files);
            return;
        case RequestPlan::Action::proxy:
        case RequestPlan::Action::tunnel:
            break;
    }
    switch (cache_action_) {
        case CacheStep::Action::serve:
            serve_cached();
            return;
        case CacheStep::Action::wait:
            phase_ = Phase::queued;
            // Woken when a fill ends (cache_fill_ended); the timer is lock_timeout's end.
            if (rt_.cache_fills) rt_.cache_fills->wait(*this);
            arm(Timer::cache_lock, milliseconds{cache_.wait_left_ms(cache_clock_ms())});
            return;
        case CacheStep::Action::proxy:
            break;
    }
    start_proxying();
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

void ClientConn::log_request() {
    record_.report(rt_.access_log, rt_.stats, snap_,
                   plan_.route.pool ? std::string_view(plan_.route.pool->name()) : std::string_view());
}

}  // namespace ne::proxy
