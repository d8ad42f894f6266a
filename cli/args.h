// The command line -> one typed Command (CLI11). Parsing touches neither the daemon nor the
// filesystem, so every usage rule (names, flags, `-i -1`, exit status 2) is unit-tested.
#pragma once

#include <string>
#include <variant>
#include <vector>

namespace ne::cli {

struct StartCmd {
    // ecosystem.toml or script, as typed (relative to the CLI's cwd); or, when no such file
    // exists, an app name or worker id to start again with its stored config (PM2's `start NAME`)
    std::string target;
    std::string instances;  // -i as written ("4", "max", "-1"); empty: not given
    std::string name;
    std::string only;
    int port = 0;           // --port; 0: not given
    bool no_retry = false;  // --no-retry
    std::vector<std::string> more_targets;  // `start api web 3`: the names or ids after the first
    std::string env;        // --env NAME: a PM2 file's env_NAME over its env; empty: not given
};

// reload / restart / stop / delete: same shape, different verb.
struct ActionCmd {
    std::string action;
    // App names, worker ids (status's id), "all", or (reload only) one ecosystem file
    std::vector<std::string> targets = {"all"};
    std::string env;  // reload of a PM2 file: --env NAME
};

struct ScaleCmd {
    std::string app;
    std::string count;  // as typed: "4" (that many), "+2" / "-1" (more or fewer than run now)
};

// PM2's startOrReload / startOrRestart FILE.
struct StartOrCmd {
    std::string then;   // "reload" or "restart"
    std::string file;
    std::string env;    // --env NAME, for a PM2 file
};

// jlist (one line) / prettylist (indented): PM2's JSON process list.
struct JlistCmd {
    bool pretty = false;
};

struct EnvCmd {
    std::string id;     // a worker id as `status` shows it
};

struct ResetCmd {
    std::vector<std::string> targets;
};

struct SignalCmd {
    std::string signal;   // as typed: SIGUSR2, USR2 or 12
    int number = 0;       // what it names
    std::vector<std::string> targets;
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
    std::string app;  // an app, a worker id or all; empty: every app
};

// nodeedge cache purge [LOCATION] [KEY_PREFIX]
struct CachePurgeCmd {
    std::string location;   // a cached location's path ("/api/"); empty: every location
    std::string prefix;     // keys ("http://host/path?query") that start with it; empty: all
};

struct DescribeCmd {
    std::string app;
};

// nodeedge certs [renew NAME]
struct CertsCmd {
    std::string renew;   // "" = list
};

struct MonitCmd {};
struct SaveCmd {};
struct ResurrectCmd {};
struct KillCmd {};
struct VersionCmd {};

struct CheckCmd {
    std::string file;
    std::string env;  // a PM2 file: --env NAME
};

// nodeedge import [ecosystem] [--nginx FILE]... [-o FILE]
struct ImportCmd {
    std::string apps;                 // ecosystem file the apps come from (TOML or PM2's); "" = none
    std::string env;                  // --env NAME, for a PM2 file
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

// `upgrade [--binary PATH]`: the daemon execs PATH (default: the file it was started from)
// in place and takes over its own workers.
struct UpgradeCmd {
    std::string binary;
};

using Command = std::variant<StartCmd, ActionCmd, ScaleCmd, StatusCmd, LogsCmd, FlushCmd,
                             DescribeCmd, SaveCmd, ResurrectCmd, KillCmd, VersionCmd, CheckCmd,
                             StartupCmd, DaemonCmd, MonitCmd, StartOrCmd, JlistCmd, EnvCmd, ResetCmd,
                             SignalCmd, ImportCmd, CertsCmd, UpgradeCmd, CachePurgeCmd>;

// Parsing ended without a command to run: help (code 0, text for stdout) or a usage error
// (code 2, text for stderr: the reason, then the usage line).
struct ParseExit {
    int code = 0;
    std::string text;
};

// `start` and `reload` tell an ecosystem file from a script (or app name) by its name:
// ecosystem.toml, or a PM2 file (config::is_pm2_ecosystem: .config.js, .json, .yaml, ...).
bool is_ecosystem_file(const std::string& target);

// A signal as `sendSignal` takes it, as PM2 (Node's process.kill) does: "SIGUSR2", "USR2"
// (any case) or its number "12"; 0 when it names none.
int signal_number(const std::string& typed);

std::variant<Command, ParseExit> parse_args(const std::vector<std::string>& args);  // without argv[0]
std::variant<Command, ParseExit> parse_args(int argc, const char* const argv[]);

}  // namespace ne::cli
