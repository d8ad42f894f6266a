// What one finished request was, as the access log writes it and the metrics count it. Filled
// in one place (ClientConn) and handed to every consumer from ClientConn::log_request(), once
// per request: proxied, static, `return`, local errors (400/408/413/...), and 101 tunnels
// when they close. Strings are owned and reused from request to request (no allocation once
// their capacity has grown), since the request head they come from is gone by then.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"

namespace ne::proxy {

struct RequestRecord {
    using Clock = std::chrono::steady_clock;

    Clock::time_point start{};           // the first byte of the request head
    std::string_view remote_addr;        // the client (view into the connection, which outlives this)
    std::string_view listen;             // the address it came in on
    std::string method;                  // "" when the head never parsed (a 400)
    std::string target;                  // as received: "/a?b=1"
    int http_minor = 1;                  // HTTP/1.<minor>
    std::string host;                    // the Host header as sent
    std::string referer;
    std::string user_agent;
    std::string request_id;              // as echoed in X-Request-ID

    int server = -1;                     // index into the snapshot's servers, -1 before routing
    const config::Location* location = nullptr;  // null when no location matched
    int status = 0;                      // the status sent; 499 when the client left first
    uint64_t bytes_sent = 0;             // head and body queued to the client
    uint64_t body_bytes_sent = 0;        // the body alone (nginx's $body_bytes_sent)
    double request_seconds = 0;          // first byte in to last byte queued (nginx's $request_time)

    // Every backend tried, nginx-style "127.0.0.1:3000, 127.0.0.1:3001"; "" when not proxied.
    std::string upstream_addr;
    // The time the last try took, from its connect to its last response byte; < 0 when no
    // upstream answered (nginx writes "-").
    double upstream_seconds = -1;

    enum class RateLimit : uint8_t { none, passed, delayed, rejected };
    RateLimit rate_limit = RateLimit::none;

    // Ready for the next request on the connection (keeps string capacity).
    void reset() {
        start = {};
        method.clear();
        target.clear();
        http_minor = 1;
        host.clear();
        referer.clear();
        user_agent.clear();
        request_id.clear();
        server = -1;
        location = nullptr;
        status = 0;
        bytes_sent = body_bytes_sent = 0;
        request_seconds = 0;
        upstream_addr.clear();
        upstream_seconds = -1;
        rate_limit = RateLimit::none;
    }
};

}  // namespace ne::proxy
