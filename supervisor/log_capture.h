// Worker stdout/stderr -> timestamped lines in files, with size-based rotation.
//
// LogFile: one output file (append), rotated when it passes max_size (file -> file.1 -> ...
// keeping `retain` old files), reopened on SIGUSR1 (reopen()) for logrotate, emptied by
// flush(). Writes never block the daemon forever: the fd is O_APPEND and regular; if the
// disk refuses a write the line is dropped and counted, never buffered without bound.
//
// LogCapture: reads one worker pipe on the loop, splits into lines, prefixes each with the
// time (log_date_format) and "app:i", writes to a LogFile. A partial line is held (up to a
// bound, 64 KiB, then written as a line of its own) until its newline arrives. Reading stops
// while... nothing: reading is what keeps the worker unblocked; memory stays bounded by the
// partial-line cap.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ipc/event_ptr.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::supervisor {

class LogFile {
public:
    LogFile(std::string path, uint64_t max_size, int retain);
    Status open();               // creates parent folders
    void write_line(std::string_view line);  // line without its '\n'
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
    uint64_t size_ = 0;
    uint64_t dropped_ = 0;
};

class LogCapture {
public:
    // `prefix` is e.g. "api:1"; `date_format` strftime-style (log_date_format).
    // on_eof runs once when the pipe closes (the worker and its children are gone or closed it).
    LogCapture(event_base* base, UniqueFd pipe, std::shared_ptr<LogFile> file, std::string prefix,
               std::string date_format, std::function<void()> on_eof = {});
    ~LogCapture();

private:
    static void on_readable(evutil_socket_t, short, void* self);
    void read_some();
    void emit(std::string_view line);
    UniqueFd pipe_;
    std::shared_ptr<LogFile> file_;
    std::string prefix_;
    std::string date_format_;
    std::function<void()> on_eof_;
    std::string partial_;
    EventPtr ev_;
};

// "2026-11-30T03:15:08+0000" in local time with the given strftime format, plus nothing else.
std::string format_now(const std::string& date_format);

}  // namespace ne::supervisor
