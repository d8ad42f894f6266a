#include "proxy/static/static_files.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>

#include "ipc/result.h"
#include "proxy/http/date.h"
#include "proxy/http/forward_headers.h"
#include "proxy/static/mime.h"
#include "proxy/route/router.h"
#include "proxy/route/uri.h"

namespace ne::proxy {

namespace {


// ---- request target -> safe path ----

struct Target {
    std::string_view path;    // raw, still percent-encoded
    std::string_view query;   // after '?', may be empty
};

// The path and query of a request target; an absolute-form one loses its scheme and authority.
Target path_and_query(std::string_view target) {
    target = split_target(target).origin;
    const size_t q = target.find('?');
    if (q == std::string_view::npos) return {target, {}};
    return {target.substr(0, q), target.substr(q + 1)};
}

// ---- validators and conditions ----

std::string etag_for(const struct stat& st) {
    // nginx's form: hex mtime, hex size.
    char buf[48];
    const int n = std::snprintf(buf, sizeof buf, "\"%llx-%llx\"", static_cast<unsigned long long>(st.st_mtim.tv_sec),
                                static_cast<unsigned long long>(st.st_size));
    return std::string(buf, static_cast<size_t>(n));
}

// If-None-Match: "*" or a list of entity tags, compared weakly (W/ ignored).
bool none_match_hits(std::string_view list, std::string_view etag) {
    std::string_view rest = list;
    while (true) {
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t' || rest.front() == ','))
            rest.remove_prefix(1);
        if (rest.empty()) return false;
        if (rest.front() == '*') return true;
        if (rest.starts_with("W/")) rest.remove_prefix(2);
        if (!rest.starts_with('"')) return false;
        const size_t close = rest.find('"', 1);
        if (close == std::string_view::npos) return false;
        if (rest.substr(0, close + 1) == etag) return true;
        rest.remove_prefix(close + 1);
    }
}

// If-Range: a strong entity tag that is ours, or exactly our Last-Modified date.
bool if_range_holds(std::string_view value, std::string_view etag, std::time_t mtime) {
    value = trim_ows(value);
    if (value.starts_with('"')) return value == etag;
    if (value.starts_with("W/")) return false;   // weak tags never validate a range
    const auto date = parse_http_date(value);
    return date && *date == mtime;
}

struct ByteRange {
    enum class Kind : uint8_t { none, single, unsatisfiable } kind = Kind::none;
    uint64_t first = 0;
    uint64_t last = 0;
};

// The value of a run of digits; saturates instead of overflowing. nullopt for no digits.
std::optional<uint64_t> digits(std::string_view s) {
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    uint64_t v = 0;
    if (std::from_chars(s.data(), s.data() + s.size(), v).ec == std::errc::result_out_of_range) v = UINT64_MAX;
    return v;
}

// A single "bytes=a-b", "a-" or "-n". Anything invalid or several ranges: none, and the
// whole file is served (RFC 9110 14.2 lets a server ignore Range).
ByteRange parse_range(std::string_view header, uint64_t size) {
    header = trim_ows(header);
    const size_t eq = header.find('=');
    if (eq == std::string_view::npos || !header_is(trim_ows(header.substr(0, eq)), "bytes")) return {};
    const std::string_view spec = trim_ows(header.substr(eq + 1));
    const size_t dash = spec.find('-');
    if (spec.find(',') != std::string_view::npos || dash == std::string_view::npos) return {};
    const std::string_view a = trim_ows(spec.substr(0, dash));
    const std::string_view b = trim_ows(spec.substr(dash + 1));
    const ByteRange unsatisfiable{ByteRange::Kind::unsatisfiable};
    if (a.empty()) {
        const auto n = digits(b);
        if (!n) return {};
        if (*n == 0 || size == 0) return unsatisfiable;
        return {ByteRange::Kind::single, size - std::min(*n, size), size - 1};
    }
    const auto first = digits(a);
    const auto last = b.empty() ? std::optional<uint64_t>(UINT64_MAX) : digits(b);
    if (!first || !last || *last < *first) return {};
    if (*first >= size) return unsatisfiable;
    return {ByteRange::Kind::single, *first, std::min(*last, size - 1)};
}

// ---- opening under the root ----

// The status for a failed open() or realpath().
int status_for_errno(int err) {
    switch (err) {
        case ENOENT:
        case ENOTDIR:
        case ENAMETOOLONG:
        case ELOOP:
            return 404;
        case EACCES:
        case EPERM:
            return 403;
        default:
            return 500;
    }
}

struct Opened {
    UniqueFd fd;
    struct stat st {};
};

// Opens `path` and checks that the file the kernel opened lies inside `real_base`.
// Fails into plan.status / plan.error.
std::optional<Opened> open_inside(const std::string& path, const std::string& real_base, StaticPlan& plan) {
    // O_NONBLOCK: a FIFO in the root must not hang the worker in open().
    Opened o{UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)), {}};
    if (!o.fd) {
        plan.missing = errno == ENOENT || errno == ENOTDIR;
        plan.status = status_for_errno(errno);
        plan.error = Error::from_errno("open " + path).message;
        return std::nullopt;
    }
    char real[PATH_MAX];
    const std::string link = "/proc/self/fd/" + std::to_string(o.fd.get());
    const ssize_t n = ::readlink(link.c_str(), real, sizeof real);
    if (n < 0 || static_cast<size_t>(n) >= sizeof real) {
        plan.status = 403;   // cannot prove it is inside: refuse
        plan.error = Error::from_errno("cannot verify " + path + " (" + link + ")").message;
        return std::nullopt;
    }
    const std::string_view resolved(real, static_cast<size_t>(n));
    const bool inside = real_base == "/" || resolved == real_base ||
                        (resolved.starts_with(real_base) && resolved[real_base.size()] == '/');
    if (!inside) {
        plan.status = 403;
        plan.error = path + " resolves to " + std::string(resolved) + ", outside " + real_base;
        return std::nullopt;
    }
    if (::fstat(o.fd.get(), &o.st) != 0) {
        plan.status = 500;
        plan.error = Error::from_errno("fstat " + path).message;
        return std::nullopt;
    }
    return o;
}

}  // namespace

std::optional<std::string_view> StaticPlan::header(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (header_is(n, name)) return std::string_view(v);
    return std::nullopt;
}

StaticFiles::StaticFiles(const config::Location& location)
    : prefix_(location.path),
      exact_(location.match == config::Match::exact),
      prefixed_(location.match == config::Match::prefix || location.match == config::Match::exact ||
                location.match == config::Match::prefix_stop),
      base_(location.alias.empty() ? location.root : location.alias),
      alias_(!location.alias.empty()),
      index_(location.index),
      expires_s_(std::chrono::duration_cast<std::chrono::seconds>(location.expires).count()) {
    // "/srv/img/$1": files lie under "/srv/img", whatever the captures hold.
    if (const size_t var = base_.find('$'); var != std::string::npos) base_.resize(base_.rfind('/', var) + 1);
    while (base_.size() > 1 && base_.back() == '/') base_.pop_back();
    // `expires` gives max-age; a cache_control that sets its own max-age wins, any other is
    // appended ("max-age=2592000, public, immutable").
    std::string lower = location.cache_control;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    const bool own_max_age = lower.find("max-age") != std::string::npos;
    if (expires_s_ > 0 && !own_max_age) {
        cache_control_ = "max-age=" + std::to_string(expires_s_);
        if (!location.cache_control.empty()) cache_control_ += ", " + location.cache_control;
    } else {
        cache_control_ = location.cache_control;
    }
}

namespace {

bool method_allowed(const StaticRequest& req, StaticPlan& plan) {
    if (req.method == "HEAD" || req.method == "GET") return true;
    plan.status = 405;
    plan.headers.emplace_back("Allow", "GET, HEAD");
    return false;
}

}  // namespace

StaticPlan StaticFiles::plan(const StaticRequest& req, std::time_t now) const {
    StaticPlan plan;
    if (!method_allowed(req, plan)) return plan;
    const Target target = path_and_query(req.target);
    std::string path;
    if (const int status = percent_decode(target.path, path); status != 0) {
        plan.status = status;
        return plan;
    }
    const bool in_location =
        resolve_dots(path) && (!prefixed_ || (exact_ ? path == prefix_ : path.starts_with(prefix_)));
    if (!in_location) return plan;   // 404: it climbed out of the location
    return open_uri(req, path, now);
}

StaticPlan StaticFiles::plan_uri(const StaticRequest& req, std::string_view uri, std::time_t now) const {
    StaticPlan plan;
    if (!method_allowed(req, plan)) return plan;
    // Decoded already: it is not decoded again, only its dots (from captures) are resolved.
    std::string path(uri);
    plan.missing = true;
    const bool usable = path.find('\0') == std::string::npos && resolve_dots(path);
    if (!usable || (alias_ && prefixed_ && !path.starts_with(prefix_))) return plan;
    return open_uri(req, path, now);
}

StaticPlan StaticFiles::plan_file(const StaticRequest& req, std::string_view file, std::time_t now) const {
    StaticPlan plan;
    if (!method_allowed(req, plan)) return plan;
    std::string path(file);
    const bool inside = path.find('\0') == std::string::npos && resolve_dots(path) &&
                        (base_ == "/" || path.starts_with(base_ + "/"));
    if (!inside) return plan;
    const bool dir_form = path.ends_with('/');
    plan.path = std::move(path);
    if (plan.path.size() > 1 && dir_form) plan.path.pop_back();
    return answer(req, std::move(plan), dir_form, now);
}

StaticPlan StaticFiles::open_uri(const StaticRequest& req, const std::string& path, std::time_t now) const {
    StaticPlan plan;
    // root keeps the whole URI path; alias replaces the location prefix. With a prefix that
    // has no trailing slash ("/static"), "/staticx" must not map to "<alias>x". An alias in a
    // regex location without captures is the file for every path it matches (nginx).
    std::string_view rel = path;
    if (alias_ && !prefixed_) {
        rel = {};
    } else if (alias_) {
        rel.remove_prefix(prefix_.size());
        if (!rel.empty() && rel.front() != '/' && !prefix_.ends_with('/')) return plan;
    }
    plan.path = base_;
    if (!rel.empty() && rel.front() != '/') plan.path.push_back('/');
    plan.path.append(rel);
    return answer(req, std::move(plan), path.ends_with('/'), now);
}

// `plan.path` is the file to open; `dir_form`: the request named it with a trailing slash.
StaticPlan StaticFiles::answer(const StaticRequest& req, StaticPlan plan, bool dir_form, std::time_t now) const {
    const bool head = req.method == "HEAD";
    const Target target = path_and_query(req.target);
    char real_base[PATH_MAX];
    if (!::realpath(base_.c_str(), real_base)) {
        plan.status = status_for_errno(errno);
        plan.error = Error::from_errno("realpath " + base_).message;
        return plan;
    }
    auto opened = open_inside(plan.path, real_base, plan);
    if (!opened) return plan;

    if (S_ISDIR(opened->st.st_mode)) {
        plan.missing = true;   // a directory is no file to serve (try_files $uri)
        if (!dir_form) {
            plan.status = 301;
            std::string location(target.path);
            location.push_back('/');
            if (!target.query.empty()) location.append("?").append(target.query);
            plan.headers.emplace_back("Location", std::move(location));
            return plan;
        }
        if (index_.empty()) {
            plan.status = 403;   // no index configured, and no listings
            return plan;
        }
        plan.path += plan.path.ends_with('/') ? index_ : "/" + index_;
        opened = open_inside(plan.path, real_base, plan);
        if (!opened) {
            if (plan.status == 404) plan.status = 403;   // a directory without index: no listing
            return plan;
        }
    }
    if (!S_ISREG(opened->st.st_mode)) {
        plan.status = 404;   // a device, socket, FIFO or a directory named like the index
        return plan;
    }
    plan.missing = false;

    const struct stat& st = opened->st;
    const std::time_t mtime = st.st_mtim.tv_sec;
    plan.size = static_cast<uint64_t>(st.st_size);
    std::string etag = etag_for(st);
    std::string last_modified = http_date(mtime);

    // RFC 9110 13.2.2: If-None-Match first; If-Modified-Since only without it.
    bool not_modified = false;
    if (!req.if_none_match.empty()) {
        not_modified = none_match_hits(req.if_none_match, etag);
    } else if (!req.if_modified_since.empty()) {
        const auto since = parse_http_date(trim_ows(req.if_modified_since));
        not_modified = since && mtime <= *since;
    }

    ByteRange range;
    if (!not_modified && !head && !req.range.empty() &&
        (req.if_range.empty() || if_range_holds(req.if_range, etag, mtime)))
        range = parse_range(req.range, plan.size);

    if (range.kind == ByteRange::Kind::unsatisfiable) {
        plan.status = 416;
        plan.headers.emplace_back("Content-Range", "bytes */" + std::to_string(plan.size));
        return plan;
    }
    if (not_modified) {
        plan.status = 304;
    } else {
        plan.headers.emplace_back("Content-Type", std::string(mime_type(plan.path)));
        plan.headers.emplace_back("Accept-Ranges", "bytes");
        if (range.kind == ByteRange::Kind::single) {
            plan.status = 206;
            plan.offset = range.first;
            plan.length = range.last - range.first + 1;
            plan.headers.emplace_back("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                                           std::to_string(range.last) + "/" +
                                                           std::to_string(plan.size));
        } else {
            plan.status = 200;
            plan.length = plan.size;
        }
    }
    plan.headers.emplace_back("Last-Modified", std::move(last_modified));
    plan.headers.emplace_back("ETag", std::move(etag));
    if (expires_s_ > 0) plan.headers.emplace_back("Expires", http_date(now + expires_s_));
    if (!cache_control_.empty()) plan.headers.emplace_back("Cache-Control", cache_control_);

    plan.body = !head && (plan.status == 200 || plan.status == 206);
    if (plan.body) plan.fd = std::move(opened->fd);
    return plan;
}

}  // namespace ne::proxy
