// The request path as nginx matches and maps it: percent-decoded exactly once, "//" merged,
// "." and ".." resolved. Locations are matched against it (router), and static files are
// looked up by it; both use these functions, so no second decoder can find another path in
// the same bytes.
#pragma once

#include <string>
#include <string_view>

namespace ne::proxy {

// Percent-decodes `raw` once into `out`. 0 on success; 400 for a malformed escape; 404 for an
// encoded '/' (it would join what the client split), a NUL or a backslash (a Windows share).
int percent_decode(std::string_view raw, std::string& out);

// Resolves "." and ".." and merges empty segments of the absolute, decoded `path`, in place.
// False when ".." climbs above "/" (or the path is not absolute). A trailing slash, or a last
// segment of "." or "..", leaves a trailing slash.
bool resolve_dots(std::string& path);

// The path locations are matched against. Returns `raw` itself when there is nothing to do
// (no allocation), else a view of `buf`. Fails with percent_decode's status, or 400 when
// ".." climbs above the root (nginx's answer).
struct NormalizedUri {
    std::string_view path;
    int status = 0;                                   // 0, or 400/404 (path is then empty)
};
NormalizedUri normalize_uri(std::string_view raw, std::string& buf);

}  // namespace ne::proxy
