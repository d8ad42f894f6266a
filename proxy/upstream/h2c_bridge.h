// The HTTP/2 cleartext leg to a gRPC backend (a location with `grpc = true`, nginx's
// grpc_pass), behind the HTTP/1.1 that an UpstreamConn speaks. The UpstreamConn writes its
// request into one end of a bufferevent pair and reads the response from it as from a
// socket; the bridge holds the other end and the TCP connection to the backend, and
// translates: the request head to a HEADERS frame (Host to :authority, `te: trailers`), its
// body (length or chunked) to DATA frames and a chunked body's trailers to a trailing HEADERS
// frame; the response HEADERS to an HTTP/1.1 head with a chunked body, DATA to chunks, and
// the response trailers (grpc-status, grpc-message) to the chunked trailer section. A
// response that is trailers only (END_STREAM on its HEADERS, how gRPC answers an error
// early) becomes a head with Content-Length: 0, which the client side sends back as one
// HEADERS frame with END_STREAM.
//
// One stream per connection, as nginx's grpc_pass without `keepalive`. Back-pressure both
// ways: request body is read from the pair only while less than kBodyHigh waits for DATA
// frames, and the response's flow-control window is credited back only once the
// UpstreamConn has taken the bytes (it stops taking them while its client is slow).
// Failures reach the UpstreamConn as they would from a socket: a connect error or timeout as
// the pair's error event, a reset stream or a closed connection as an EOF before the end of
// the response.
#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <memory>
#include <string>

#include "ipc/event_ptr.h"
#include "ipc/result.h"
#include "proxy/http/parser.h"
#include "proxy/upstream/pool.h"
#include "proxy/upstream/relay.h"

namespace ne::proxy {

class H2cBridge {
public:
    // `end`: ours of the pair; its partner is the UpstreamConn's. `backend` outlives us (the
    // UpstreamConn that owns us holds it).
    H2cBridge(event_base* base, BuffereventPtr end, const Backend& backend, std::chrono::milliseconds connect_timeout);
    ~H2cBridge();
    H2cBridge(const H2cBridge&) = delete;
    H2cBridge& operator=(const H2cBridge&) = delete;

    // Starts connecting; an error with the backend's address and errno text when it fails at
    // once. The partner sees BEV_EVENT_CONNECTED once the backend accepted.
    Status connect();

private:
    struct SessionFree {
        void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
    };

    // the backend's socket
    static void sock_read_cb(bufferevent*, void* self);
    static void sock_write_cb(bufferevent*, void* self);
    static void sock_event_cb(bufferevent*, short what, void* self);
    void on_connected();
    void on_sock_read();
    // Sends what nghttp2 has queued while the socket's output has room.
    void flush();

    // our end of the pair
    static void end_read_cb(bufferevent*, void* self);
    static void end_write_cb(bufferevent*, void* self);
    static void end_event_cb(bufferevent*, short what, void* self);
    void read_request();
    bool submit_request();
    void read_request_body();

    // nghttp2
    static int on_header(nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t namelen,
                         const uint8_t* value, size_t valuelen, uint8_t flags, void* self);
    static int on_frame_recv(nghttp2_session*, const nghttp2_frame*, void* self);
    static int on_data_chunk(nghttp2_session*, uint8_t flags, int32_t id, const uint8_t* data, size_t len,
                             void* self);
    static int on_stream_close(nghttp2_session*, int32_t id, uint32_t error_code, void* self);
    static ssize_t read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                             nghttp2_data_source*, void* self);
    void write_response_head(bool end_stream);
    void end_response(std::string_view trailers);
    // The backend is gone or refused the stream: the partner sees an EOF (or, still
    // connecting, an error), which it reports as the failure it is.
    void fail(short what);

    event_base* base_;
    BuffereventPtr end_;
    BuffereventPtr sock_;
    const Backend& backend_;
    std::chrono::milliseconds connect_timeout_;
    std::unique_ptr<nghttp2_session, SessionFree> session_;
    int32_t stream_ = -1;
    // ---- the request ----
    MessageParser request_;
    BodyPump request_pump_;       // decodes the body (length or chunked) into request_body_
    EvbufferPtr request_body_{evbuffer_new()};
    bool request_head_done_ = false;
    bool request_done_ = false;
    std::string request_trailers_;
    // ---- the response ----
    std::string response_head_;   // the HTTP/1.1 head being built from HEADERS
    std::string trailers_;        // "name: value\r\n" from the trailing HEADERS
    int status_ = 0;
    bool head_written_ = false;
    bool response_done_ = false;
    size_t unconsumed_ = 0;       // DATA bytes handed over, not yet credited to the window
    bool connected_ = false;
    bool failed_ = false;
};

}  // namespace ne::proxy
