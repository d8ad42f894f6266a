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
#include <span>
#include <string>
#include <string_view>

#include "ipc/event_ptr.h"
#include "ipc/unique_fd.h"
#include "proxy/http_parser.h"
#include "proxy/pool.h"
#include "proxy/relay.h"
#include "proxy/snapshot.h"
#include "proxy/upstream_conn.h"

namespace ne::proxy {

class Runtime;

class ClientConn final : public UpstreamConn::Owner, public PoolWaiter {
public:
    ClientConn(Runtime& rt, UniqueFd fd, const sockaddr* peer, std::string_view listen);
    ~ClientConn();
    ClientConn(const ClientConn&) = delete;
    ClientConn& operator=(const ClientConn&) = delete;

    void start();
    // The worker is quitting: close now when idle, else after the current response.
    void quit();

private:
    enum class Phase : uint8_t {
        head,        // reading a request head (or idle between requests)
        queued,      // waiting for a ready backend
        proxying,    // an upstream connection serves the request
        tunnel,      // after a 101: raw bytes both ways
        closing,     // flushing the last response
        lingering,   // write side shut; reading and discarding until the client closes
        closed,
    };
    enum class Timer : uint8_t { none, keepalive, header, queue, linger };

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
    void dispatch();
    void pump_request_body();
    void finish_request();
    void start_tunnel();
    void serve_static(StaticPlan& plan);

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
    // Whether the answer being written keeps the connection (and records the decision).
    bool settle_keep_alive(bool may_keep_alive);
    // The proxy's own answer is queued whole: send it and go on to the next request.
    void end_local_response();
    void drop_upstream();
    void release_backend();
    void close_after_flush();
    void start_linger();
    void close_now();

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
};

}  // namespace ne::proxy
