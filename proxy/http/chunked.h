// The chunked transfer coding (RFC 9112 7.1), decoded as a stream (pure, no buffering).
//
// Not llhttp's: llhttp 8.1 refuses valid extension lists ("5;a=b;c"), and built without
// LLHTTP_STRICT_MODE it skips any two bytes after chunk data. Both directions re-encode what
// this decodes, so the next hop never sees the sender's framing. Strict where parsers
// disagree: no whitespace around ';' or '=', CRLF only, no bare CR or LF anywhere, at most
// 16 hex digits of size; extensions are checked and dropped, trailer fields checked and kept
// (trailers()) for the next hop: gRPC's status travels in them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/headers.h"

namespace ne::proxy {

class ChunkedDecoder {
public:
    class Sink {
    public:
        virtual void on_data(std::string_view data) = 0;

    protected:
        ~Sink() = default;
    };
    enum class Status : uint8_t { more, done, error };
    struct Step {
        size_t consumed = 0;   // stops right after the body: what follows is the next message
        Status status = Status::more;
    };

    void reset() { *this = ChunkedDecoder{}; }
    // Decodes `in`; chunk data goes to `sink` as views into `in`.
    Step feed(std::string_view in, Sink& sink);
    const char* error() const { return error_; }
    // After done: the trailer section as received, "name: value\r\n" per field (each line
    // ended by CRLF, the final empty line left out); empty when there was none.
    std::string_view trailers() const { return trailers_; }

private:
    enum class State : uint8_t {
        size_first, size, ext_name_first, ext_name, ext_value_first, ext_token, ext_quoted,
        ext_quoted_pair, ext_after_quoted, size_lf, data, data_cr, data_lf,
        trailer_start, trailer_name, trailer_value, trailer_lf, final_lf, done, error,
    };
    bool fail(const char* why);
    bool step(char c);

    State state_ = State::size_first;
    uint64_t size_ = 0;
    int digits_ = 0;
    size_t line_bytes_ = 0;      // of the current size line or trailer section: bounded
    const char* error_ = "";
    std::string trailers_;
};

// The fields of a trailer section as trailers() keeps it (views into `lines`), values
// without their surrounding whitespace; fields a trailer may not carry (framing, Host,
// hop-by-hop) are left out.
std::vector<Header> trailer_fields(std::string_view lines);

}  // namespace ne::proxy
