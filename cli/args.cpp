#include "cli/args.h"

#include <CLI/CLI.hpp>

#include <strings.h>

#include <csignal>
#include <cstring>
#include <functional>
#include <map>

#include "config/config.h"
#include "config/pm2_ecosystem.h"
#include "ipc/version.h"

namespace ne::cli {
namespace {

constexpr const char* kTopUsage = "usage: nodeedge <command> [args]   (nodeedge --help lists them)";

// The whole command-line grammar. CLI11 fills the members; the subcommand that parsed then
// turns them into its Command.
class Parser {
public:
    Parser() {
        app_.require_subcommand(1);
        app_.set_version_flag("-v,--version", "nodeedge " + ipc::version());

        auto* start = add("start", "Start apps from an ecosystem.toml or a script; or start stopped apps again",
                          "start <ecosystem.toml | ecosystem.config.js | script.js> [-i N|max|-K] [--name NAME] "
                          "[--only APP] [--port BASE] [--env NAME] [--no-retry]  |  start <APP|ID>...",
                          [this] { return Command{start_cmd()}; }, [this] { return start_mismatch(); });
        start->add_option("target", start_targets_,
                          "ecosystem.toml or script to run; or the names or ids of stopped apps or workers")
            ->required();
        start->add_option("-i,--instances", start_.instances, "Workers per app: N, max, or -K (CPUs - K)")
            ->check(CLI::Validator(
                [](std::string& v) -> std::string {
                    // Any CPU count works: the grammar, not the value, is checked here.
                    return config::resolve_instances(v, 1) ? "" : "expected N > 0, max or -K, got '" + v + "'";
                },
                "N|max|-K"));
        start->add_option("--name", start_.name, "App name (script only; default: the script's basename)");
        start->add_option("--only", start_.only, "Start only this app of the file");
        start->add_flag("--no-retry", start_.no_retry,
                        "A worker that exits before it is ready fails the start at once (default: it is "
                        "restarted up to max_restarts first)");
        start->add_option("--port", start_.port,
                          "Base port: instance i gets PORT = BASE + i (a script without --port: 3000)")
            ->check(CLI::Range(1, 65535));
        start->add_option("--env", start_.env, "A PM2 file's env_NAME, merged over its env (as pm2 --env)");

        auto* reload = add_action("reload", "Rolling zero-downtime restart; with a file: apply its changed config",
                                  "reload [APP|ID|all]... | reload <ecosystem.toml | ecosystem.config.js [--env NAME]>");
        reload->add_option("--env", action_.env, "A PM2 file's env_NAME, merged over its env (as pm2 --env)");
        add_action("restart", "Stop then start each worker, one at a time", "restart [APP|ID|all]...");
        add_action("stop", "Stop gracefully; the app stays listed as stopped", "stop [APP|ID|all]...");
        add_action("delete", "Stop and forget", "delete [APP|ID|all]...")->alias("del");

        for (auto verb_then : {std::pair{"startOrReload", "reload"}, std::pair{"startOrRestart", "restart"}}) {
            // Named copies: clang 14 cannot capture a structured binding in a lambda.
            const std::string verb = verb_then.first, then = verb_then.second;
            auto* sub = add(verb, std::string("Start the file's apps that do not run; ") + then + " those that do",
                            verb + " <ecosystem file> [--env NAME]",
                            [this, then] { return Command{StartOrCmd{then, start_or_file_, start_or_env_}}; },
                            [this] { return pm2_env_mismatch(start_or_file_, start_or_env_); });
            sub->add_option("file", start_or_file_, "ecosystem file")->required();
            sub->add_option("--env", start_or_env_, "A PM2 file's env_NAME, merged over its env (as pm2 --env)");
        }

        auto* scale = add("scale", "Add or remove workers live", "scale APP|ID N|+N|-N",
                          [this] { return Command{scale_}; });
        scale->add_option("app", scale_.app, "App name (or a worker id: its app)")->required();
        scale->add_option("n", scale_.count, "Number of workers, or +N / -N more or fewer")
            ->required()
            ->check(CLI::Validator(
                [](std::string& v) -> std::string {
                    return is_count(v) ? "" : "expected N, +N or -N, got '" + v + "'";
                },
                "N|+N|-N"));

        auto* status = add("status", "Workers and proxy as a table", "status [--json]",
                           [this] { return Command{status_}; });
        status->alias("ls")->alias("list")->alias("ps")->alias("l");   // PM2's spellings of its list
        status->add_flag("--json", status_.json, "Print the workers as a JSON array");

        add("monit", "Live view of workers and traffic (q or Ctrl-C quits)", "monit",
            [] { return Command{MonitCmd{}}; });

        auto* logs = add("logs", "Print (and follow) the apps' logs",
                         "logs [APP] [--lines N] [-f|--follow] [--err|--out] [--json]",
                         [this] { return Command{logs_with_streams()}; });
        logs->add_option("app", logs_.app, "Only this app");
        logs->add_option("--lines", logs_.lines, "Lines printed from the end of each file")
            ->check(CLI::NonNegativeNumber);
        logs->add_flag("-f,--follow", logs_.follow,
                       "Keep printing lines as they arrive (the default when stdout is a terminal)");
        auto* err = logs->add_flag("--err", err_only_, "Only the error stream");
        logs->add_flag("--out", out_only_, "Only the output stream")->excludes(err);
        logs->add_flag("--json", logs_.json, "One JSON object {app, stream, line} per line");

        auto* flush = add("flush", "Empty the log files", "flush [APP|ID|all]", [this] { return Command{flush_}; });
        flush->add_option("app", flush_.app, "Only this app, or this worker's files");

        auto* cache = add("cache", "Remove stored answers from the response cache",
                          "cache purge [LOCATION] [KEY_PREFIX]", [this] { return Command{cache_purge_}; },
                          [this] { return cache_verb_ == "purge" ? "" : "unknown cache action '" + cache_verb_ + "'"; });
        cache->add_option("action", cache_verb_, "purge")->required();
        cache->add_option("location", cache_purge_.location, "Only this location's answers (its path, e.g. /api/)");
        cache->add_option("prefix", cache_purge_.prefix,
                          "Only keys starting with it: scheme://host then the URI (http://example.com/api/)");

        add("jlist", "PM2's process list as JSON, one line", "jlist", [] { return Command{JlistCmd{false}}; });
        add("prettylist", "PM2's process list as indented JSON", "prettylist", [] { return Command{JlistCmd{true}}; });

        auto* env = add("env", "The environment of a worker's process", "env ID", [this] { return Command{env_}; });
        env->add_option("id", env_.id, "Worker id (status's id column)")->required();

        auto* reset = add("reset", "Set the restart counters to 0", "reset <APP|ID|all>...",
                          [this] { return Command{reset_}; });
        reset->add_option("target", reset_.targets, "App names, worker ids or all")->required();

        auto* signal = add("sendSignal", "Send a signal to the workers of an app, or to one worker",
                           "sendSignal <SIGNAL> <APP|ID|all>...", [this] { return Command{signal_cmd()}; },
                           [this] {
                               return signal_number(signal_.signal) ? ""
                                                                    : "unknown signal '" + signal_.signal + "'";
                           });
        signal->add_option("signal", signal_.signal, "SIGUSR2, USR2 or 12")->required();
        signal->add_option("target", signal_.targets, "App names, worker ids or all")->required();

        auto* describe = add("describe", "Config, workers and recent events of one app", "describe APP|ID",
                             [this] { return Command{describe_}; });
        describe->alias("desc")->alias("info")->alias("show");
        describe->add_option("app", describe_.app, "App name, or a worker id (its app)")->required();

        auto* certs = add("certs", "The tls = \"auto\" certificates: issuer, expiry, next renewal, last error",
                          "certs [renew NAME]", [this] { return Command{CertsCmd{certs_args_.size() == 2 ? certs_args_[1] : ""}}; },
                          [this] {
                              return certs_args_.empty() || (certs_args_.size() == 2 && certs_args_[0] == "renew")
                                         ? ""
                                         : "expected nothing, or: renew NAME";
                          });
        certs->add_option("action", certs_args_, "renew NAME: order NAME's certificate now");

        add("save", "Persist the running apps and servers", "save", [] { return Command{SaveCmd{}}; });
        add("resurrect", "Start what `save` stored", "resurrect", [] { return Command{ResurrectCmd{}}; });

        auto* check = add("check", "Validate an ecosystem.toml or a PM2 ecosystem file (like nginx -t)",
                          "check <ecosystem.toml | ecosystem.config.js [--env NAME]>", [this] { return Command{check_}; },
                          [this] { return pm2_env_mismatch(check_.file, check_.env); });
        check->add_option("file", check_.file, "ecosystem file to validate")->required();
        check->add_option("--env", check_.env, "A PM2 file's env_NAME, merged over its env (as pm2 --env)");

        auto* import = add("import", "Write an ecosystem.toml from a PM2 ecosystem file and nginx configuration",
                           "import [ecosystem] [--env NAME] [--nginx FILE]... [-o ecosystem.toml]",
                           [this] { return Command{import_}; },
                           [this] { return import_.apps.empty() && import_.nginx.empty() ? "nothing to import: give an ecosystem file, --nginx FILE, or both" : ""; });
        import->add_option("ecosystem", import_.apps, "The apps' file: ecosystem.toml, or PM2's ecosystem.config.js, .json, .yaml");
        import->add_option("--env", import_.env, "A PM2 file's env_NAME over its env, as pm2 --env NAME");
        import->add_option("--nginx", import_.nginx, "nginx.conf or a site file (server {} blocks); repeatable")
            ->allow_extra_args(false);
        import->add_option("-o,--output", import_.output, "File to write (default -: stdout)");

        auto* startup = add("startup", "Print (or install) a systemd unit running the daemon",
                            "startup [--install]", [this] { return Command{startup_}; });
        startup->add_flag("--install", startup_.install, "Write the unit and enable it");

        auto* daemon = add("daemon", "Run the daemon (systemd runs it with --foreground)",
                           "daemon [--foreground] [--log-format text|json]", [this] { return Command{daemon_}; });
        daemon->add_flag("--foreground", daemon_.foreground, "Stay attached to the terminal");
        daemon->add_option("--log-format", daemon_.log_format,
                           "text (default) or json: one JSON object per line (also NODEEDGE_LOG_FORMAT)")
            ->check(CLI::IsMember({"text", "json"}));

        auto* upgrade = add("upgrade", "Replace the daemon's binary in place; every worker keeps running",
                            "upgrade [--binary PATH]", [this] { return Command{upgrade_}; });
        upgrade->add_option("--binary", upgrade_.binary,
                            "The new nodeedge (default: the file the daemon was started from)");

        add("kill", "Stop every app and the daemon", "kill", [] { return Command{KillCmd{}}; });
        add("version", "Print the version (also -v, --version)", "version", [] { return Command{VersionCmd{}}; });

        // `help` prints, so it is no Command: parse() answers it.
        help_ = app_.add_subcommand("help", "The command list, or one command's usage");
        help_->add_option("command", help_verb_, "Command to describe");
    }

    std::variant<Command, ParseExit> parse(std::vector<std::string> args) {
        // CLI11 consumes its argument vector from the back.
        std::vector<std::string> reversed(args.rbegin(), args.rend());
        try {
            app_.parse(reversed);
        } catch (const CLI::CallForHelp&) {
            return ParseExit{0, app_.help()};
        } catch (const CLI::CallForAllHelp&) {
            return ParseExit{0, app_.help("", CLI::AppFormatMode::All)};
        } catch (const CLI::CallForVersion& v) {
            return ParseExit{0, std::string(v.what()) + "\n"};
        } catch (const CLI::ParseError& e) {
            return usage_error(e.what(), args);
        }
        if (help_->parsed()) return help_text();
        for (auto& [sub, entry] : subs_) {
            if (sub->parsed()) return finish(entry);
        }
        return usage_error("no command given", args);
    }

private:
    struct Entry {
        std::string usage;
        std::function<Command()> build;
        // Rules CLI11 cannot express; returns the usage error, or "" when the command is fine.
        std::function<std::string()> check;
    };

    CLI::App* add(const std::string& name, const std::string& description, std::string usage,
                  std::function<Command()> build, std::function<std::string()> check = {}) {
        CLI::App* sub = app_.add_subcommand(name, description);
        subs_.emplace(sub, Entry{"usage: nodeedge " + std::move(usage), std::move(build), std::move(check)});
        return sub;
    }

    CLI::App* add_action(const std::string& name, const std::string& description, std::string usage) {
        CLI::App* sub = add(
            name, description, std::move(usage),
            [this, name] {
                ActionCmd c = action_;
                c.action = name;
                return Command{c};
            },
            [this] {
                return action_.targets.size() == 1 ? pm2_env_mismatch(action_.targets.front(), action_.env)
                                                   : pm2_env_mismatch("several targets", action_.env);
            });
        sub->add_option("target", action_.targets, "App names, worker ids, all, or (reload) one ecosystem.toml");
        return sub;
    }

    // --env picks a PM2 file's env_NAME; anything else has no such sets.
    static std::string pm2_env_mismatch(const std::string& target, const std::string& env) {
        if (env.empty() || config::is_pm2_ecosystem(target)) return "";
        return "--env applies to a PM2 ecosystem file (ecosystem.config.js, .json, .yaml), not to " + target;
    }

    // "4", "+2", "-1": scale's count.
    static bool is_count(const std::string& v) {
        size_t digits = v.size() - ((!v.empty() && (v[0] == '+' || v[0] == '-')) ? 1 : 0);
        return digits > 0 && digits <= 6 && v.find_first_not_of("0123456789", v.size() - digits) == std::string::npos;
    }

    StartCmd start_cmd() const {
        StartCmd c = start_;
        c.target = start_targets_.front();
        c.more_targets.assign(start_targets_.begin() + 1, start_targets_.end());
        return c;
    }

    SignalCmd signal_cmd() const {
        SignalCmd c = signal_;
        c.number = signal_number(c.signal);
        return c;
    }

    // `help` lists the commands; `help VERB` is `VERB --help`.
    ParseExit help_text() {
        // App::help() would describe the `help` subcommand that parsed; ask the formatter.
        auto describe = [](const CLI::App* a, const std::string& name) {
            return a->get_formatter()->make_help(a, name, CLI::AppFormatMode::Normal);
        };
        if (help_verb_.empty()) return ParseExit{0, describe(&app_, "nodeedge")};
        for (const auto& [sub, entry] : subs_)
            if (sub->check_name(help_verb_)) return ParseExit{0, describe(sub, "nodeedge " + sub->get_name())};
        return ParseExit{2, "nodeedge: unknown command '" + help_verb_ + "'\n" + kTopUsage + "\n"};
    }

    LogsCmd logs_with_streams() const {
        LogsCmd c = logs_;
        c.streams = err_only_ ? Streams::Err : out_only_ ? Streams::Out : Streams::Both;
        return c;
    }

    // An ecosystem.toml names its apps; a script is one app; several targets are apps or ids.
    std::string start_mismatch() const {
        if (start_targets_.size() > 1) {
            for (const auto& t : start_targets_)
                if (is_ecosystem_file(t)) return "start takes one ecosystem file; " + t + " is one of several targets";
            if (!start_.instances.empty() || !start_.name.empty() || !start_.only.empty() || start_.port > 0 ||
                !start_.env.empty())
                return "several targets start apps or ids again; -i, --name, --only, --port and --env apply to one "
                       "file or script";
            return "";
        }
        const std::string& target = start_targets_.front();
        bool file = is_ecosystem_file(target);
        if (file && !start_.name.empty()) return "--name applies to a script; " + target + " names its apps";
        if (!file && !start_.only.empty()) return "--only applies to an ecosystem.toml, not to " + target;
        return pm2_env_mismatch(target, start_.env);
    }

    std::variant<Command, ParseExit> finish(const Entry& entry) {
        if (entry.check) {
            if (std::string why = entry.check(); !why.empty())
                return ParseExit{2, "nodeedge: " + why + "\n" + entry.usage + "\n"};
        }
        return entry.build();
    }

    ParseExit usage_error(const std::string& reason, const std::vector<std::string>& args) const {
        for (const auto& [sub, entry] : subs_) {
            if (sub->parsed()) return ParseExit{2, "nodeedge: " + reason + "\n" + entry.usage + "\n"};
        }
        // CLI11 reports a mistyped command as a missing one; name what was typed instead.
        std::string why = reason;
        if (args.empty()) why = "no command given";
        else if (!args.front().empty() && args.front()[0] != '-') why = "unknown command '" + args.front() + "'";
        return ParseExit{2, "nodeedge: " + why + "\n" + kTopUsage + "\n"};
    }

    CLI::App app_{"nodeedge: runs Node.js apps and the reverse proxy in front of them", "nodeedge"};
    std::map<CLI::App*, Entry> subs_;

    StartCmd start_;
    std::vector<std::string> start_targets_;
    std::string start_or_file_;
    std::string start_or_env_;
    ActionCmd action_;
    ScaleCmd scale_;
    StatusCmd status_;
    LogsCmd logs_;
    bool err_only_ = false;
    bool out_only_ = false;
    FlushCmd flush_;
    CachePurgeCmd cache_purge_;
    std::string cache_verb_;
    DescribeCmd describe_;
    std::vector<std::string> certs_args_;
    CheckCmd check_;
    StartupCmd startup_;
    DaemonCmd daemon_;
    UpgradeCmd upgrade_;
    EnvCmd env_;
    ResetCmd reset_;
    SignalCmd signal_;
    CLI::App* help_ = nullptr;
    std::string help_verb_;
    ImportCmd import_;
};

}  // namespace

bool is_ecosystem_file(const std::string& target) {
    return (target.size() > 5 && target.ends_with(".toml")) || config::is_pm2_ecosystem(target);
}

int signal_number(const std::string& typed) {
    if (!typed.empty() && typed.find_first_not_of("0123456789") == std::string::npos) {
        int n = typed.size() <= 3 ? std::stoi(typed) : 0;
        return n >= 1 && n < NSIG ? n : 0;
    }
    std::string name = typed;
    if (name.size() > 3 && ::strncasecmp(name.c_str(), "SIG", 3) == 0) name = name.substr(3);
    for (int n = 1; n < NSIG; ++n) {
        const char* abbrev = ::sigabbrev_np(n);
        if (abbrev && ::strcasecmp(abbrev, name.c_str()) == 0) return n;
    }
    return 0;
}

std::variant<Command, ParseExit> parse_args(const std::vector<std::string>& args) {
    Parser parser;
    return parser.parse(args);
}

std::variant<Command, ParseExit> parse_args(int argc, const char* const argv[]) {
    return parse_args(std::vector<std::string>(argv + 1, argv + argc));
}

}  // namespace ne::cli
