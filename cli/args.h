// The command line -> one typed Command (CLI11). Parsing touches neither the daemon nor the
// filesystem, so every usage rule (names, flags, `-i -1`, exit status 2) is unit-tested.
#pragma once

#include <string>
#include <variant>
#include <vector>

namespace ne::cli {

struct StartCmd {
    std::string target;     // ecosystem.toml or script, as typed (relative to the CLI's cwd)
    std::string instances;  // -i as written ("4", "max", "-1"); empty: not given
    std::string name;
    std::string only;
    int port = 0;           // --port; 0: not given
    bool no_retry = false;  // --no-retry
};

// reload / restart / stop / delete: same shape, different verb.
struct ActionCmd {
    std::string action;
    std::string target = "all";  // APP, "all", or (reload only) an ecosystem.toml
};

struct ScaleCmd {
    std::string app;
    int instances = 0;
};

struct StatusCmd {
    bool json = false;
};

enum class Streams { Both, Out, Err };

struct LogsCmd {
    std::string app;  // empty: every app
    int lines = 15;
    bool follow = false;
    Streams streams = Streams::Both;
    bool json = false;
};

struct FlushCmd {
    std::string app;  // empty: every app
};

struct DescribeCmd {
    std::string app;
};

struct MonitCmd {};
struct SaveCmd {};
struct ResurrectCmd {};
struct KillCmd {};
struct VersionCmd {};

struct CheckCmd {
    std::string file;
};

// nodeedge import [ecosystem] [--nginx FILE]... [-o FILE]
struct ImportCmd {
    std::string apps;                 // ecosystem file the apps come from; "" = none
    std::vector<std::string> nginx;   // nginx files, in order
    std::string output = "-";         // "-": stdout
};

struct StartupCmd {
    bool install = false;
};

struct DaemonCmd {
    bool foreground = false;
    std::string log_format;   // "json": one JSON object per log line; "" = NODEEDGE_LOG_FORMAT or text
};

using Command = std::variant<StartCmd, ActionCmd, ScaleCmd, StatusCmd, LogsCmd, FlushCmd,
                             DescribeCmd, SaveCmd, ResurrectCmd, KillCmd, VersionCmd, CheckCmd,
                             StartupCmd, DaemonCmd, MonitCmd, ImportCmd>;

// Parsing ended without a command to run: help (code 0, text for stdout) or a usage error
// (code 2, text for stderr: the reason, then the usage line).
struct ParseExit {
    int code = 0;
    std::string text;
};

// `start` and `reload` tell an ecosystem file from a script (or app name) by this extension.
bool is_ecosystem_file(const std::string& target);

std::variant<Command, ParseExit> parse_args(const std::vector<std::string>& args);  // without argv[0]
std::variant<Command, ParseExit> parse_args(int argc, const char* const argv[]);

}  // namespace ne::cli
