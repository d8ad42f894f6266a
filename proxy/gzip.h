// gzip for responses: whether to compress one (nginx's gzip module rules, pure) and a
// streaming encoder that writes into any byte sink (a std::string in tests, an evbuffer in
// the request path), so a body is compressed as it streams and never held whole.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "ipc/result.h"

namespace ne::proxy {

struct GzipQuery {
    std::string_view accept_encoding;          // request header
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

// Accept-Encoding allows gzip: "gzip" or "x-gzip" with q > 0, or "*" with q > 0 when gzip is
// not named. A q value that is not a number counts as 0.
bool accepts_gzip(std::string_view accept_encoding);

// Where compressed bytes go.
class ByteSink {
public:
    virtual void write(std::string_view bytes) = 0;

protected:
    ~ByteSink() = default;
};

class StringSink final : public ByteSink {
public:
    explicit StringSink(std::string& out) : out_(out) {}
    void write(std::string_view bytes) override { out_.append(bytes); }

private:
    std::string& out_;
};

// deflate with the gzip wrapper (windowBits 15 + 16, memLevel 8). Output reaches the sink in
// pieces of at most kChunk bytes as deflate produces them; the encoder keeps nothing beyond
// zlib's own window, so a slow client is handled by the caller's back-pressure on the sink.
class GzipEncoder {
public:
    static constexpr size_t kChunk = 16 * 1024;

    // `level` 1..9 (config's gzip.level); 0 or out of range is an error.
    static Result<GzipEncoder> create(int level);

    // Compresses `in`; output may lag behind input until flush() or finish().
    Status feed(std::string_view in, ByteSink& out);
    // Emits everything fed so far (Z_SYNC_FLUSH): for a body that pauses (server-sent
    // events, long polling) so the client is not kept waiting on deflate's buffer.
    Status flush(ByteSink& out);
    // Ends the stream (trailer with CRC-32 and length). Nothing may be fed afterwards.
    Status finish(ByteSink& out);

    uint64_t bytes_in() const;
    uint64_t bytes_out() const;

private:
    // zlib's state points back at its z_stream, which therefore must not move.
    struct StreamDeleter {
        void operator()(z_stream* zs) const;
    };
    explicit GzipEncoder(std::unique_ptr<z_stream, StreamDeleter> zs) : zs_(std::move(zs)) {}
    Status run(std::string_view in, int mode, ByteSink& out);

    std::unique_ptr<z_stream, StreamDeleter> zs_;
    bool finished_ = false;
};

}  // namespace ne::proxy
