#include "proxy/log/access_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "proxy/http/append_number.h"
#include "proxy/to_timeval.h"

namespace ne::proxy {

namespace {

constexpr char kHex[] = "0123456789ABCDEF";
constexpr std::time_t kErrorReportEvery = 60;

// Seconds with millisecond resolution, as nginx writes $request_time.
void add_seconds(std::string& out, double s) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, s < 0 ? 0.0 : s, std::chars_format::fixed, 3);
    out.append(buf, end);
}

// nginx's escaping of variables in a text log line.
void add_escaped(std::string& out, std::string_view s) {
    if (s.empty()) {
        out.push_back('-');
        return;
    }
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
            out.append("\\x").push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        } else {
            out.push_back(ch);
        }
    }
}

// A JSON string. Bytes outside ASCII are written as \u00XX so that a line stays valid JSON
// whatever a client sent.
void add_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(ch);
        } else if (c < 0x20 || c >= 0x7f) {
            out.append("\\u00").push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        } else {
            out.push_back(ch);
        }
    }
    out.push_back('"');
}

void add_time(std::string& out, std::time_t now, const char* format) {
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[64];
    out.append(buf, std::strftime(buf, sizeof buf, format, &tm));
}

void add_protocol(std::string& out, const RequestRecord& r) {
    out.append(r.http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1");
}

// $upstream_response_time, or `none` when no upstream answered.
void add_upstream_seconds(std::string& out, const RequestRecord& r, const char* none) {
    if (r.upstream_seconds < 0)
        out.append(none);
    else
        add_seconds(out, r.upstream_seconds);
}

}  // namespace

void format_combined(const RequestRecord& r, std::time_t now, std::string& out) {
    add_escaped(out, r.remote_addr);
    out.append(" - - [");
    add_time(out, now, "%d/%b/%Y:%H:%M:%S %z");
    out.append("] \"");
    if (r.method.empty()) {
        out.push_back('-');
    } else {
        add_escaped(out, r.method);
        out.push_back(' ');
        add_escaped(out, r.target);
        out.push_back(' ');
        add_protocol(out, r);
    }
    out.append("\" ");
    append_number(out, static_cast<uint64_t>(r.status));
    out.push_back(' ');
    append_number(out, r.body_bytes_sent);
    out.append(" \"");
    add_escaped(out, r.referer);
    out.append("\" \"");
    add_escaped(out, r.user_agent);
    out.append("\" rt=");
    add_seconds(out, r.request_seconds);
    out.append(" uaddr=\"");
    add_escaped(out, r.upstream_addr);
    out.append("\" urt=");
    add_upstream_seconds(out, r, "-");
    out.append(" rid=\"");
    add_escaped(out, r.request_id);
    out.append("\"\n");
}

void format_json(const RequestRecord& r, std::time_t now, std::string& out) {
    out.append("{\"time\":\"");
    add_time(out, now, "%Y-%m-%dT%H:%M:%S%z");
    out.append("\",\"remote_addr\":");
    add_json_string(out, r.remote_addr);
    out.append(",\"method\":");
    add_json_string(out, r.method);
    out.append(",\"uri\":");
    add_json_string(out, r.target);
    out.append(",\"protocol\":\"");
    add_protocol(out, r);
    out.append("\",\"status\":");
    append_number(out, static_cast<uint64_t>(r.status));
    out.append(",\"bytes_sent\":");
    append_number(out, r.bytes_sent);
    out.append(",\"body_bytes_sent\":");
    append_number(out, r.body_bytes_sent);
    out.append(",\"request_time\":");
    add_seconds(out, r.request_seconds);
    out.append(",\"upstream_addr\":");
    add_json_string(out, r.upstream_addr);
    out.append(",\"upstream_response_time\":");
    add_upstream_seconds(out, r, "null");
    out.append(",\"request_id\":");
    add_json_string(out, r.request_id);
    out.append(",\"host\":");
    add_json_string(out, r.host);
    out.append(",\"referer\":");
    add_json_string(out, r.referer);
    out.append(",\"user_agent\":");
    add_json_string(out, r.user_agent);
    out.append(",\"location\":");
    if (r.location)
        add_json_string(out, config::spelling(*r.location));
    else
        out.append("null");
    out.append("}\n");
}

std::string access_log_path(const std::string& written, const std::string& home) {
    if (written.empty() || written == "off") return {};
    if (written.front() == '/') return written;
    return home + "/" + written;
}

AccessLog::AccessLog(event_base* base) : base_(base), timer_(evtimer_new(base, timer_cb, this)) {
    buffer_.reserve(kBufferBytes + 4096);
}

AccessLog::~AccessLog() { flush(); }

Result<UniqueFd> open_access_log(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) return Error::from_errno("access_log " + path);
    return fd;
}

void AccessLog::use(UniqueFd fd, std::string path) {
    flush();
    fd_ = std::move(fd);
    path_ = std::move(path);
}

void AccessLog::write(const RequestRecord& r) {
    if (!enabled()) return;
    const std::time_t now = std::time(nullptr);
    if (format_ == AccessLogFormat::json)
        format_json(r, now, buffer_);
    else
        format_combined(r, now, buffer_);
    if (buffer_.size() >= kBufferBytes) {
        flush();
    } else if (!timer_armed_) {
        timeval tv = to_timeval(kFlushEvery);
        evtimer_add(timer_.get(), &tv);
        timer_armed_ = true;
    }
}

void AccessLog::flush() {
    if (timer_armed_) {
        evtimer_del(timer_.get());
        timer_armed_ = false;
    }
    if (buffer_.empty()) return;
    const char* p = buffer_.data();
    size_t left = buffer_.size();
    while (left > 0 && fd_.get() >= 0) {
        ssize_t n = ::write(fd_.get(), p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const std::time_t now = std::time(nullptr);
            if (now - last_error_report_ >= kErrorReportEvery) {
                last_error_report_ = now;
                spdlog::error("access_log {}: {}; {} bytes of log lines dropped", path_,
                              n < 0 ? std::strerror(errno) : "nothing written", left);
            }
            break;
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    buffer_.clear();
}

void AccessLog::timer_cb(evutil_socket_t, short, void* self) {
    auto* log = static_cast<AccessLog*>(self);
    log->timer_armed_ = false;
    log->flush();
}

}  // namespace ne::proxy
