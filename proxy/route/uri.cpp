#include "proxy/route/uri.h"

namespace ne::proxy {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Nothing to decode, merge or resolve: the common case, answered without a copy.
bool already_normal(std::string_view p) {
    if (p.find_first_of("%\\") != std::string_view::npos || p.find("//") != std::string_view::npos) return false;
    for (size_t dot = p.find("/."); dot != std::string_view::npos; dot = p.find("/.", dot + 1)) {
        const std::string_view rest = p.substr(dot + 2);
        if (rest.empty() || rest.front() == '/' || (rest.front() == '.' && (rest.size() == 1 || rest[1] == '/')))
            return false;
    }
    return true;
}

}  // namespace

int percent_decode(std::string_view raw, std::string& out) {
    out.clear();
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '%') {
            const int hi = i + 2 < raw.size() ? hex_value(raw[i + 1]) : -1;
            const int lo = hi >= 0 ? hex_value(raw[i + 2]) : -1;
            if (lo < 0) return 400;
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
            if (c == '/') return 404;
        }
        if (c == '\0' || c == '\\') return 404;
        out.push_back(c);
    }
    return 0;
}

bool resolve_dots(std::string& p) {
    if (!p.starts_with('/')) return false;
    // Segments are copied down in place: the write position never passes the read position.
    size_t w = 0;
    bool dir = false;
    size_t r = 1;
    while (r <= p.size()) {
        size_t end = p.find('/', r);
        if (end == std::string::npos) end = p.size();
        const std::string_view seg(p.data() + r, end - r);
        dir = seg.empty() || seg == "." || seg == "..";
        if (seg == "..") {
            if (w == 0) return false;
            w = p.rfind('/', w - 1);
        } else if (!dir) {
            p[w++] = '/';
            for (size_t i = r; i < end; ++i) p[w++] = p[i];
        }
        r = end + 1;
    }
    p.resize(w);
    if (p.empty() || dir) p.push_back('/');
    return true;
}

NormalizedUri normalize_uri(std::string_view raw, std::string& buf) {
    if (!raw.starts_with('/') || already_normal(raw)) return {raw, 0};  // "*" is matched as it is
    if (const int status = percent_decode(raw, buf); status != 0) return {{}, status};
    if (!resolve_dots(buf)) return {{}, 400};
    return {buf, 0};
}

}  // namespace ne::proxy
