// One client (downstream) connection: reads requests with llhttp one at a time (pipelined
// ones wait their turn), enforces the limits (400/405/413/414/431/505) and timeouts (header,
// body, keep-alive idle, keepalive_requests), routes each request, waits for a ready backend
// when there is none, hands the request to an UpstreamConn (retrying another backend when
// that is safe), relays the response, and turns into a Tunnel after a 101.
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
#include "proxy/conn/connection.h"
#include "proxy/cache/step.h"
#include "proxy/static/file_body.h"
#include "proxy/http/gzip.h"
#include "proxy/http/parser.h"
#include "proxy/conn/local_response.h"
#include "proxy/upstream/pool.h"
#include "proxy/upstream/relay.h"
#include "proxy/log/request_record.h"
#include "proxy/snapshot.h"
#include "proxy/upstream/upstream_conn.h"
#include "proxy/route/variables.h"

namespace ne::proxy {

class Runtime;

class ClientConn final : public Connection, public UpstreamConn::Owner, public PoolWaiter {
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
        queued,      // waiting for a ready backend
        proxying,    // an upstream connection serves the request
        tunnel,      // after a 101: raw bytes both ways
        file,        // a file's body read through a filter (gzip) as the client takes it
        closing,     // flushing the last response
        lingering,   // write side shut; reading and discarding until the client closes
        closed,
    };
    enum class Timer : uint8_t { none, keepalive, header, queue, linger, rate_delay, cache_lock };

    // libevent trampolines
    static void read_cb(bufferevent*, void* self);
    static void write_cb(bufferevent*, void* self);
    static void event_cb(bufferevent*, short what, void* self);
    static void timer_cb(evutil_socket_t, short, void* self);
    void on_read();
    void on_write();
    void on_event(short what);
    void on_timer();

    // request cycle
    void next_request();
    void read_heads();
    void handle_head();
    // Counts the request in its location's rate_limit bucket: 0 to go on now, a status to
    // reject it with (Retry-After set), or `delay_ms_` set to hold it first.
    int limit_rate(const RateRule& rule);
    // What a routed request does once its head has left the input (after a rate-limit delay).
    void proceed();
    void answer_return();
    void dispatch();
    void pump_request_body();
    void finish_request();
    void start_tunnel();
    void serve_static(StaticPlan& plan);
    void pump_file();
    // Answers with a file's range (a static file, a cache file): copied behind the head when
    // small (kCopiedFileBytes), else sendfile, or read through gzip when the response is
    // compressed. `has_length`: the head states `length`. `preread`: the range's bytes when
    // the caller read them already (a small cache file is read whole), else empty.
    void send_file_answer(int status, std::span<const Header> headers, UniqueFd fd, std::string_view path,
                          uint64_t offset, uint64_t length, bool body, bool has_length,
                          std::string_view preread = {});
    void serve_cached();
    void start_proxying();

    // UpstreamConn::Owner
    void upstream_connected() override;
    void upstream_writable() override;
    void upstream_head(const MessageParser& response) override;
    void upstream_body_moved() override;
    void upstream_done(bool reusable) override;
    void upstream_failed(UpstreamConn::Failure f) override;
    // PoolWaiter
    void on_backend_ready() override;

    // endings
    // `headers`: besides the error page's own (a static 405's Allow, a 416's Content-Range).
    void respond(int status, bool may_keep_alive = true, std::span<const Header> headers = {});
    void send_local(LocalResponse& r, bool may_keep_alive);
    // Whether the answer being written keeps the connection (and records the decision).
    bool settle_keep_alive(bool may_keep_alive);
    // The proxy's own answer is queued whole: send it and go on to the next request.
    void end_local_response();
    void drop_upstream();
    void release_backend();
    void close_after_flush();
    void start_linger();
    void close_now();
    // The one place a finished request is reported: the access log (and metrics) read rec_.
    // Called when the response is queued whole, when a tunnel closes, and when a connection
    // closes under a request; at most once per request.
    void log_request();
    static void output_cb(evbuffer*, const evbuffer_cb_info* info, void* self);
    // $host, $request_uri, ... of the current request, for `return` and `proxy_headers`.
    // redirect_https: "https://host[:port]/target" (port: TlsContexts::https_port).
    std::string_view https_location(std::string_view authority);
    RequestVars request_vars(std::string_view authority);

    void arm(Timer t, std::chrono::milliseconds after);
    void disarm();
    void set_read_timeout(std::chrono::milliseconds t);
    const config::Server* server() const;
    std::string_view request_id() const { return {req_id_.data(), req_id_len_}; }
    evbuffer* input() const { return bufferevent_get_input(bev_.get()); }
    evbuffer* output() const { return bufferevent_get_output(bev_.get()); }

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
    Phase phase_ = Phase::head;
    int served_ = 0;                            // requests answered on this connection
    bool quit_ = false;
    bool in_head_loop_ = false;
    std::string upstream_head_;                 // reused; kept whole for retries
    std::string client_head_;                   // reused

    // ---- the current request ----
    std::shared_ptr<const Snapshot> snap_;
    int server_ = -1;
    const config::Location* loc_ = nullptr;
    LocationRoute route_;
    std::array<char, 200> req_id_{};
    size_t req_id_len_ = 0;
    bool keep_alive_ = true;
    bool http10_ = false;
    bool head_request_ = false;
    bool idempotent_ = false;
    bool upgrade_ = false;
    bool expect_continue_ = false;
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
    std::optional<StaticPlan> files_;           // a static answer decided, not sent yet
    uint64_t delay_ms_ = 0;                     // rate_limit: hold the request this long
    std::array<char, 12> retry_after_{};        // rate_limit: Retry-After of a rejection
    std::string return_text_;                   // reused: an expanded `return` URL or text
    std::string proxy_header_text_;             // reused: expanded proxy_headers values
    std::vector<Header> proxy_header_views_;    // reused: views into proxy_header_text_
    std::vector<size_t> proxy_header_ends_;     // reused: where each value ends in the text
    std::array<char, 256> host_buf_{};          // $host, normalised
    std::string https_location_;                // redirect_https: where to

    // ---- what log_request() reports ----
    RequestRecord rec_;
    bool rec_active_ = false;                   // a request began and is not reported yet
    uint64_t out_bytes_ = 0;                    // every byte queued to the client so far
    uint64_t out_mark_ = 0;                     // out_bytes_ when the current request began
    uint64_t head_bytes_ = 0;                   // the current response's head
    RequestRecord::Clock::time_point up_start_{};
    evbuffer* counted_out_ = nullptr;           // the output output_cb counts
    evbuffer_cb_entry* out_cb_ = nullptr;
    GzipStep gzip_;
    FileBody file_body_;                        // Phase::file
    CacheStep cache_;
    CacheStep::Action cache_action_ = CacheStep::Action::proxy;
};

}  // namespace ne::proxy
