// Decimal numbers appended to text being built (access log lines, response heads) without a
// temporary string per number.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>

namespace ne::proxy {

inline void append_number(std::string& out, uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

}  // namespace ne::proxy
