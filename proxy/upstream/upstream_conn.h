// The upstream side of a proxied request: one TCP connection to a backend, the response
// parsed with llhttp and its body pumped into the client's output; and the per-worker pool of
// idle keep-alive connections, per backend.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "ipc/event_ptr.h"
#include "ipc/result.h"
#include "proxy/http/parser.h"
#include "proxy/upstream/h2c_bridge.h"
#include "proxy/upstream/pool.h"
#include "proxy/reaper.h"
#include "proxy/upstream/relay.h"

namespace ne::proxy {

class IdleConnections;

class UpstreamConn {
public:
    enum class Failure : uint8_t {
        connect,        // refused, unreachable, connect timeout
        closed_early,   // closed or reset before any response byte
        timeout,        // read_timeout / send_timeout passed
        bad_response,   // unparsable or unexpected response head
        closed_mid,     // closed in the middle of a response body
    };

    // The request using the connection. Callbacks come from the loop, never from inside a
    // call the owner made, except where noted.
    class Owner {
    public:
        virtual void upstream_connected() = 0;
        // The request output drained below the low watermark: more body may be written.
        virtual void upstream_writable() = 0;
        // The response head; the views in `response` are valid during this call only. The
        // owner answers with start_body() or release(), or drops the connection.
        virtual void upstream_head(const MessageParser& response) = 0;
        // Body bytes were added to the destination given to start_body().
        virtual void upstream_body_moved() = 0;
        // The response is complete; `reusable`: the connection may serve another request.
        virtual void upstream_done(bool reusable) = 0;
        virtual void upstream_failed(Failure f) = 0;

    protected:
        ~Owner() = default;
    };

    struct Timeouts {
        std::chrono::milliseconds connect{5000};
        std::chrono::milliseconds read{60000};
        std::chrono::milliseconds send{60000};
    };

    // `h2c`: the backend speaks HTTP/2 in cleartext (gRPC); an H2cBridge translates, and the
    // connection serves one request.
    UpstreamConn(event_base* base, std::shared_ptr<Backend> backend, bool h2c = false);
    ~UpstreamConn();
    UpstreamConn(const UpstreamConn&) = delete;
    UpstreamConn& operator=(const UpstreamConn&) = delete;

    // Binds the connection to a request (`head_request`: the response has no body).
    void attach(Owner& owner, const Timeouts& t, bool head_request);
    // Starts connecting; an error (with the backend's address and errno text) when the
    // connect fails at once. Later failures arrive as upstream_failed(connect).
    Status connect();

    evbuffer* output() const { return bufferevent_get_output(bev_.get()); }
    // Writes what was appended to output() (see send_now); while connecting it waits.
    void flush();
    // The whole request has been written: the read timeout starts.
    void request_sent();
    // After upstream_head(): pump the body into `dst`, framed as `out`, through `filter` when
    // given (gzip, the cache's copy). Ends the head's views. May call upstream_body_moved/
    // upstream_done before returning, as may resume_reading().
    void start_body(evbuffer* dst, Framing out, BodyFilter* filter = nullptr);
    // Back-pressure from the client side.
    void pause_reading();
    void resume_reading();

    // Hands the socket over (a 101: the tunnel takes it), head bytes already consumed. The
    // connection is spent afterwards.
    BuffereventPtr release();

    // The request no longer wants it: no callback fires from now on (the owner disposes of it).
    void abandon();

    Backend& backend() const { return *backend_; }
    bool reused() const { return reused_; }

private:
    friend class IdleConnections;
    enum class State : uint8_t { connecting, head, body, done, idle, spent };

    static void read_cb(bufferevent*, void* self);
    static void write_cb(bufferevent*, void* self);
    static void event_cb(bufferevent*, short what, void* self);
    void on_read();
    void on_event(short what);
    void read_head();
    void pump_body();
    void finish_response();
    void fail(Failure f);
    void set_timeouts(std::chrono::milliseconds read, std::chrono::milliseconds write);
    Status connect_h2c();

    // Keep-alive pool hooks.
    void park(IdleConnections& pool, std::chrono::milliseconds idle_timeout);
    void unpark();

    event_base* base_;
    std::shared_ptr<Backend> backend_;  // keeps a removed backend alive while we use it
    BuffereventPtr bev_;
    std::unique_ptr<H2cBridge> h2c_;    // after bev_: goes first
    bool speaks_h2c_ = false;
    MessageParser parser_;
    BodyPump pump_;
    Owner* owner_ = nullptr;
    IdleConnections* parked_in_ = nullptr;
    Timeouts timeouts_;
    evbuffer* dst_ = nullptr;
    State state_ = State::connecting;
    bool head_request_ = false;
    bool reused_ = false;
    bool got_bytes_ = false;     // any response byte for the current request
    bool paused_ = false;
};

// Idle keep-alive connections of one proxy worker, per backend. An idle connection is closed
// when the backend closes it, when the backend stops being ready, and after its location's
// keepalive_timeout: 4 s by default, shorter than Node's default keepAliveTimeout (5 s), so
// that it is us, never Node, who closes an idle connection, and no request is written into a
// socket Node is closing.
class IdleConnections {
public:
    explicit IdleConnections(Reaper& reaper) : reaper_(reaper) {}
    IdleConnections(const IdleConnections&) = delete;
    IdleConnections& operator=(const IdleConnections&) = delete;

    // Keeps `c` unless its backend is no longer ready or `max_idle` already wait for it.
    void put(std::unique_ptr<UpstreamConn> c, size_t max_idle, std::chrono::milliseconds idle_timeout);
    // The most recently used idle connection to `backend_id`, or nullptr.
    std::unique_ptr<UpstreamConn> take(uint64_t backend_id);
    void close_for(uint64_t backend_id);
    void clear();
    size_t size() const;

private:
    friend class UpstreamConn;
    void lost(UpstreamConn& c);

    Reaper& reaper_;
    std::unordered_map<uint64_t, std::vector<std::unique_ptr<UpstreamConn>>> idle_;
};

}  // namespace ne::proxy
