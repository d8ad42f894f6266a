#include "supervisor/log_files.h"

#include <spdlog/spdlog.h>

#include "ipc/control.h"

namespace ne::supervisor {

std::string LogFiles::path(const config::App& app, int instance, bool err) const {
    const std::string& written = err ? app.error_file : app.out_file;
    std::string path;
    if (written.empty()) path = ipc::control::logs_dir(home_) + "/" + app.name + (err ? "-error" : "-out") + ".log";
    else if (written[0] == '/') path = written;
    else path = home_ + "/" + written;
    if (!app.merge_logs) {
        auto dot = path.rfind('.');
        std::string suffix = "-" + std::to_string(instance);
        path = dot == std::string::npos || dot < path.rfind('/') ? path + suffix : path.insert(dot, suffix);
    }
    return path;
}

std::shared_ptr<LogFile> LogFiles::open(const config::App& app, int instance, bool err) {
    std::string p = path(app, instance, err);
    auto& slot = files_[p];
    if (!slot) {
        slot = std::make_shared<LogFile>(p, app.log_max_size, app.log_retain);
        if (auto s = slot->open(); !s) spdlog::error("{}: {}", app.name, s.error().message);
    }
    return slot;
}

bool LogFiles::writes(const std::string& path) const {
    for (const auto& [file, _] : files_) {
        if (!path.starts_with(file)) continue;
        std::string_view rest(path);
        rest.remove_prefix(file.size());
        if (rest.empty()) return true;
        if (rest.size() > 1 && rest[0] == '.' && rest.find_first_not_of("0123456789", 1) == std::string_view::npos)
            return true;
    }
    return false;
}

void LogFiles::reopen_all() {
    for (auto& [path, f] : files_) f->reopen();
}

}  // namespace ne::supervisor
