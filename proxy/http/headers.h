// The small pieces every header-reading module of the proxy shares: a header as two views into
// the message, HTTP's optional whitespace, and case-insensitive names (ASCII only: header names
// are tokens, and a locale must never change how one compares).
#pragma once

#include <string_view>

namespace ne::proxy {

struct Header {
    std::string_view name;
    std::string_view value;
};

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// `s` without HTTP's optional whitespace (spaces and tabs) at either end.
std::string_view trim_ows(std::string_view s);

// Header names (and tokens such as "chunked" or "100-continue") compare case-insensitively.
bool header_is(std::string_view a, std::string_view b);

}  // namespace ne::proxy
