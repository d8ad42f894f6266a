// `nodeedge logs`: the last N lines of each app's out/err file, as PM2 prints them, then with
// --follow every new line of every file. The daemon names the files (cmd "logs"); with no
// daemon running, the default files in $NODEEDGE_HOME/logs are read instead, so the logs of
// apps that crashed the daemon or were killed can still be seen.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/table.h"
#include "ipc/result.h"

namespace ne::cli {

struct LogFileRef {
    std::string app;
    std::string stream;  // "out" | "err"
    std::string path;
    bool operator==(const LogFileRef&) const = default;
};

nlohmann::json logs_request(const LogsCmd& c);
Result<std::vector<LogFileRef>> parse_log_files(const nlohmann::json& reply);
// <app>-out.log and <app>-error.log in `dir` (the supervisor's default names), sorted; only
// `app`'s when it is not empty.
std::vector<LogFileRef> default_log_files(const std::string& dir, const std::string& app);
std::vector<LogFileRef> select_streams(std::vector<LogFileRef> files, Streams streams);

// "api out | line" (stream coloured on a TTY), or with json {"app","stream","line"}; no newline.
std::string format_log_line(const LogFileRef& file, const std::string& line, bool json, const Style& style);

Status run(const LogsCmd& c);

}  // namespace ne::cli
