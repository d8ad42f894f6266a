// Worker stdout/stderr -> timestamped lines in files, with size-based rotation.
//
// LogFile: one output file (append), rotated when a line would take it past max_size
// (file -> file.1 -> ... keeping `retain` old files), reopened by reopen() for logrotate (the
// daemon calls it on SIGUSR1), emptied by flush(). Writes never block the daemon forever: the
// fd is O_APPEND and regular; if the disk refuses a write the line is dropped and counted,
// never buffered. Several LogCaptures may share one LogFile (merge_logs): each line is one
// write(2), so lines of different workers never interleave mid-line.
//
// LogCapture: reads one worker pipe on the loop, splits it into lines, prefixes each with
// the time (log_date_format) and "app:i", and writes them to a LogFile. A partial line is
// held until its newline arrives, up to 64 KiB; a longer line is written in 64 KiB pieces.
// The pipe is always read (a worker blocked on a full stdout pipe would stop serving), so
// memory stays bounded by that cap, not by throttling the worker.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ipc/event_ptr.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::supervisor {

class LogFile {
public:
    // max_size 0: never rotate. retain 0: rotation starts an empty file and keeps no old one.
    LogFile(std::string path, uint64_t max_size, int retain);
    Status open();               // creates parent folders
    void write_line(std::string_view line);  // line without its '\n'
    // Reopens `path` (after logrotate renamed it); on failure keeps writing to the old file.
    void reopen();
    Status flush();              // truncate to empty
    const std::string& path() const { return path_; }
    uint64_t dropped_lines() const { return dropped_; }

private:
    void rotate();
    std::string path_;
    uint64_t max_size_;
    int retain_;
    UniqueFd fd_;
    bool regular_ = true;        // /dev/null or a fifo is never rotated or truncated
    uint64_t size_ = 0;
    uint64_t dropped_ = 0;
    int write_errno_ = 0;        // of the failure streak going on (ENOSPC, EIO), 0 when writes work
};

class LogCapture {
public:
    // `prefix` is e.g. "api:1"; `date_format` strftime-style (log_date_format; "" for no time).
    // on_eof runs once when the pipe closes (the worker and its children are gone or closed
    // it), after any partial last line was written; it may destroy this LogCapture.
    LogCapture(event_base* base, UniqueFd pipe, std::shared_ptr<LogFile> file, std::string prefix,
               std::string date_format, std::function<void()> on_eof = {});
    ~LogCapture();

private:
    static void on_readable(evutil_socket_t, short, void* self);
    void read_some();
    void consume(std::string_view data);
    void finish();
    void emit(std::string_view line);
    UniqueFd pipe_;
    std::shared_ptr<LogFile> file_;
    std::string prefix_;
    std::string date_format_;
    std::function<void()> on_eof_;
    std::string partial_;
    std::string stamp_;          // the time, formatted once per read for all its lines
    std::string line_;           // reused to compose "<time> <prefix>: <line>"
    EventPtr ev_;
};

// "2026-11-30T03:15:08+0000" in local time with the given strftime format, plus nothing else.
std::string format_now(const std::string& date_format);

}  // namespace ne::supervisor
