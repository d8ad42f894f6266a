// HTTP-date (RFC 9110 5.6.7), for Last-Modified, Expires, If-Modified-Since and the cache's
// freshness: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" is written; the obsolete RFC 850 and
// asctime forms are also read.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace ne::proxy {

std::string http_date(std::time_t t);
// nullopt for anything that is not one of the three forms.
std::optional<std::time_t> parse_http_date(std::string_view s);

}  // namespace ne::proxy
