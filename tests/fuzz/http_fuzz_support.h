// What the request and response fuzz targets share: the checks run on a parsed head and on a
// re-framed body. Each target drives proxy/http/parser, proxy/http/chunked and proxy/upstream/relay's
// BodyPump the way the proxy does (ClientConn for requests, UpstreamConn for responses) and
// asserts properties that must hold for ANY input:
//   - feeding a head in pieces gives the same answer as feeding it whole;
//   - the head the proxy writes for the next hop parses back, alone, to the same message
//     (method/status, target, framing): no input can make us emit an ambiguous head;
//   - a body re-framed for the next hop decodes to exactly the bytes the sender framed.
// A violated property aborts with a message, which libFuzzer reports as a crash.
#pragma once

#include <event2/buffer.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/event_ptr.h"
#include "proxy/http/chunked.h"
#include "proxy/http/parser.h"
#include "proxy/upstream/relay.h"

namespace ne::fuzz {

using proxy::BodyPump;
using proxy::ChunkedDecoder;
using proxy::Framing;
using proxy::MessageParser;

[[noreturn]] inline void violated(const char* what) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
}

inline void require(bool ok, const char* what) {
    if (!ok) violated(what);
}

// Cheap deterministic split points, so a run replays exactly from its input.
inline size_t split_point(std::string_view data, size_t salt, size_t len) {
    size_t h = 1469598103934665603ull ^ salt;
    for (unsigned char c : data.substr(0, 64)) h = (h ^ c) * 1099511628211ull;
    return len == 0 ? 0 : h % (len + 1);
}

// An evbuffer holding `data` as several chains, as socket reads leave it: BodyPump walks
// chunked bodies segment by segment, and the segment edges are where bugs hide.
inline EvbufferPtr chained(std::string_view data) {
    EvbufferPtr buf(evbuffer_new());
    size_t at = 0;
    for (size_t salt = 0; at < data.size() && salt < 12; ++salt) {
        size_t n = 1 + split_point(data.substr(at), salt, data.size() - at - 1);
        evbuffer_add_reference(buf.get(), data.data() + at, n, nullptr, nullptr);
        at += n;
    }
    if (at < data.size()) evbuffer_add_reference(buf.get(), data.data() + at, data.size() - at, nullptr, nullptr);
    return buf;
}

inline std::string contents(evbuffer* buf) {
    std::string out(evbuffer_get_length(buf), '\0');
    evbuffer_copyout(buf, out.data(), out.size());
    return out;
}

struct Decoded {
    ChunkedDecoder::Status status = ChunkedDecoder::Status::more;
    size_t consumed = 0;
    std::string data;
};

// The reference decoding of a chunked body, fed whole.
inline Decoded decode_chunked(std::string_view in) {
    struct Collect final : ChunkedDecoder::Sink {
        std::string* out;
        void on_data(std::string_view d) override { out->append(d); }
    };
    Decoded d;
    Collect sink;
    sink.out = &d.data;
    ChunkedDecoder decoder;
    auto step = decoder.feed(in, sink);
    d.status = step.status;
    d.consumed = step.consumed;
    return d;
}

// Parses `bytes` as one head by growing prefixes (as bytes trickle in from a socket, each
// call passing everything received so far) and checks the outcome equals that of `whole`,
// which parsed all of `bytes` in one call with the result `whole_progress`.
inline void require_same_by_pieces(const MessageParser& whole, MessageParser::Progress whole_progress,
                                   MessageParser& pieces, std::string_view bytes, bool no_body) {
    pieces.begin(no_body);
    auto progress = MessageParser::Progress::need_more;
    size_t have = split_point(bytes, 101, bytes.size());
    for (size_t step = 0; progress == MessageParser::Progress::need_more; ++step) {
        progress = pieces.parse_head(bytes.substr(0, have));
        if (have == bytes.size()) break;
        have = std::min(have + 1 + split_point(bytes.substr(have), 200 + step, 64), bytes.size());
    }
    require(progress == whole_progress, "a head parsed in pieces and whole disagree on the outcome");
    if (progress != MessageParser::Progress::head_complete) return;
    require(pieces.head_size() == whole.head_size(), "head size differs when parsed in pieces");
    require(pieces.target() == whole.target(), "target differs when parsed in pieces");
    require(pieces.framing() == whole.framing(), "framing differs when parsed in pieces");
    require(pieces.content_length() == whole.content_length(), "Content-Length differs when parsed in pieces");
    require(pieces.headers().size() == whole.headers().size(), "header count differs when parsed in pieces");
    for (size_t i = 0; i < whole.headers().size(); ++i) {
        require(pieces.headers()[i].name == whole.headers()[i].name, "a header name differs when parsed in pieces");
        require(pieces.headers()[i].value == whole.headers()[i].value, "a header value differs when parsed in pieces");
    }
}

// Moves the body that starts at `body` through BodyPump (`in` framing to `out` framing, input
// split into several chains), checks the output against the reference decoding and returns
// how many input bytes the body took, or npos when the stream ends inside it or is refused.
inline size_t pump_and_check(std::string_view body, Framing in, uint64_t length, Framing out, bool eof_ends) {
    EvbufferPtr src = chained(body);
    EvbufferPtr dst(evbuffer_new());
    BodyPump pump;
    pump.start(in, length, out);
    BodyPump::Step step = pump.pump(src.get(), dst.get());
    if (step == BodyPump::Step::more && eof_ends) step = pump.finish_at_eof(dst.get());
    const size_t consumed = static_cast<size_t>(pump.consumed());
    require(consumed == body.size() - evbuffer_get_length(src.get()), "BodyPump's consumed() miscounts");

    // What the sender meant, decoded independently of BodyPump.
    std::string expected;
    bool complete = false;
    if (in == Framing::chunked) {
        Decoded d = decode_chunked(body);
        require(d.status != ChunkedDecoder::Status::error || step == BodyPump::Step::failed,
                "BodyPump accepted a chunked body the decoder refuses");
        if (d.status == ChunkedDecoder::Status::error) return std::string_view::npos;
        complete = d.status == ChunkedDecoder::Status::done;
        require(!complete || consumed == d.consumed, "BodyPump stopped elsewhere than the end of the chunked body");
        expected = d.data;
    } else if (in == Framing::length) {
        complete = body.size() >= length;
        expected = body.substr(0, static_cast<size_t>(std::min<uint64_t>(length, body.size())));
    } else {
        complete = eof_ends;
        expected = body;
    }
    require(complete == (step == BodyPump::Step::done), "BodyPump's end of body is not the sender's");

    std::string sent = contents(dst.get());
    if (out == Framing::chunked) {
        Decoded d = decode_chunked(sent);
        require(d.status != ChunkedDecoder::Status::error, "the re-encoded chunked body does not decode");
        require(d.data == expected, "the re-encoded chunked body carries other bytes");
        require(complete == (d.status == ChunkedDecoder::Status::done), "the re-encoded body ends elsewhere");
        require(!complete || d.consumed == sent.size(), "bytes follow the re-encoded chunked body");
    } else {
        require(sent == expected, "the relayed body carries other bytes");
    }
    return complete ? consumed : std::string_view::npos;
}

}  // namespace ne::fuzz
