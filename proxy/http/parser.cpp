#include "proxy/http/parser.h"

#include <strings.h>

#include <cctype>
#include <cstring>

namespace ne::proxy {

namespace {

MessageParser* self(llhttp_t* p) { return static_cast<MessageParser*>(p->data); }


// RFC 9110 tchar: a header name is a token, so "Host :" (space before the colon) is refused
// rather than read as a second, differently named header by the next hop.
bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        if (c >= '0' && c <= '9') continue;
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') continue;
        if (!std::strchr("!#$%&'*+-.^_`|~", c) || c == 0) return false;
    }
    return true;
}

// RFC 3986 authority without userinfo: reg-name or IPv4 or "[IP-literal]", then ":port".
// A Host with a space, '@' or '/' names a different host to different parsers.
bool valid_authority(std::string_view a) {
    size_t i = 0;
    if (!a.empty() && a.front() == '[') {
        size_t close = a.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        for (i = 1; i < close; ++i) {
            unsigned char c = static_cast<unsigned char>(a[i]);
            if (!std::isxdigit(c) && c != ':' && c != '.') return false;
        }
        i = close + 1;
    } else {
        for (; i < a.size() && a[i] != ':'; ++i) {
            unsigned char c = static_cast<unsigned char>(a[i]);
            if (!std::isalnum(c) && !std::strchr("-._~!$&'()*+,;=%", c)) return false;
        }
    }
    if (i == a.size()) return true;
    if (a[i] != ':') return false;
    for (++i; i < a.size(); ++i)
        if (!std::isdigit(static_cast<unsigned char>(a[i]))) return false;
    return true;
}

// origin-form "/..."; absolute-form "scheme://authority[/...]"; "*" for OPTIONS only;
// authority-form for CONNECT only (which the proxy refuses later with 405).
bool valid_target(std::string_view t, llhttp_method_t method) {
    if (!t.empty() && t.front() == '/') return true;
    if (t == "*") return method == HTTP_OPTIONS;
    if (method == HTTP_CONNECT) return valid_authority(t);
    size_t scheme = t.find("://");
    if (scheme == std::string_view::npos || scheme == 0) return false;
    for (size_t i = 0; i < scheme; ++i)
        if (!std::isalnum(static_cast<unsigned char>(t[i])) && !std::strchr("+-.", t[i])) return false;
    std::string_view rest = t.substr(scheme + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    return !authority.empty() && valid_authority(authority);
}

// Slack for what the limits do not count (CRLFs, ": ", request-line spaces, whitespace that
// llhttp skips without a callback), so a head of padding cannot grow without bound either.
constexpr size_t kHeadSlack = 4096;

}  // namespace

const llhttp_settings_t& MessageParser::settings() {
    static const llhttp_settings_t s = [] {
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        st.on_url = on_url;
        st.on_status = on_status;
        st.on_header_field = on_header_field;
        st.on_header_field_complete = on_header_field_complete;
        st.on_header_value = on_header_value;
        st.on_header_value_complete = on_header_value_complete;
        st.on_headers_complete = on_headers_complete;
        return st;
    }();
    return s;
}

MessageParser::MessageParser(Type type, Limits limits) : type_(type), limits_(limits) {
    llhttp_init(&parser_, type == Type::request ? HTTP_REQUEST : HTTP_RESPONSE, &settings());
    parser_.data = this;
    spans_.reserve(32);
    headers_.reserve(32);
}

void MessageParser::begin(bool no_body) {
    llhttp_reset(&parser_);
    head_done_ = false;
    no_body_ = no_body;
    keep_alive_ = false;
    framing_ = Framing::none;
    has_content_length_ = false;
    content_length_ = 0;
    head_size_ = parsed_ = header_bytes_ = 0;
    failure_ = {};
    failed_in_callback_ = false;
    base_ = nullptr;
    target_span_ = reason_span_ = field_ = value_ = {};
    spans_.clear();
    headers_.clear();
    target_ = reason_ = {};
}

MessageParser::Progress MessageParser::parse_head(std::string_view buffered) {
    if (head_done_) return Progress::error;
    base_ = buffered.data();
    if (buffered.size() <= parsed_) return Progress::need_more;
    llhttp_errno_t rc = llhttp_execute(&parser_, base_ + parsed_, buffered.size() - parsed_);
    const size_t max_head = limits_.max_target + limits_.max_header_bytes + kHeadSlack;
    if (rc == HPE_OK) {
        parsed_ = buffered.size();
        if (parsed_ > max_head) {
            bool in_request_line = type_ == Type::request && spans_.empty() && field_.len == 0;
            if (in_request_line) reject(414, "request line too long");
            else reject(431, "header too large");
            return Progress::error;
        }
        return Progress::need_more;
    }
    if (rc != HPE_PAUSED) {
        if (!failed_in_callback_) reject(400, llhttp_get_error_reason(&parser_));
        return Progress::error;
    }
    head_size_ = parsed_ = static_cast<size_t>(llhttp_get_error_pos(&parser_) - base_);
    if (head_size_ > max_head) {
        reject(431, "header too large");
        return Progress::error;
    }
    head_done_ = true;

    if (!check_line_endings(buffered.substr(0, head_size_))) return Progress::error;
    target_ = view(target_span_);
    reason_ = view(reason_span_);
    for (auto& [n, v] : spans_) headers_.push_back({view(n), view(v)});
    if (type_ == Type::request && !check_request_head()) return Progress::error;
    return Progress::head_complete;
}

bool MessageParser::check_line_endings(std::string_view head) {
    // llhttp (built without LLHTTP_STRICT_MODE) accepts obsolete line folding and lone CRs in
    // places; a next hop that reads them differently is how requests get smuggled.
    for (size_t i = 0; i < head.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(head[i]);
        if (c == '\n') {
            if (i == 0 || head[i - 1] != '\r') return reject(400, "bare LF in head");
            if (i + 1 < head.size() && (head[i + 1] == ' ' || head[i + 1] == '\t'))
                return reject(400, "obsolete line folding");
        } else if (c == '\r') {
            if (i + 1 >= head.size() || head[i + 1] != '\n') return reject(400, "bare CR in head");
        } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return reject(400, "control character in head");
        }
    }
    return true;
}

bool MessageParser::check_request_head() {
    if (parser_.http_major > 1) return reject(505, "HTTP version not supported");
    if (parser_.http_major < 1) return reject(400, "HTTP/0.9 is not supported");
    size_t hosts = header_count("host");
    if (hosts > 1) return reject(400, "repeated Host header");
    if (hosts == 0 && parser_.http_minor >= 1) return reject(400, "missing Host header");
    if (hosts == 1 && !valid_authority(header("host"))) return reject(400, "invalid Host header");
    if (!valid_target(target_, method())) return reject(400, "invalid request-target");
    if (header_count("content-length") > 1) return reject(400, "repeated Content-Length");
    // Only "chunked", alone: any other coding makes the body length a guess.
    size_t te = header_count("transfer-encoding");
    if (te > 1 || (te == 1 && !header_is(trim_ows(header("transfer-encoding")), "chunked")))
        return reject(400, "Transfer-Encoding other than chunked");
    // RFC 9112 6.1: HTTP/1.0 has no chunked coding; its framing is faulty.
    if (te == 1 && parser_.http_minor == 0) return reject(400, "Transfer-Encoding in HTTP/1.0");
    return true;
}

std::string_view MessageParser::method_name() const { return llhttp_method_name(method()); }

std::string_view MessageParser::header(std::string_view name) const {
    for (const auto& h : headers_)
        if (header_is(h.name, name)) return h.value;
    return {};
}

size_t MessageParser::header_count(std::string_view name) const {
    size_t n = 0;
    for (const auto& h : headers_)
        if (header_is(h.name, name)) ++n;
    return n;
}

bool MessageParser::reject(int status, const char* reason) {
    failure_ = {status, reason};
    return false;
}

int MessageParser::fail(int status, const char* reason) {
    reject(status, reason);
    failed_in_callback_ = true;
    llhttp_set_error_reason(&parser_, reason);
    return HPE_USER;
}

int MessageParser::grow(Span& span, const char* at, size_t len) {
    if (span.len == 0) span.off = static_cast<uint32_t>(at - base_);
    span.len += static_cast<uint32_t>(len);
    return 0;
}

int MessageParser::on_url(llhttp_t* p, const char* at, size_t len) {
    MessageParser* m = self(p);
    m->grow(m->target_span_, at, len);
    if (m->target_span_.len > m->limits_.max_target) return m->fail(414, "request-target too long");
    return 0;
}

int MessageParser::on_status(llhttp_t* p, const char* at, size_t len) {
    MessageParser* m = self(p);
    return m->grow(m->reason_span_, at, len);
}

int MessageParser::on_header_field(llhttp_t* p, const char* at, size_t len) {
    MessageParser* m = self(p);
    m->grow(m->field_, at, len);
    m->header_bytes_ += len;
    if (m->header_bytes_ > m->limits_.max_header_bytes) return m->fail(431, "header fields too large");
    return 0;
}

int MessageParser::on_header_field_complete(llhttp_t* p) {
    MessageParser* m = self(p);
    if (!is_token(m->view(m->field_))) return m->fail(400, "invalid header name");
    if (m->spans_.size() >= m->limits_.max_headers) return m->fail(431, "too many header fields");
    return 0;
}

int MessageParser::on_header_value(llhttp_t* p, const char* at, size_t len) {
    MessageParser* m = self(p);
    m->grow(m->value_, at, len);
    m->header_bytes_ += len;
    if (m->header_bytes_ > m->limits_.max_header_bytes) return m->fail(431, "header fields too large");
    return 0;
}

int MessageParser::on_header_value_complete(llhttp_t* p) {
    MessageParser* m = self(p);
    m->spans_.push_back({m->field_, m->value_});
    m->field_ = m->value_ = {};
    return 0;
}

int MessageParser::on_headers_complete(llhttp_t* p) { return self(p)->headers_complete(); }

int MessageParser::headers_complete() {
    const bool chunked = parser_.flags & F_CHUNKED;
    const bool has_length = parser_.flags & F_CONTENT_LENGTH;
    if (type_ == Type::response) {
        int s = parser_.status_code;
        if (no_body_ || (s >= 100 && s < 200) || s == 204 || s == 304) {
            // Else llhttp_should_keep_alive() would expect a body read until the close.
            parser_.flags |= F_SKIPBODY;
            framing_ = Framing::none;
        } else if (chunked) {
            framing_ = Framing::chunked;
        } else if (has_length) {
            framing_ = Framing::length;
        } else {
            framing_ = Framing::until_close;
        }
    } else {
        framing_ = chunked ? Framing::chunked : has_length ? Framing::length : Framing::none;
    }
    has_content_length_ = has_length && !chunked;
    content_length_ = has_content_length_ ? parser_.content_length : 0;
    keep_alive_ = llhttp_should_keep_alive(&parser_);
    // Stop at the end of the head: the body is not llhttp's to read (see BodyPump).
    return HPE_PAUSED;
}


}  // namespace ne::proxy
