// The access log of one proxy worker. Each finished request becomes one line, formatted into a
// memory buffer; the buffer is written in one write(2) when it passes 64 KiB or one second after
// its first line (nginx's `access_log ... buffer=64k flush=1s`), so the event loop makes one
// system call per batch instead of one per request. Every proxy worker appends to the same file
// with O_APPEND: a batch holds whole lines and appends to a regular file do not interleave.
// A failed write (disk full) drops its batch and is reported once per minute: the log never
// stalls requests or grows memory. The worker never opens the file: the master does (as root,
// where $NODEEDGE_HOME may be out of a `[proxy] user`'s reach) and hands the descriptor down,
// again after each rotation (its SIGUSR1), as nginx's master reopens logs for its workers.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <ctime>
#include <string>
#include <string_view>

#include "ipc/event_ptr.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"
#include "proxy/log/request_record.h"

namespace ne::proxy {

enum class AccessLogFormat : uint8_t { combined, json };

// nginx's combined format plus the request time, upstream address, upstream response time and
// request id:
//   127.0.0.1 - - [30/Nov/2026:06:40:01 +0000] "GET /a?b HTTP/1.1" 200 12 "-" "curl/7.88.1"
//   rt=0.003 uaddr="127.0.0.1:3000" urt=0.002 rid="0f3c..."
// `now` is the wall-clock time of the line. Quotes, backslashes and bytes outside printable
// ASCII are escaped as \xHH (as nginx does); empty fields are "-".
void format_combined(const RequestRecord& r, std::time_t now, std::string& out);
// One JSON object per line: time (ISO 8601), remote_addr, method, uri, protocol, status,
// bytes_sent, body_bytes_sent, request_time, upstream_addr, upstream_response_time (null when
// no upstream answered), request_id, host, referer, user_agent, location.
void format_json(const RequestRecord& r, std::time_t now, std::string& out);

class AccessLog {
public:
    static constexpr size_t kBufferBytes = 64 * 1024;
    static constexpr std::chrono::seconds kFlushEvery{1};

    explicit AccessLog(event_base* base);
    ~AccessLog();  // flushes
    AccessLog(const AccessLog&) = delete;
    AccessLog& operator=(const AccessLog&) = delete;

    // Logs to `fd` (opened by open_access_log) from now on, or nowhere when it is invalid;
    // what was buffered goes to the previous file first. `path` names the file in errors.
    void use(UniqueFd fd, std::string path);
    void set_format(AccessLogFormat format) { format_ = format; }
    bool enabled() const { return fd_.get() >= 0; }

    void write(const RequestRecord& r);
    void flush();

private:
    static void timer_cb(evutil_socket_t, short, void* self);

    event_base* base_;
    EventPtr timer_;
    bool timer_armed_ = false;
    std::string path_;
    AccessLogFormat format_ = AccessLogFormat::combined;
    UniqueFd fd_;
    std::string buffer_;
    std::time_t last_error_report_ = 0;
};

// "[proxy] access_log" as written -> the file: "off" or "" -> "", relative -> under `home`.
std::string access_log_path(const std::string& written, const std::string& home);
// Opens (creates) an access log for appending; the error names the path.
Result<UniqueFd> open_access_log(const std::string& path);

}  // namespace ne::proxy
