#include "proxy/http/chunked.h"

#include <algorithm>
#include <cstring>

namespace ne::proxy {

namespace {

// Extensions are dropped and trailers kept, so neither may be long; a peer must not make us
// parse without end either.
constexpr size_t kMaxSizeLine = 4096;
constexpr size_t kMaxTrailers = 16384;

bool is_tchar(unsigned char c) {
    if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) return true;
    return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
    return -1;
}

// qdtext and field-vchar: HTAB, SP, visible ASCII, obs-text.
bool is_text(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

// Framing, routing and hop-by-hop fields (RFC 9110 6.5.1); HTTP/2 refuses the latter too.
bool forbidden_in_trailers(std::string_view name) {
    for (std::string_view f : {"content-length", "transfer-encoding", "host", "connection", "keep-alive",
                               "proxy-connection", "upgrade", "te", "trailer"})
        if (header_is(name, f)) return true;
    return false;
}

}  // namespace

bool ChunkedDecoder::fail(const char* why) {
    state_ = State::error;
    error_ = why;
    return false;
}

ChunkedDecoder::Step ChunkedDecoder::feed(std::string_view in, Sink& sink) {
    size_t i = 0;
    while (i < in.size() && state_ != State::done && state_ != State::error) {
        if (state_ == State::data) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(size_, in.size() - i));
            sink.on_data(in.substr(i, n));
            size_ -= n;
            i += n;
            if (size_ == 0) state_ = State::data_cr;
            continue;
        }
        if (!step(in[i])) break;
        ++i;
    }
    if (state_ == State::error) return {i, Status::error};
    return {i, state_ == State::done ? Status::done : Status::more};
}

bool ChunkedDecoder::step(char ch) {
    const auto c = static_cast<unsigned char>(ch);
    const bool in_size_line = state_ <= State::size_lf;
    if (in_size_line && ++line_bytes_ > kMaxSizeLine) return fail("chunk size line too long");
    if (state_ >= State::trailer_start && state_ <= State::final_lf && ++line_bytes_ > kMaxTrailers)
        return fail("chunked trailer section too large");
    switch (state_) {
        case State::size_first:
        case State::size: {
            int v = hex_value(c);
            if (v >= 0) {
                if (++digits_ > 16) return fail("chunk size over 64 bits");
                size_ = size_ << 4 | static_cast<uint64_t>(v);
                state_ = State::size;
                return true;
            }
            if (state_ == State::size_first) return fail("chunk size expected");
            if (c == ';') state_ = State::ext_name_first;
            else if (c == '\r') state_ = State::size_lf;
            else return fail("invalid character after chunk size");
            return true;
        }
        case State::ext_name_first:
            if (!is_tchar(c)) return fail("chunk extension name expected");
            state_ = State::ext_name;
            return true;
        case State::ext_name:
            if (is_tchar(c)) return true;
            if (c == '=') state_ = State::ext_value_first;
            else if (c == ';') state_ = State::ext_name_first;
            else if (c == '\r') state_ = State::size_lf;
            else return fail("invalid character in chunk extension");
            return true;
        case State::ext_value_first:
            if (c == '"') state_ = State::ext_quoted;
            else if (is_tchar(c)) state_ = State::ext_token;
            else return fail("chunk extension value expected");
            return true;
        case State::ext_token:
            if (is_tchar(c)) return true;
            if (c == ';') state_ = State::ext_name_first;
            else if (c == '\r') state_ = State::size_lf;
            else return fail("invalid character in chunk extension value");
            return true;
        case State::ext_quoted:
            if (c == '"') state_ = State::ext_after_quoted;
            else if (c == '\\') state_ = State::ext_quoted_pair;
            else if (!is_text(c)) return fail("invalid character in quoted chunk extension");
            return true;
        case State::ext_quoted_pair:
            if (!is_text(c)) return fail("invalid quoted-pair in chunk extension");
            state_ = State::ext_quoted;
            return true;
        case State::ext_after_quoted:
            if (c == ';') state_ = State::ext_name_first;
            else if (c == '\r') state_ = State::size_lf;
            else return fail("invalid character after quoted chunk extension");
            return true;
        case State::size_lf:
            if (c != '\n') return fail("chunk size line not ended by CRLF");
            line_bytes_ = 0;
            digits_ = 0;
            state_ = size_ == 0 ? State::trailer_start : State::data;
            return true;
        case State::data_cr:
            if (c != '\r') return fail("chunk data longer than its size");
            state_ = State::data_lf;
            return true;
        case State::data_lf:
            if (c != '\n') return fail("chunk data not followed by CRLF");
            state_ = State::size_first;
            return true;
        case State::trailer_start:
            if (c == '\r') state_ = State::final_lf;
            else if (is_tchar(c)) state_ = State::trailer_name;
            else return fail("invalid trailer field");
            if (c != '\r') trailers_.push_back(ch);
            return true;
        case State::trailer_name:
            if (c == ':') state_ = State::trailer_value;
            else if (!is_tchar(c)) return fail("invalid trailer field name");
            trailers_.push_back(ch);
            return true;
        case State::trailer_value:
            if (c == '\r') state_ = State::trailer_lf;
            else if (!is_text(c)) return fail("invalid character in trailer field");
            trailers_.push_back(ch);
            return true;
        case State::trailer_lf:
            if (c != '\n') return fail("trailer field not ended by CRLF");
            trailers_.push_back('\n');
            state_ = State::trailer_start;
            return true;
        case State::final_lf:
            if (c != '\n') return fail("chunked body not ended by CRLF");
            state_ = State::done;
            return true;
        case State::data:
        case State::done:
        case State::error:
            break;
    }
    return fail("chunked decoder misused");
}

std::vector<Header> trailer_fields(std::string_view lines) {
    std::vector<Header> out;
    while (!lines.empty()) {
        const size_t eol = lines.find("\r\n");
        const std::string_view line = lines.substr(0, eol);
        lines.remove_prefix(eol == std::string_view::npos ? lines.size() : eol + 2);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) continue;
        const std::string_view name = line.substr(0, colon);
        if (!forbidden_in_trailers(name)) out.push_back({name, trim_ows(line.substr(colon + 1))});
    }
    return out;
}

}  // namespace ne::proxy
