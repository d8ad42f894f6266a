// One HTTP/2 connection (negotiated by ALPN "h2" after TLS), speaking to the rest of the proxy
// in HTTP/1.1: every stream gets a bufferevent pair whose far end is handed to an ordinary
// ClientConn, as if a keep-alive client had connected. The session writes the stream's
// request into its end as HTTP/1.1 (pseudo-headers to a request line and Host, cookies
// joined, a body without content-length chunked) and turns the HTTP/1.1 response it reads
// back into HEADERS and DATA frames. So routing, limits, retries, rate limits, gzip, the
// cache and the access log work the same for both protocols.
//
// Limits, so that one client cannot exhaust the proxy: SETTINGS_MAX_CONCURRENT_STREAMS (the
// default server's http2_max_concurrent_streams, 128); flow control by hand (a request body
// is credited back to the client's window only once the ClientConn has taken it); a
// response stops being read from its ClientConn while 64 KiB of it wait for DATA frames; a
// header block over 64 KiB is answered 431 without being kept; nghttp2's own flood checks
// (SETTINGS, PING and other ACKs, CONTINUATION, rapid RST_STREAM) end the connection with
// GOAWAY. As nginx does for HTTP/2, the default server's keepalive_timeout closes an idle
// connection (no stream) with GOAWAY, and its keepalive_requests-th stream is the last (a
// GOAWAY naming it); one whose client stops reading is closed after its send_timeout.
#pragma once

#include <nghttp2/nghttp2.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "config/config.h"
#include "ipc/event_ptr.h"
#include "proxy/conn/connection.h"

namespace ne::proxy {

class Runtime;

class H2Session final : public Connection {
public:
    H2Session(Runtime& rt, BuffereventPtr bev, const ConnFacts& facts);
    ~H2Session();
    H2Session(const H2Session&) = delete;
    H2Session& operator=(const H2Session&) = delete;

    void start() override;
    // GOAWAY: streams in progress finish, no new ones start.
    void quit() override;

    struct Stream;   // one request/response exchange (h2_session.cpp)

private:
    struct SessionFree { void operator()(nghttp2_session* s) const { nghttp2_session_del(s); } };

    // the TLS connection
    static void read_cb(bufferevent*, void* self);
    static void write_cb(bufferevent*, void* self);
    static void event_cb(bufferevent*, short what, void* self);
    static void idle_cb(evutil_socket_t, short, void* self);
    void on_read();
    // Sends what nghttp2 has queued while the TLS output has room; lingers when both sides
    // are done.
    void flush();
    // After the last frame (a GOAWAY) is out: our side of the connection is ended and what the
    // client still sends is read and dropped for lingering_timeout, so that closing with its
    // bytes unread does not reset the connection before it has read the GOAWAY (nginx's
    // lingering close).
    void linger();
    void close();
    void arm_idle_timer();
    // The server whose connection settings apply (keepalive_*, http2_max_concurrent_streams):
    // the default server of the address, as nginx takes them from it for HTTP/2.
    const config::Server& server() const;

    // nghttp2 callbacks
    static int on_begin_headers(nghttp2_session*, const nghttp2_frame*, void* self);
    static int on_header(nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t namelen,
                         const uint8_t* value, size_t valuelen, uint8_t flags, void* self);
    static int on_frame_recv(nghttp2_session*, const nghttp2_frame*, void* self);
    static int on_data_chunk(nghttp2_session*, uint8_t flags, int32_t id, const uint8_t* data, size_t len,
                             void* self);
    static int on_stream_close(nghttp2_session*, int32_t id, uint32_t error_code, void* self);
    static ssize_t read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                             nghttp2_data_source*, void* self);

    // a stream's pair end
    static void stream_read_cb(bufferevent*, void* stream);
    static void stream_write_cb(bufferevent*, void* stream);
    static void stream_event_cb(bufferevent*, short what, void* stream);
    void start_request(Stream& s, bool end_stream);
    void end_request(Stream& s);
    void read_response(Stream& s);
    bool submit_response_head(Stream& s);
    // The response's chunked trailers as a trailing HEADERS frame; false when there are none
    // to send (the DATA frame then ends the stream).
    bool submit_trailers(Stream& s);
    void reset(Stream& s, uint32_t error_code);
    Stream* find(int32_t id);

    Runtime& rt_;
    BuffereventPtr bev_;
    sockaddr_storage peer_{};
    ConnFacts facts_;
    std::unique_ptr<nghttp2_session, SessionFree> session_;
    std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
    EventPtr idle_timer_;    // keepalive_timeout while no stream is open; then the end
    std::string scratch_;    // lower-cased response header names, for one submit
    bool ending_ = false;     // the last frames are queued: closing within lingering_timeout
    bool lingering_ = false;  // they are out, our side is shut: dropping what the client sends
    bool closed_ = false;
    uint64_t requests_ = 0;    // streams begun, for keepalive_requests
    bool goaway_sent_ = false;
};

}  // namespace ne::proxy
