#include "proxy/upstream/sticky.h"

#include <chrono>

namespace ne::proxy {

std::string sticky_value(const Backend& b) {
    uint64_t h = 0xcbf29ce484222325ULL;   // FNV-1a: stable everywhere, no key to share
    for (unsigned char c : b.address) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<size_t>(i)] = kDigits[h & 15];
    return out;
}

std::string_view cookie_value(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        const size_t end = header.find(';');
        std::string_view pair = header.substr(0, end);
        header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
        while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
        const size_t eq = pair.find('=');
        if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
        std::string_view value = pair.substr(eq + 1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        return value;
    }
    return {};
}

Backend* sticky_backend(Pool& pool, std::string_view value, const PickContext& ctx) {
    if (value.size() != 16) return nullptr;
    for (auto& b : pool.backends())
        if (b && eligible(*b, ctx) && sticky_value(*b) == value) return b.get();
    return nullptr;
}

std::string sticky_set_cookie(const config::Sticky& s, std::string_view value) {
    std::string out = s.cookie;
    out.append("=").append(value);
    if (!s.path.empty()) out.append("; Path=").append(s.path);
    if (!s.domain.empty()) out.append("; Domain=").append(s.domain);
    if (s.expires.count() > 0)
        out.append("; Max-Age=").append(std::to_string(std::chrono::duration_cast<std::chrono::seconds>(s.expires).count()));
    if (s.secure) out.append("; Secure");
    if (s.httponly) out.append("; HttpOnly");
    if (s.samesite == "strict") out.append("; SameSite=Strict");
    else if (s.samesite == "lax") out.append("; SameSite=Lax");
    else if (s.samesite == "none") out.append("; SameSite=None");
    return out;
}

}  // namespace ne::proxy
