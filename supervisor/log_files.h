// Where each app's worker output goes, and the open files: one LogFile per path, shared by the
// workers that write to it (merge_logs, or a replacement taking over from the worker it
// replaces), so a rotation or a flush acts on the one file every writer uses.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "supervisor/log_capture.h"

namespace ne::supervisor {

class LogFiles {
public:
    explicit LogFiles(std::string home) : home_(std::move(home)) {}

    // out_file / error_file (relative to the home folder), else <home>/logs/<app>-out.log;
    // without merge_logs, PM2's per-instance naming: api-out-1.log.
    std::string path(const config::App& app, int instance, bool err) const;
    // The file, opened on first use (an error is logged; writes then go nowhere).
    std::shared_ptr<LogFile> open(const config::App& app, int instance, bool err);
    void reopen_all();   // SIGUSR1, after logrotate renamed them
    // One of the files workers' output goes to, or a rotation of one ("out.log.2"): a watched
    // app whose log lives in its own tree must not restart for its own output (PM2's loop).
    bool writes(const std::string& path) const;

private:
    std::string home_;
    std::map<std::string, std::shared_ptr<LogFile>> files_;
};

}  // namespace ne::supervisor
