// One client (downstream) connection: reads requests with llhttp one at a time (pipelined
// ones wait their turn), enforces the limits (400/405/413/414/431/505) and timeouts (header,
// body, keep-alive idle, keepalive_requests), routes each request, waits for a ready backend
// when there is none, hands the request to an UpstreamConn (retrying another backend when
// that is safe), relays the response, and turns into a Tunnel after a 101.
//
// What a request gets is decided by plan_request() (request_plan.h); this class carries the
// bytes, runs the timers and executes the plan. Its parts, by job:
//   client_conn.cpp      the socket's events, timers and closing
//   client_request.cpp   reading heads, carrying out the plan, finishing a request
//   client_upstream.cpp  the upstream leg: dispatch, retries, the upstream's callbacks, tunnels
//   client_answer.cpp    the proxy's own answers: errors, `return`, static and cached files
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/event_ptr.h"
#include "ipc/unique_fd.h"
#include "proxy/conn/access_record.h"
#include "proxy/conn/connection.h"
#include "proxy/conn/expanded_headers.h"
#include "proxy/conn/request_plan.h"
#include "proxy/conn/zone_context.h"
#include "proxy/cache/step.h"
#include "proxy/static/file_body.h"
#include "proxy/http/gzip.h"
#include "proxy/http/parser.h"
#include "proxy/conn/local_response.h"
#include "proxy/upstream/pool.h"
#include "proxy/upstream/relay.h"
#include "proxy/snapshot.h"
#include "proxy/upstream/upstream_conn.h"

namespace ne::proxy {

class Runtime;

class ClientConn final : public Connection, public UpstreamConn::Owner, public PoolWaiter, public CacheFillWaiter {
public:
    // `bev` is ready to carry HTTP/1.1: a socket, a TLS connection after its handshake, or
    // one end of a pair that an HTTP/2 stream feeds.
    ClientConn(Runtime& rt, BuffereventPtr bev, const ConnFacts& facts);
    ~ClientConn();
    ClientConn(const ClientConn&) = delete;
    ClientConn& operator=(const ClientConn&) = delete;

    void start() override;
    // The worker is quitting: close now when idle, else after the current response.
    void quit() override;

private:
    enum class Phase : uint8_t {
        head,        // reading a request head (or idle between requests)
        queued,      // waiting for a ready backend, a rate-limit delay or a cache fill
        proxying,    // an upstream connection serves the request
        tunnel,      // after a 101: raw bytes both ways
        file,        // a file's body read through a filter (gzip) as the client takes it
        closing,     // flushing the last response
        lingering,   // write side shut; reading and discarding until the client closes
        closed,
    };
    enum class Timer : uint8_t { none, keepalive, header, queue, linger, rate_delay, cache_lock };

    static constexpr MessageParser::Limits kRequestLimits{8192, 16384, 100};
    // The largest head the parser may see before it has decided (see MessageParser's slack).
    static constexpr size_t kMaxRequestHead = kRequestLimits.max_target + kRequestLimits.max_header_bytes + 4096;
    // Reading from the client stays enabled; libevent suspends it by itself while this much
    // input waits (a pipelined request, body bytes the upstream cannot take yet) and resumes
    // once it is consumed. Toggling EV_READ around every request would cost two epoll_ctl
    // calls each.
    static constexpr size_t kMaxClientInput = kMaxRequestHead + 32 * 1024;

    // ---- bytes and timers (client_conn.cpp) ----
    static void read_cb(bufferevent*, void* self);
    static void write_cb(bufferevent*, void* self);
    static void event_cb(bufferevent*, short what, void* self);
    static void timer_cb(evutil_socket_t, short, void* self);
    void on_read();
    void on_write();
    void on_event(short what);
    void on_timer();
    void arm(Timer t, std::chrono::milliseconds after);
    void disarm();
    void set_read_timeout(std::chrono::milliseconds t);
    void close_after_flush();
    void start_linger();
    void close_now();
    const config::Server* server() const;
    evbuffer* input() const { return bufferevent_get_input(bev_.get()); }
    evbuffer* output() const { return bufferevent_get_output(bev_.get()); }

    // ---- the request: its head, its plan, its end (client_request.cpp) ----
    void next_request();
    void read_heads();
    void handle_head();
    void take_request_id();
    // Carries out plan_ once the head has left the input (after a rate-limit delay too).
    void proceed();
    void answer_return();
    void finish_request();
    void log_request();
    std::string_view request_id() const { return {req_id_.data(), req_id_len_}; }

    // ---- the upstream leg (client_upstream.cpp) ----
    // While the head's views are valid: the request head for the backend, the body pump, the
    // cache lookup.
    void prepare_upstream(const RequestFacts& facts);
    // The cache's clock: wall time, the same in every proxy worker.
    static uint64_t cache_clock_ms();
    void start_proxying();
    void dispatch();
    void pump_request_body();
    void start_tunnel();
    void drop_upstream();
    void release_backend();
    // UpstreamConn::Owner
    void upstream_connected() override;
    void upstream_writable() override;
    void upstream_head(const MessageParser& response) override;
    void upstream_body_moved() override;
    void upstream_done(bool reusable) override;
    void upstream_failed(UpstreamConn::Failure f) override;
    // PoolWaiter
    void on_backend_ready() override;
    // CacheFillWaiter: a fill ended somewhere; look again.
    void cache_fill_ended() override;

    // ---- the proxy's own answers and files (client_answer.cpp) ----
    // `headers`: besides the error page's own (a static 405's Allow, a 416's Content-Range).
    void respond(int status, bool may_keep_alive = true, std::span<const Header> headers = {});
    void send_local(LocalResponse& r, bool may_keep_alive);
    // Whether the answer being written keeps the connection (and records the decision).
    bool settle_keep_alive(bool may_keep_alive);
    // The proxy's own answer is queued whole: send it and go on to the next request.
    void end_local_response();
    void serve_static(StaticPlan& plan);
    // Answers with a file's range (a static file, a cache file): copied behind the head when
    // small (kCopiedFileBytes), else sendfile, or read through gzip when the response is
    // compressed. `has_length`: the head states `length`. `preread`: the range's bytes when
    // the caller read them already (a small cache file is read whole), else empty.
    void send_file_answer(int status, std::span<const Header> headers, UniqueFd fd, std::string_view path,
                          uint64_t offset, uint64_t length, bool body, bool has_length,
                          std::string_view preread = {});
    void serve_cached();
    void pump_file();

    Runtime& rt_;
    BuffereventPtr bev_;
    EventPtr timer_;
    Timer timer_kind_ = Timer::none;
    std::string_view listen_;
    std::string_view scheme_;                   // X-Forwarded-Proto; "http" may redirect_https
    size_t output_high_;                        // ConnFacts::output_high
    std::array<char, 46> ip_{};                 // INET6_ADDRSTRLEN
    std::string_view ip_view_;
    std::array<uint8_t, 16> hash_key_{};        // ip_hash: IPv4 /24 or IPv6 address
    size_t hash_key_len_ = 0;
    MessageParser parser_;
    ZoneContext zone_context_;
    Phase phase_ = Phase::head;
    int served_ = 0;                            // requests answered on this connection
    bool quit_ = false;
    bool in_head_loop_ = false;
    std::string upstream_head_;                 // reused; kept whole for retries
    std::string sticky_sent_;                   // the sticky cookie's value the client sent
    std::string sticky_set_;                    // Set-Cookie naming the backend chosen; "" if none
    std::string client_head_;                   // reused

    // ---- the current request ----
    std::shared_ptr<const Snapshot> snap_;
    RequestPlan plan_;                          // reused: what to do with it
    std::array<char, 200> req_id_{};
    size_t req_id_len_ = 0;
    bool keep_alive_ = true;                    // plan_.keep_alive, until the answer says otherwise
    bool sent_continue_ = false;
    bool body_started_ = false;                 // the upstream is connected; body may flow
    bool body_done_ = true;                     // the request body has been read whole
    bool response_started_ = false;             // a response byte went to the client
    bool response_paused_ = false;              // upstream reads stopped: client output full
    bool fresh_only_ = false;                   // after a stale keep-alive connection
    BodyPump req_pump_;
    std::unique_ptr<UpstreamConn> up_;
    std::shared_ptr<Backend> backend_;          // counted in its in_flight while held
    std::array<uint64_t, 3> tried_{};
    size_t tried_count_ = 0;
    size_t max_tries_ = 1;
    std::unique_ptr<Tunnel> tunnel_;
    ExpandedHeaders proxy_headers_;
    GzipStep gzip_;
    FileBody file_body_;                        // Phase::file
    CacheStep cache_;
    CacheStep::Action cache_action_ = CacheStep::Action::proxy;
    // After bev_ and tunnel_: it stops counting their output before they go.
    AccessRecord record_;
};

}  // namespace ne::proxy
