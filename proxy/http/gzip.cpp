#include "proxy/http/gzip.h"

#include <algorithm>
#include <array>

#include <spdlog/spdlog.h>


#include "proxy/http/forward_headers.h"
#include "proxy/static/mime.h"

namespace ne::proxy {

namespace {

// Calls f(element) for each element of a comma-separated header list, trimmed, empty ones
// skipped.
template <typename F>
void for_each_element(std::string_view list, F&& f) {
    while (!list.empty()) {
        const size_t comma = list.find(',');
        const std::string_view item = trim_ows(list.substr(0, comma));
        if (!item.empty()) f(item);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    }
}

// The q parameter of one Accept-Encoding element ("gzip;q=0.5"): > 0 means acceptable.
// RFC 9110 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
bool q_positive(std::string_view params) {
    bool positive = true;
    for (size_t semi = params.find(';'); semi != std::string_view::npos; semi = params.find(';', semi + 1)) {
        std::string_view p = trim_ows(params.substr(semi + 1, params.find(';', semi + 1) - semi - 1));
        if (p.size() < 2 || !(p[0] == 'q' || p[0] == 'Q') || p[1] != '=') continue;
        p.remove_prefix(2);
        if (p.empty() || p.size() > 5 || (p[0] != '0' && p[0] != '1') || (p.size() > 1 && p[1] != '.'))
            return false;
        const std::string_view frac = p.size() > 2 ? p.substr(2) : std::string_view{};
        if (!std::all_of(frac.begin(), frac.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
        positive = p[0] == '1' || frac.find_first_not_of('0') != std::string_view::npos;
    }
    return positive;
}

bool type_listed(std::string_view media, const std::vector<std::string>& types) {
    // nginx always includes text/html in gzip_types.
    if (header_is(media, "text/html")) return true;
    const std::string_view major = media.substr(0, media.find('/') + 1);   // "text/"
    return std::any_of(types.begin(), types.end(), [&](const std::string& t) {
        if (t == "*") return true;
        if (t.size() >= 2 && t.ends_with("/*")) return header_is(std::string_view(t).substr(0, t.size() - 1), major);
        return header_is(t, media);
    });
}

bool has_token(std::string_view list, std::string_view token) {
    bool found = false;
    for_each_element(list, [&](std::string_view item) {
        found = found || header_is(trim_ows(item.substr(0, item.find('='))), token);
    });
    return found;
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
    std::optional<bool> gzip, any;
    for_each_element(accept_encoding, [&](std::string_view item) {
        const size_t semi = item.find(';');
        const std::string_view coding = trim_ows(item.substr(0, semi));
        const bool ok = semi == std::string_view::npos || q_positive(item.substr(semi));
        if (header_is(coding, "gzip") || header_is(coding, "x-gzip")) {
            gzip = gzip.value_or(false) || ok;
        } else if (coding == "*") {
            any = ok;
        }
    });
    return gzip ? *gzip : any.value_or(false);
}

GzipDecision should_compress(const GzipQuery& q, const config::Gzip& gzip) {
    GzipDecision d;
    const std::string_view media = media_type(q.content_type);
    const bool encoded = !q.content_encoding.empty() && !header_is(trim_ows(q.content_encoding), "identity");
    const bool status_ok = q.status == 200 || q.status == 403 || q.status == 404;
    const bool too_short = q.content_length && *q.content_length < gzip.min_length;
    d.vary = gzip.enabled && status_ok && !q.head && !encoded && !too_short && !media.empty() &&
             type_listed(media, gzip.types) && compressible(media) && !has_token(q.cache_control, "no-transform");
    d.compress = d.vary && q.accepts_gzip;
    return d;
}

GzipQuery response_query(int status, std::span<const Header> headers, std::optional<uint64_t> length) {
    GzipQuery q;
    q.status = status;
    q.content_length = length;
    for (const Header& h : headers) {
        if (header_is(h.name, "content-type")) q.content_type = h.value;
        else if (header_is(h.name, "content-encoding")) q.content_encoding = h.value;
        else if (header_is(h.name, "cache-control")) q.cache_control = h.value;
    }
    return q;
}

void GzipEncoder::StreamDeleter::operator()(z_stream* zs) const {
    deflateEnd(zs);
    delete zs;
}

Result<GzipEncoder> GzipEncoder::create(int level) {
    if (level < 1 || level > 9) return Error{"gzip: level " + std::to_string(level) + " is not within 1..9"};
    auto zs = std::make_unique<z_stream>();
    const int rc = deflateInit2(zs.get(), level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) return Error{std::string("gzip: deflateInit2: ") + (zs->msg ? zs->msg : zError(rc))};
    return GzipEncoder(std::unique_ptr<z_stream, StreamDeleter>(zs.release()), level);
}

Status GzipEncoder::feed(std::string_view in, ByteSink& out) {
    // zlib counts input in uInt: hand it over in slices that fit.
    constexpr size_t kSlice = size_t{1} << 30;
    for (size_t off = 0; off < in.size(); off += kSlice)
        if (Status s = run(in.substr(off, kSlice), Z_NO_FLUSH, out); !s) return s;
    return {};
}

Status GzipEncoder::flush(ByteSink& out) { return run({}, Z_SYNC_FLUSH, out); }

Status GzipEncoder::finish(ByteSink& out) {
    Status s = run({}, Z_FINISH, out);
    finished_ = true;
    return s;
}

Status GzipEncoder::reset() {
    if (deflateReset(zs_.get()) != Z_OK) return Error{"gzip: deflateReset: stream error"};
    finished_ = false;
    return {};
}

uint64_t GzipEncoder::bytes_in() const { return zs_->total_in; }
uint64_t GzipEncoder::bytes_out() const { return zs_->total_out; }

Status GzipEncoder::run(std::string_view in, int mode, ByteSink& out) {
    if (finished_) return Error{"gzip: stream already finished"};
    z_stream& zs = *zs_;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    std::array<char, kChunk> buf;
    int rc = Z_OK;
    do {
        zs.next_out = reinterpret_cast<Bytef*>(buf.data());
        zs.avail_out = static_cast<uInt>(buf.size());
        rc = deflate(&zs, mode);
        if (rc == Z_STREAM_ERROR) return Error{"gzip: deflate: stream error"};
        const size_t produced = buf.size() - zs.avail_out;
        if (produced > 0) out.write({buf.data(), produced});
        // Z_BUF_ERROR only says no progress was possible: all input taken, output drained.
    } while (rc != Z_STREAM_END && (zs.avail_out == 0 || zs.avail_in > 0));
    return {};
}

// ---- reuse on the request path -------------------------------------------------------------

Result<std::unique_ptr<GzipEncoder>> GzipEncoders::take(int level) {
    for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
        if ((*it)->level() != level) continue;
        auto e = std::move(*it);
        idle_.erase(std::next(it).base());
        if (Status s = e->reset(); !s) return s.error();
        return e;
    }
    auto made = GzipEncoder::create(level);
    if (!made) return made.error();
    return std::make_unique<GzipEncoder>(std::move(*made));
}

void GzipEncoders::put(std::unique_ptr<GzipEncoder> encoder) {
    if (!encoder) return;
    if (idle_.size() >= kMaxIdle) idle_.erase(idle_.begin());  // the oldest goes
    idle_.push_back(std::move(encoder));
}

GzipDecision GzipStep::response(GzipQuery q, const config::Gzip& gzip, GzipEncoders& pool) {
    q.accepts_gzip = accepts_;
    q.head = head_;
    GzipDecision d = should_compress(q, gzip);
    if (!d.compress) return d;
    auto e = pool.take(gzip.level);
    if (!e) {
        spdlog::error("{}; sending the response uncompressed", e.error().message);
        d.compress = false;
        return d;
    }
    encoder_ = std::move(*e);
    return d;
}

void GzipStep::end(GzipEncoders& pool) {
    if (encoder_) pool.put(std::move(encoder_));
}

}  // namespace ne::proxy
