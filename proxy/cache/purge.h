// `nodeedge cache purge [location] [key prefix]`: removes stored answers, in the master, from
// the shared index and the folder at once, so no worker serves them after the command
// returns (nginx has this only in its commercial proxy_cache_purge). The files say which
// location and key each holds; a Vary marker and its variants share the request's key, so a
// prefix removes both.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "ipc/result.h"

namespace ne::proxy {

// `location`: a location's path as configured ("/api/"), "" for all; `prefix`: the start of
// the keys ("http://example.com/api/"), "" for all. Returns the answers removed (variants
// count, markers do not).
Result<size_t> purge_cache(int index_fd, const std::string& dir, std::string_view location, std::string_view prefix);

}  // namespace ne::proxy
