// What the two halves of H2Session share: a stream's state and the limits both apply.
// session.cpp has the connection and the requests, session_response.cpp the responses.
#pragma once

#include <nghttp2/nghttp2.h>

#include <string>
#include <string_view>

#include "proxy/h2/session.h"
#include "proxy/http/headers.h"
#include "proxy/http/parser.h"
#include "proxy/upstream/relay.h"

// Named, not anonymous: both .cpp files use them, and a unity build joins them in one unit.
namespace ne::proxy::h2 {

// Announced as SETTINGS_MAX_HEADER_LIST_SIZE; a block over it is answered 431 without being
// kept (one over the 16 KiB request head limit but under this gets its 431 from ClientConn).
inline constexpr size_t kMaxRequestHeaderBlock = 64 * 1024;
// A stream's response waits for DATA frames in at most about this much (twice, with what its
// pair end holds) before its ClientConn is paused, a quarter of the relay watermark; the
// ClientConn's output holds as much again (ConnFacts::output_high). A client that keeps 128
// windows shut ties up that many streams' buffers (measured, 64 such streams: proxy growth
// 67 MiB with the relay watermark everywhere, 43 MiB with this for the stream, 18 MiB with
// this for the ClientConn too).
inline constexpr size_t kStreamHigh = 64 * 1024;
inline constexpr size_t kStreamLow = kStreamHigh / 2;
// The response head a ClientConn writes; its own header limits are far below this.
inline constexpr MessageParser::Limits kResponseLimits{8192, 64 * 1024, 200};

// Hop-by-hop and HTTP/1.1 framing headers have no place in an HTTP/2 response.
inline bool connection_specific(std::string_view name) {
    return header_is(name, "connection") || header_is(name, "keep-alive") || header_is(name, "proxy-connection") ||
           header_is(name, "transfer-encoding") || header_is(name, "upgrade");
}

inline nghttp2_nv nv(std::string_view name, std::string_view value) {
    return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
            reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
            NGHTTP2_NV_FLAG_NONE};
}

}  // namespace ne::proxy::h2

namespace ne::proxy {

struct H2Session::Stream {
    Stream(H2Session& s, int32_t stream_id) : session(s), id(stream_id) {}

    H2Session& session;
    int32_t id;
    BuffereventPtr end;            // ours; the ClientConn holds its partner
    // ---- the request, as HTTP/1.1 ----
    std::string method, path, authority, host, cookies;
    std::string headers;           // "name: value\r\n" for the others
    size_t header_bytes = 0;
    bool oversized = false;        // over kMaxRequestHeaderBlock: answered 431 here
    std::string trailers;          // "name: value\r\n", passed on when the body is chunked
    bool has_length = false;       // the client sent content-length
    bool chunked = false;          // the body is chunk-encoded towards the ClientConn
    bool request_done = false;
    bool client_gone = false;      // the ClientConn closed: request bytes are dropped
    size_t unconsumed = 0;         // body bytes handed over, not yet credited to the window
    // ---- the response ----
    MessageParser response{MessageParser::Type::response, h2::kResponseLimits};
    BodyPump pump;
    EvbufferPtr body{evbuffer_new()};  // response body waiting for DATA frames
    char status[4] = {};
    bool head_sent = false;
    bool body_done = false;
    bool paused = false;           // not reading from the ClientConn: body is full
};

}  // namespace ne::proxy
