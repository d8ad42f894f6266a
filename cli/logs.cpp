#include "cli/logs.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <utility>

#include "cli/client.h"
#include "cli/tail.h"
#include "ipc/control.h"

namespace ne::cli {
namespace {

using nlohmann::json;

// How often --follow looks for growth: quick enough to feel live, cheap with many files.
constexpr auto kFollowEvery = std::chrono::milliseconds(200);

constexpr std::string_view kOutSuffix = "-out.log";
constexpr std::string_view kErrSuffix = "-error.log";

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

void print_lines(const LogFileRef& file, const std::vector<std::string>& lines, bool as_json, const Style& style) {
    for (const auto& line : lines) print(format_log_line(file, line, as_json, style) + "\n");
}

// Prints each file's tail, then whatever the files gain until interrupted: always with
// --follow, and by default on a terminal, as `pm2 logs` does. Piped output (scripts) ends after
// the tails unless --follow asks for more.
void show(const std::vector<LogFileRef>& files, const LogsCmd& c) {
    const bool follow = c.follow || ::isatty(STDOUT_FILENO);
    Style style = terminal_style();
    std::vector<FileFollower> followers;
    followers.reserve(files.size());
    for (const auto& f : files) {
        followers.emplace_back(f.path);
        if (!c.json) print(paint(fmt::format("{} last {} lines:", f.path, c.lines), Color::Grey, style) + "\n");
        print_lines(f, followers.back().tail(static_cast<size_t>(c.lines)), c.json, style);
        if (!c.json) print("\n");
    }
    std::fflush(stdout);
    while (follow) {
        std::this_thread::sleep_for(kFollowEvery);
        for (size_t i = 0; i < files.size(); ++i) print_lines(files[i], followers[i].poll(), c.json, style);
        std::fflush(stdout);
    }
}

}  // namespace

json logs_request(const LogsCmd& c) {
    return ipc::control::request("logs", c.app.empty() ? json::object() : json{{"app", c.app}});
}

Result<std::vector<LogFileRef>> parse_log_files(const json& reply) {
    std::vector<LogFileRef> files;
    auto it = reply.find("files");
    if (it == reply.end() || !it->is_array()) return Error{"daemon reply: files is missing"};
    for (size_t i = 0; i < it->size(); ++i) {
        const json& f = (*it)[i];
        try {
            files.push_back(LogFileRef{f.at("app").get<std::string>(), f.at("stream").get<std::string>(),
                                       f.at("path").get<std::string>()});
        } catch (const json::exception& e) {
            return Error{fmt::format("daemon reply: files[{}]: {}", i, e.what())};
        }
    }
    return files;
}

std::vector<LogFileRef> default_log_files(const std::string& dir, const std::string& app) {
    std::vector<LogFileRef> files;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        std::string name = entry.path().filename().string();
        for (auto [suffix, stream] : {std::pair{kOutSuffix, "out"}, std::pair{kErrSuffix, "err"}}) {
            if (!ends_with(name, suffix)) continue;
            std::string owner = name.substr(0, name.size() - suffix.size());
            if (app.empty() || owner == app) files.push_back(LogFileRef{owner, stream, entry.path().string()});
        }
    }
    // An app's out before its err, apps by name: the order the daemon's reply uses.
    auto order = [](const LogFileRef& f) { return std::pair{f.app, f.stream == "out" ? 0 : 1}; };
    std::sort(files.begin(), files.end(),
              [&](const LogFileRef& a, const LogFileRef& b) { return order(a) < order(b); });
    return files;
}

std::vector<LogFileRef> select_streams(std::vector<LogFileRef> files, Streams streams) {
    if (streams == Streams::Both) return files;
    const char* keep = streams == Streams::Out ? "out" : "err";
    std::erase_if(files, [&](const LogFileRef& f) { return f.stream != keep; });
    return files;
}

std::string format_log_line(const LogFileRef& file, const std::string& line, bool as_json, const Style& style) {
    if (as_json) {
        // Log lines are whatever the app printed: invalid UTF-8 is replaced, never fatal.
        return json{{"app", file.app}, {"stream", file.stream}, {"line", line}}.dump(
            -1, ' ', false, json::error_handler_t::replace);
    }
    Color c = file.stream == "err" ? Color::Red : Color::Green;
    return paint(file.app + " " + file.stream, c, style) + " | " + line;
}

Status run(const LogsCmd& c) {
    Client client(resolve_home());
    auto reply = client.call_if_running(logs_request(c));
    if (!reply) return reply.error();
    std::vector<LogFileRef> files;
    if (*reply) {
        auto parsed = parse_log_files(**reply);
        if (!parsed) return parsed.error();
        files = std::move(*parsed);
    } else {
        std::string dir = ipc::control::logs_dir(client.home());
        std::fputs(("nodeedge: no daemon running; reading the log files in " + dir + "\n").c_str(), stderr);
        files = default_log_files(dir, c.app);
    }
    files = select_streams(std::move(files), c.streams);
    if (files.empty()) {
        if (!c.app.empty()) return Error{"no log files for app '" + c.app + "'"};
        if (!c.json) print("no log files yet\n");
        return {};
    }
    show(files, c);
    return {};
}

}  // namespace ne::cli
