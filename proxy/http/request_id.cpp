#include "proxy/http/request_id.h"

namespace ne::proxy {

namespace {

uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void hex64(uint64_t v, char* out) {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i, v >>= 4) out[i] = kDigits[v & 0xf];
}

}  // namespace

void RequestIds::next(char* out) {
    uint64_t n = ++counter_;
    // hi_ + n * odd constant is a bijection of n, and mix() is one too.
    uint64_t a = mix(hi_ + n * 0x9e3779b97f4a7c15ull);
    hex64(a, out);
    hex64(mix(a ^ lo_), out + 16);
}

bool sane_request_id(std::string_view id) {
    if (id.empty() || id.size() > 200) return false;
    for (unsigned char c : id)
        if (c < 0x21 || c > 0x7e) return false;
    return true;
}

}  // namespace ne::proxy
