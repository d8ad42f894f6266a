// Moving bytes from one connection to the other without holding a body whole: a message body
// re-framed for the next hop (BodyPump), and a raw WebSocket/Upgrade tunnel (Tunnel). Both
// honour the watermarks: a side whose peer's output passes kHighWatermark stops being read
// until that output drains below kLowWatermark (libevent's le-proxy sample).
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>

#include "ipc/event_ptr.h"
#include "proxy/http/body_filter.h"
#include "proxy/http/chunked.h"
#include "proxy/http/parser.h"
#include "proxy/upstream/pool.h"

namespace ne::proxy {

constexpr size_t kHighWatermark = 256 * 1024;
constexpr size_t kLowWatermark = kHighWatermark / 2;

// Optimistic writes. Connections keep EV_WRITE disabled while their output is empty and
// write appended bytes at once; only what the socket does not take waits for libevent, with
// EV_WRITE enabled until the output has drained. A plain bufferevent would register and
// unregister EV_WRITE (two epoll_ctl calls) for every response.
// Only plain socket bufferevents write this way: TLS and pair bufferevents write through
// their own layer and keep EV_WRITE enabled (an openssl bufferevent with output waiting and
// EV_WRITE disabled would spin on its writable socket).
// Sets `bev` up for send_now(): EV_WRITE off on a socket, on otherwise.
void start_writes(bufferevent* bev);
// Writes what the socket takes now; enables EV_WRITE for the rest. Errors surface through
// the bufferevent's event callback, from the loop.
void send_now(bufferevent* bev);
// For write callbacks: stop watching writability once the output is empty.
void unwatch_write_if_drained(bufferevent* bev);
// Ends the write side once the output is out: close_notify and FIN on a (TLS) socket, an EOF
// to a pair's partner.
void shut_write(bufferevent* bev);
// Freeing one end of a pair does not tell the other: this sends it the EOF (no-op for other
// bufferevents).
void end_pair(bufferevent* bev);
// OpenSSL drops the session of a connection freed without a TLS shutdown from the session
// cache; a connection we close ourselves keeps its session resumable (no-op if not TLS).
void keep_tls_session(bufferevent* bev);

// Writes a body into an evbuffer in the framing the next hop expects: each write() one chunk
// (chunked), or the bytes as they are (length, until_close).
class FramedSink final : public ByteSink {
public:
    void aim(evbuffer* out, Framing framing) {
        out_ = out;
        framing_ = framing;
    }
    void write(std::string_view bytes) override;
    // The first `n` bytes of `in`, moved as whole evbuffer chains (no copy).
    void move(evbuffer* in, size_t n);
    // After the last byte: the zero-length chunk that ends a chunked body, with `trailers`
    // ("name: value\r\n" lines) when there are any.
    void end(std::string_view trailers = {});

private:
    void chunk_size(size_t n);

    evbuffer* out_ = nullptr;
    Framing framing_ = Framing::none;
};

// One message body from an input evbuffer to an output evbuffer. Content-Length and
// read-until-close bodies move as whole evbuffer chains (no copy); chunked bodies are decoded
// (chunked.h) and re-encoded (or sent raw to an HTTP/1.0 client, which then sees the close).
class BodyPump final : ChunkedDecoder::Sink {
public:
    enum class Step : uint8_t { more, done, failed, too_large };

    // `in`: how the sender frames it (length: `length` bytes); `out`: none, length (the same
    // bytes), chunked, or until_close. Bodies over `limit` decoded bytes stop with too_large.
    void start(Framing in, uint64_t length, Framing out,
               uint64_t limit = std::numeric_limits<uint64_t>::max());

    // After start(): the decoded body goes through `filter` (which outlives the body) before
    // it is framed; `out` must then be chunked or until_close unless the filter keeps the
    // length. Whenever the input runs dry mid-body the filter is flushed.
    void filter_through(BodyFilter* filter) { filter_ = filter; }

    // Moves what `in` holds of the body to `out`, stopping at the body's end.
    Step pump(evbuffer* in, evbuffer* out);
    // The sender closed: the natural end of a read-until-close body, a truncation otherwise.
    Step finish_at_eof(evbuffer* out);

    bool done() const { return state_ == Step::done; }
    // Bytes taken from the input so far (framing included): 0 means the body can still be
    // sent again elsewhere.
    uint64_t consumed() const { return consumed_; }
    const char* error() const { return filter_failed_.empty() ? decoder_.error() : filter_failed_.c_str(); }
    // A chunked body's trailer section (ChunkedDecoder::trailers) once done; passed on by
    // itself when the output is chunked too.
    std::string_view trailers() const { return in_ == Framing::chunked ? decoder_.trailers() : std::string_view{}; }

private:
    void on_data(std::string_view data) override;
    Step finish(evbuffer* out);
    // Through the filter; false (and the error kept) when it fails.
    bool filtered(const Status& s);
    Step move_filtered(evbuffer* in, size_t n, evbuffer* out);

    Framing in_ = Framing::none;
    Framing out_ = Framing::none;
    ChunkedDecoder decoder_;
    uint64_t remaining_ = 0;
    uint64_t limit_ = 0;
    uint64_t body_bytes_ = 0;
    uint64_t consumed_ = 0;
    FramedSink framed_;               // frames into `out` during a call
    BodyFilter* filter_ = nullptr;
    std::string filter_failed_;
    Step state_ = Step::done;
};

// A raw bidirectional byte pipe between two connections after a 101 response. Closes both
// when either closes (after flushing what the closing side sent), on an error, or when
// neither side has sent anything for `idle`. Owns both bufferevents.
class Tunnel {
public:
    using OnClosed = std::function<void()>;

    Tunnel(event_base* base, BuffereventPtr client, BuffereventPtr upstream,
           std::chrono::milliseconds idle, OnClosed on_closed);
    Tunnel(const Tunnel&) = delete;
    Tunnel& operator=(const Tunnel&) = delete;

private:
    struct Side {
        Tunnel* tunnel = nullptr;
        BuffereventPtr bev;
        Side* peer = nullptr;
    };

    static void read_cb(bufferevent*, void* side);
    static void write_cb(bufferevent*, void* side);
    static void event_cb(bufferevent*, short what, void* side);
    static void timer_cb(evutil_socket_t, short, void* self);
    void on_read(Side& s);
    void on_writable(Side& s);
    void on_event(Side& s, short what);
    void on_timer();
    void start_closing();
    void close();
    void arm_timer(std::chrono::steady_clock::duration in);

    Side client_;
    Side upstream_;
    EventPtr timer_;
    std::chrono::milliseconds idle_;
    Clock::time_point last_activity_;
    OnClosed on_closed_;
    bool closing_ = false;
    bool closed_ = false;
};

}  // namespace ne::proxy
