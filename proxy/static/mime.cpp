#include "proxy/static/mime.h"

#include "proxy/http/headers.h"

#include <algorithm>
#include <array>

namespace ne::proxy {

namespace {

struct MimeEntry {
    std::string_view ext;   // lower case
    std::string_view type;
};

// Sorted by extension for binary search (checked below at compile time).
constexpr std::array kMimeTypes{
    MimeEntry{"7z", "application/x-7z-compressed"},
    MimeEntry{"atom", "application/atom+xml"},
    MimeEntry{"avi", "video/x-msvideo"},
    MimeEntry{"avif", "image/avif"},
    MimeEntry{"bmp", "image/x-ms-bmp"},
    MimeEntry{"br", "application/x-brotli"},
    MimeEntry{"css", "text/css; charset=utf-8"},
    MimeEntry{"csv", "text/csv; charset=utf-8"},
    MimeEntry{"eot", "application/vnd.ms-fontobject"},
    MimeEntry{"gif", "image/gif"},
    MimeEntry{"gz", "application/gzip"},
    MimeEntry{"htm", "text/html; charset=utf-8"},
    MimeEntry{"html", "text/html; charset=utf-8"},
    MimeEntry{"ico", "image/x-icon"},
    MimeEntry{"jpeg", "image/jpeg"},
    MimeEntry{"jpg", "image/jpeg"},
    MimeEntry{"js", "text/javascript; charset=utf-8"},   // RFC 9239
    MimeEntry{"json", "application/json"},                 // always UTF-8: no charset parameter
    MimeEntry{"m4a", "audio/x-m4a"},
    MimeEntry{"map", "application/json"},                  // source maps
    MimeEntry{"md", "text/markdown; charset=utf-8"},
    MimeEntry{"mjs", "text/javascript; charset=utf-8"},
    MimeEntry{"mov", "video/quicktime"},
    MimeEntry{"mp3", "audio/mpeg"},
    MimeEntry{"mp4", "video/mp4"},
    MimeEntry{"ogg", "audio/ogg"},
    MimeEntry{"ogv", "video/ogg"},
    MimeEntry{"otf", "font/otf"},
    MimeEntry{"pdf", "application/pdf"},
    MimeEntry{"png", "image/png"},
    MimeEntry{"rss", "application/rss+xml"},
    MimeEntry{"svg", "image/svg+xml"},
    MimeEntry{"tar", "application/x-tar"},
    MimeEntry{"ttf", "font/ttf"},
    MimeEntry{"txt", "text/plain; charset=utf-8"},
    MimeEntry{"wasm", "application/wasm"},
    MimeEntry{"wav", "audio/wav"},
    MimeEntry{"webm", "video/webm"},
    MimeEntry{"webmanifest", "application/manifest+json"},
    MimeEntry{"webp", "image/webp"},
    MimeEntry{"woff", "font/woff"},
    MimeEntry{"woff2", "font/woff2"},
    MimeEntry{"xhtml", "application/xhtml+xml"},
    MimeEntry{"xml", "text/xml; charset=utf-8"},
    MimeEntry{"zip", "application/zip"},
};

constexpr bool ext_less(const MimeEntry& a, const MimeEntry& b) { return a.ext < b.ext; }
static_assert(std::is_sorted(kMimeTypes.begin(), kMimeTypes.end(), ext_less));

constexpr std::string_view kDefaultType = "application/octet-stream";

// Media types and extensions are short; longer input is simply unknown.
constexpr size_t kMaxLowered = 64;

// Lower-cases `s` into `buf`; "" when it does not fit.
std::string_view lowered(std::string_view s, std::array<char, kMaxLowered>& buf) {
    if (s.size() > buf.size()) return {};
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        buf[i] = ascii_lower(c);
    }
    return {buf.data(), s.size()};
}

// Types outside text/, +json and +xml that still compress well.
constexpr std::array<std::string_view, 7> kAlsoCompressible{
    "application/wasm", "font/ttf", "font/otf", "application/vnd.ms-fontobject",
    "image/x-icon", "image/bmp", "image/x-ms-bmp",
};

}  // namespace

std::string_view mime_type(std::string_view path) {
    const size_t slash = path.rfind('/');
    const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    const size_t dot = name.rfind('.');
    if (dot == std::string_view::npos) return kDefaultType;
    std::array<char, kMaxLowered> buf;
    const std::string_view ext = lowered(name.substr(dot + 1), buf);
    if (ext.empty()) return kDefaultType;
    const auto it = std::lower_bound(kMimeTypes.begin(), kMimeTypes.end(), MimeEntry{ext, {}}, ext_less);
    return (it != kMimeTypes.end() && it->ext == ext) ? it->type : kDefaultType;
}

std::string_view media_type(std::string_view content_type) {
    return trim_ows(content_type.substr(0, content_type.find(';')));
}

bool compressible(std::string_view content_type) {
    std::array<char, kMaxLowered> buf;
    const std::string_view m = lowered(media_type(content_type), buf);
    const size_t slash = m.find('/');
    if (slash == std::string_view::npos) return false;
    const std::string_view type = m.substr(0, slash);
    const std::string_view sub = m.substr(slash + 1);
    if (type == "text") return true;
    // application/json, application/ld+json, x-ndjson, image/svg+xml, application/rss+xml...
    if (sub.ends_with("json") || sub.ends_with("xml") || sub.ends_with("javascript")) return true;
    return std::find(kAlsoCompressible.begin(), kAlsoCompressible.end(), m) != kAlsoCompressible.end();
}

}  // namespace ne::proxy
