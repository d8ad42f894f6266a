// Static files for a location with `root` or `alias`: decides what to answer to one request
// and opens the file; the request path writes the head and sends the body with sendfile
// (evbuffer_add_file on plan.fd). No libevent types here, so every rule is unit-tested.
//
// Path safety (SPEC: a path that resolves outside root is never served):
//   * the target is percent-decoded exactly once (proxy/route/uri.h, as locations are
//     matched); a malformed escape is 400; a decoded NUL, an encoded slash (%2F) and any
//     backslash are 404, so no second decoder (or a Windows share) can find a different path
//     in the same bytes; try_files elements and alias captures are decoded already and are
//     never decoded again;
//   * "." and ".." segments are resolved on the path alone; a path that climbs above "/" or
//     out of the location's prefix is 404;
//   * the file is opened, and the path the kernel actually opened (/proc/self/fd) must lie
//     inside the realpath of the root (or alias): a symlink that leads out is 403. Checking
//     the open fd rather than a path leaves no window between check and use, and the root's
//     realpath is taken per request, so a deploy that re-points a "current" symlink is
//     followed at once. Symlinks that stay inside the root are served.
// openat2(RESOLVE_BENEATH) was the alternative: it refuses absolute symlinks even when they
// point back inside the root, and container seccomp profiles may deny it (ENOSYS).
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "ipc/unique_fd.h"

namespace ne::proxy {

// What the planner needs from the request; views into the parsed head. Absent headers are "".
struct StaticRequest {
    std::string_view method{};            // "GET", "HEAD", anything else is 405
    std::string_view target{};            // as received: "/static/a%20b.css?v=3" (or absolute-form)
    std::string_view if_none_match{};
    std::string_view if_modified_since{};
    std::string_view range{};
    std::string_view if_range{};
};

struct StaticPlan {
    // 200, 206, 301 (directory without its slash), 304, 400, 403, 404, 405, 416, or 500 (an
    // open error such as EMFILE; `error` says which). Statuses other than 200/206/304/301 are
    // answered with the proxy's own error page plus `headers`.
    int status = 404;
    std::string path;                     // the file (for logs); may be empty on early errors
    std::string error;                    // why a 403/500 happened, with errno text (for the error log)
    // No file at this path (none, or a directory): with an app beside the files, the request
    // is the app's, as with nginx's `try_files $uri @app`. Refused paths (escapes) are not.
    bool missing = false;
    UniqueFd fd;                          // open for 200/206 GET: the body is [offset, offset + length)
    uint64_t size = 0;                    // whole file size
    uint64_t offset = 0;
    uint64_t length = 0;                  // Content-Length of a 200/206 (also for HEAD)
    bool body = false;                    // send `length` bytes of `fd` (false for HEAD and non-2xx)
    // Response headers besides Date, Server, Content-Length and framing: Content-Type,
    // Last-Modified, ETag, Accept-Ranges, Content-Range, Expires, Cache-Control, Location, Allow.
    std::vector<std::pair<std::string_view, std::string>> headers;

    // The value of a header in `headers`, or nullopt.
    std::optional<std::string_view> header(std::string_view name) const;
};

class StaticFiles {
public:
    // `location` must have root or alias set (both absolute, as config/load makes them).
    explicit StaticFiles(const config::Location& location);

    // The file the request target names. `now` is the time of the request (for Expires).
    StaticPlan plan(const StaticRequest& request, std::time_t now) const;
    // The file for `uri`, a path already decoded (try_files's "$uri", "$uri/"): its "." and
    // ".." are resolved again, as it may hold captures. A uri outside an alias's prefix is
    // missing.
    StaticPlan plan_uri(const StaticRequest& request, std::string_view uri, std::time_t now) const;
    // A file named outright: a regex location's alias with its captures expanded. It must lie
    // under the alias's fixed part ("/srv/img" of "/srv/img/$1").
    StaticPlan plan_file(const StaticRequest& request, std::string_view file, std::time_t now) const;

private:
    // Opens the file for the normalised `uri` and answers with it.
    StaticPlan open_uri(const StaticRequest& request, const std::string& uri, std::time_t now) const;
    StaticPlan answer(const StaticRequest& request, StaticPlan plan, bool dir_form, std::time_t now) const;

    std::string prefix_;                  // the location path, "/static/"
    bool exact_ = false;                  // "= /x": only that path
    bool prefixed_ = false;               // a prefix or exact location: requests lie under its path
    std::string base_;                    // root or alias (its fixed part), without a trailing '/'
    bool alias_ = false;
    std::string index_;
    int64_t expires_s_ = 0;
    std::string cache_control_;           // the Cache-Control value, or "" for none
};

}  // namespace ne::proxy
