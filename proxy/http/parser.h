// The head of one HTTP/1.x message at a time, with llhttp (every lenient flag off): requests
// from clients, responses from upstreams, parsed in place.
//
// The caller passes every byte received since the message began, contiguous (an
// evbuffer_pullup of the connection's input), on each call; spans are kept as offsets, so
// the buffer may move between calls as long as its prefix is unchanged. Once the head is
// complete, the views (target, headers, ...) point into the last buffer passed and stay
// valid until the caller changes it. The body is not parsed here: framing() says how it is
// delimited and relay.h's BodyPump moves it (chunked.h decodes chunked ones).
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/http/headers.h"

namespace ne::proxy {

// How a message's body is delimited on the wire.
enum class Framing : uint8_t {
    none,          // no body
    length,        // Content-Length
    chunked,       // Transfer-Encoding: chunked
    until_close,   // a response read until the upstream closes
};

class MessageParser {
public:
    enum class Type : uint8_t { request, response };
    struct Limits {
        size_t max_target = 8192;        // request-target -> 414
        size_t max_header_bytes = 16384; // header names + values -> 431
        size_t max_headers = 100;        // -> 431
    };
    enum class Progress : uint8_t { need_more, head_complete, error };
    struct Failure {
        int status = 400;                // 400, 414, 431, 505 for requests
        const char* reason = "";
    };

    MessageParser(Type type, Limits limits);
    MessageParser(const MessageParser&) = delete;  // llhttp keeps a pointer to us
    MessageParser& operator=(const MessageParser&) = delete;

    // Starts the next message. For a response, `no_body` marks the answer to a HEAD request.
    void begin(bool no_body = false);

    Progress parse_head(std::string_view buffered);
    // Bytes of the head (request/status line, headers, blank line) once complete.
    size_t head_size() const { return head_size_; }
    const Failure& failure() const { return failure_; }

    // ---- the head, valid after head_complete ----
    llhttp_method_t method() const { return static_cast<llhttp_method_t>(parser_.method); }
    std::string_view method_name() const;
    std::string_view target() const { return target_; }
    int status() const { return parser_.status_code; }
    std::string_view reason() const { return reason_; }
    int http_minor() const { return parser_.http_minor; }
    std::span<const Header> headers() const { return headers_; }
    // First value of a header (case-insensitive name), or "" when absent.
    std::string_view header(std::string_view name) const;
    size_t header_count(std::string_view name) const;
    // The sender's own view: HTTP/1.1 unless "Connection: close", HTTP/1.0 only with
    // "Connection: keep-alive", and never after a read-until-close body.
    bool keep_alive() const { return keep_alive_; }
    // Upgrade + "Connection: upgrade" (or CONNECT); for a response: a 101 with both.
    bool upgrade() const { return parser_.upgrade != 0; }
    Framing framing() const { return framing_; }
    bool has_content_length() const { return has_content_length_; }
    uint64_t content_length() const { return content_length_; }

private:
    struct Span {
        uint32_t off = 0;
        uint32_t len = 0;
    };

    static int on_url(llhttp_t*, const char*, size_t);
    static int on_status(llhttp_t*, const char*, size_t);
    static int on_header_field(llhttp_t*, const char*, size_t);
    static int on_header_field_complete(llhttp_t*);
    static int on_header_value(llhttp_t*, const char*, size_t);
    static int on_header_value_complete(llhttp_t*);
    static int on_headers_complete(llhttp_t*);
    static const llhttp_settings_t& settings();

    int grow(Span& span, const char* at, size_t len);
    // reject() for checks after llhttp; fail() for llhttp callbacks (stops the parser).
    bool reject(int status, const char* reason);
    int fail(int status, const char* reason);
    int headers_complete();
    bool check_request_head();
    bool check_line_endings(std::string_view head);
    std::string_view view(Span s) const { return {base_ + s.off, s.len}; }

    llhttp_t parser_;
    Type type_;
    Limits limits_;
    bool head_done_ = false;
    bool no_body_ = false;
    bool keep_alive_ = false;
    Framing framing_ = Framing::none;
    bool has_content_length_ = false;
    uint64_t content_length_ = 0;
    size_t head_size_ = 0;
    size_t parsed_ = 0;          // bytes of the head fed to llhttp so far
    size_t header_bytes_ = 0;
    Failure failure_;
    bool failed_in_callback_ = false;

    const char* base_ = nullptr; // the buffer of the current parse_head call
    Span target_span_, reason_span_, field_, value_;
    std::vector<std::pair<Span, Span>> spans_;
    std::string_view target_, reason_;
    std::vector<Header> headers_;
};

}  // namespace ne::proxy
