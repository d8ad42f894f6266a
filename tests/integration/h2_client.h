// A raw HTTP/2 client for the abuse tests: TLS with ALPN "h2" to the proxy, frames built by
// hand and header blocks encoded by nghttp2's HPACK deflater, so a test sends exactly the
// frames an attacker would (floods, resets, malformed or oversized header blocks) and sees
// every frame the proxy answers with. OpenSSL runs over memory BIOs and the socket is driven
// with poll() and MSG_NOSIGNAL: every wait has a deadline, and a proxy that closes the
// connection is a state to assert on, never a SIGPIPE.
#pragma once

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipc/unique_fd.h"

namespace ne::itest::h2 {

using Fields = std::vector<std::pair<std::string, std::string>>;
using Settings = std::vector<std::pair<uint16_t, uint32_t>>;

struct Frame {
    uint8_t type = 0;        // NGHTTP2_DATA, NGHTTP2_HEADERS, ...
    uint8_t flags = 0;
    int32_t stream = 0;
    std::string payload;
    Fields fields;           // HEADERS: the decoded header block (CONTINUATIONs included)

    // RST_STREAM's or GOAWAY's error code.
    uint32_t error_code() const;
    // GOAWAY's last stream id.
    int32_t last_stream() const;
};

// One frame on the wire: the 9-byte header and `payload`.
std::string frame(uint8_t type, uint8_t flags, int32_t stream, std::string_view payload);
std::string settings_frame(const Settings& settings);
std::string rst_stream(int32_t stream, uint32_t error_code);
std::string window_update(int32_t stream, uint32_t increment);
std::string data(int32_t stream, std::string_view bytes, bool end_stream);

// A request's pseudo-headers: GET `path` on `authority`, scheme https.
Fields get(const std::string& path, const std::string& authority);

// What one stream got, gathered from the frames read so far.
struct Exchange {
    int status = 0;                      // the final :status, 0 before it
    std::vector<int> informational;      // 1xx statuses, in order
    std::string body;
    bool ended = false;                  // END_STREAM seen
    std::optional<uint32_t> reset;       // RST_STREAM's error code
};

class Client {
public:
    // Connects to 127.0.0.1:`port` and does the TLS handshake with SNI `host` and ALPN h2.
    // `rcvbuf` > 0 shrinks the socket's receive buffer, so that a client that stops reading
    // makes the proxy's output back up early. error() says why, if this failed.
    Client(int port, const std::string& host, int rcvbuf = 0);
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    const std::string& error() const { return error_; }
    bool ok() const { return error_.empty(); }

    // The connection preface and our SETTINGS. With `ack_settings` false, the proxy's
    // SETTINGS are never acknowledged (its limits stay "pending" for nghttp2).
    bool start(const Settings& settings = {}, bool ack_settings = true);

    // An HPACK header block of `fields` as given (upper case and forbidden names included),
    // from this connection's encoder: blocks must be sent in the order they were made.
    std::string header_block(const Fields& fields);
    // HEADERS (END_HEADERS, and END_STREAM when `end_stream`) carrying `fields`.
    std::string headers(int32_t stream, const Fields& fields, bool end_stream);

    // Sends bytes as TLS records; false once the proxy has closed the connection (or the
    // write stalled for 5 s).
    bool send(std::string_view bytes);

    // Reads frames (answering SETTINGS and PING as a well-behaved client would, unless told
    // not to) until `done` holds for one, the proxy closes, or `timeout` passes. Returns
    // whether `done` held. Every frame read is kept in frames.
    bool read_until(const std::function<bool(const Frame&)>& done, std::chrono::milliseconds timeout);
    // Reads until the stream ends (END_STREAM or RST_STREAM) or the connection does.
    Exchange read_exchange(int32_t stream, std::chrono::milliseconds timeout = std::chrono::seconds(5));
    // Reads until the proxy closes the connection; true if it did within `timeout`.
    bool wait_closed(std::chrono::milliseconds timeout);

    bool closed() const { return closed_; }
    Exchange exchange(int32_t stream) const;
    // The first GOAWAY received, if any.
    const Frame* goaway() const;

    std::vector<Frame> frames;

private:
    enum class Fill { got, timeout, eof };
    Fill fill(std::chrono::steady_clock::time_point deadline);
    bool flush_tls(std::chrono::steady_clock::time_point deadline);
    void take(Frame f);
    Fields decode(std::string_view block);
    void fail(std::string what);

    struct Free {
        void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
        void operator()(SSL* p) const { SSL_free(p); }
        void operator()(nghttp2_hd_deflater* p) const { nghttp2_hd_deflate_del(p); }
        void operator()(nghttp2_hd_inflater* p) const { nghttp2_hd_inflate_del(p); }
    };

    std::string error_;
    UniqueFd fd_;
    std::unique_ptr<SSL_CTX, Free> ctx_;
    std::unique_ptr<SSL, Free> ssl_;
    BIO* rbio_ = nullptr;   // owned by ssl_
    BIO* wbio_ = nullptr;   // owned by ssl_
    std::unique_ptr<nghttp2_hd_deflater, Free> deflater_;
    std::unique_ptr<nghttp2_hd_inflater, Free> inflater_;
    std::string plain_;     // decrypted, not yet cut into frames
    std::string block_;     // a header block waiting for its CONTINUATIONs
    std::optional<Frame> open_headers_;
    bool ack_settings_ = true;
    bool eof_ = false;      // the socket read EOF (records may still be buffered)
    bool closed_ = false;
};

}  // namespace ne::itest::h2
