// gzip for responses: whether to compress one (nginx's gzip module rules, pure), a
// streaming encoder that writes into any byte sink (a std::string in tests, an evbuffer in
// the request path), so a body is compressed as it streams and never held whole, and the
// per-response step the request path drives (GzipStep, with encoders reused per worker).
#pragma once

#include <zlib.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "ipc/result.h"
#include "proxy/http/body_filter.h"
#include "proxy/http/parser.h"

namespace ne::proxy {

struct GzipQuery {
    bool accepts_gzip = false;                 // accepts_gzip() of the request's Accept-Encoding
    bool head = false;                         // a HEAD request: nothing to compress
    int status = 200;
    std::string_view content_type;             // response headers, "" when absent
    std::string_view content_encoding;
    std::optional<uint64_t> content_length;    // nullopt: unknown (chunked, until close)
    std::string_view cache_control;
};

struct GzipDecision {
    // The response qualifies (status 200/403/404 as nginx, a configured compressible type, not
    // encoded, not no-transform, not known to be shorter than min_length, not HEAD): send
    // "Vary: Accept-Encoding" whether or not this client accepts gzip, so caches keep the
    // variants apart.
    bool vary = false;
    // ...and this client accepts gzip: compress. The caller then sends "Content-Encoding:
    // gzip", drops Content-Length (the body is chunked or closes the connection) and weakens
    // a strong ETag (W/"..."), as nginx does.
    bool compress = false;
};

GzipDecision should_compress(const GzipQuery& q, const config::Gzip& gzip);

// The response side of a query from a response's headers; `length` is the body's length when
// known (nullopt for chunked or read-until-close bodies).
GzipQuery response_query(int status, std::span<const Header> headers, std::optional<uint64_t> length);

// Accept-Encoding allows gzip: "gzip" or "x-gzip" with q > 0, or "*" with q > 0 when gzip is
// not named. A q value that is not a number counts as 0.
bool accepts_gzip(std::string_view accept_encoding);

// deflate with the gzip wrapper (windowBits 15 + 16, memLevel 8). Output reaches the sink in
// pieces of at most kChunk bytes as deflate produces them; the encoder keeps nothing beyond
// zlib's own window, so a slow client is handled by the caller's back-pressure on the sink.
class GzipEncoder final : public BodyFilter {
public:
    static constexpr size_t kChunk = 16 * 1024;

    // `level` 1..9 (config's gzip.level); 0 or out of range is an error.
    static Result<GzipEncoder> create(int level);

    // Compresses `in`; output may lag behind input until flush() or finish().
    Status feed(std::string_view in, ByteSink& out) override;
    // Emits everything fed so far (Z_SYNC_FLUSH): for a body that pauses (server-sent
    // events, long polling) so the client is not kept waiting on deflate's buffer.
    Status flush(ByteSink& out) override;
    // Ends the stream (trailer with CRC-32 and length). Nothing may be fed afterwards.
    Status finish(ByteSink& out) override;
    // Starts a new stream at the same level, keeping zlib's memory (some 256 KiB per
    // encoder): a proxy worker reuses a few encoders rather than allocating one per response.
    Status reset();
    int level() const { return level_; }

    uint64_t bytes_in() const;
    uint64_t bytes_out() const;

private:
    // zlib's state points back at its z_stream, which therefore must not move.
    struct StreamDeleter {
        void operator()(z_stream* zs) const;
    };
    GzipEncoder(std::unique_ptr<z_stream, StreamDeleter> zs, int level) : zs_(std::move(zs)), level_(level) {}
    Status run(std::string_view in, int mode, ByteSink& out);

    std::unique_ptr<z_stream, StreamDeleter> zs_;
    int level_ = 0;
    bool finished_ = false;
};

// A proxy worker's idle encoders. zlib's state is some 256 KiB, so it is neither allocated per
// response nor kept per connection: a response takes one and gives it back when done.
class GzipEncoders {
public:
    static constexpr size_t kMaxIdle = 16;

    // An encoder at `level`, at the start of a stream.
    Result<std::unique_ptr<GzipEncoder>> take(int level);
    void put(std::unique_ptr<GzipEncoder> encoder);

private:
    std::vector<std::unique_ptr<GzipEncoder>> idle_;
};

// The gzip step of one response on the request path: the request's side is noted when its
// head is read (the views are gone by the time the response arrives), the decision is made
// on the response head, and the encoder is held until the response ends.
class GzipStep {
public:
    void request(std::string_view accept_encoding, bool head) {
        accepts_ = accepts_gzip(accept_encoding);
        head_ = head;
    }
    // Decides for a response described by `q` (its request fields are filled in here) and,
    // to compress, takes an encoder from `pool`. An encoder that cannot be made (zlib out of
    // memory) means the response goes uncompressed, with the error logged.
    GzipDecision response(GzipQuery q, const config::Gzip& gzip, GzipEncoders& pool);
    // The encoder of the current response; nullptr when not compressing.
    GzipEncoder* filter() const { return encoder_.get(); }
    // The response is over (sent or abandoned): the encoder goes back to `pool`.
    void end(GzipEncoders& pool);

private:
    bool accepts_ = false;
    bool head_ = false;
    std::unique_ptr<GzipEncoder> encoder_;
};

}  // namespace ne::proxy
