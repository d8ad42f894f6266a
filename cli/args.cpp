#include "cli/args.h"

#include <CLI/CLI.hpp>

#include <functional>
#include <map>

#include "config/config.h"

namespace ne::cli {
namespace {

constexpr const char* kTopUsage = "usage: nodeedge <command> [args]   (nodeedge --help lists them)";

// The whole command-line grammar. CLI11 fills the members; the subcommand that parsed then
// turns them into its Command.
class Parser {
public:
    Parser() {
        app_.require_subcommand(1);
        app_.set_version_flag("--version", std::string("nodeedge ") + NODEEDGE_VERSION);

        auto* start = add("start", "Start apps from an ecosystem.toml or a script",
                          "start <ecosystem.toml | script.js> [-i N|max|-K] [--name NAME] "
                          "[--only APP] [--port BASE] [--no-retry]",
                          [this] { return Command{start_}; }, [this] { return start_mismatch(); });
        start->add_option("target", start_.target, "ecosystem.toml or script to run")->required();
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

        add_action("reload", "Rolling zero-downtime restart; with a file: apply its changed config",
                   "reload [APP|all|ecosystem.toml]");
        add_action("restart", "Stop then start each worker, one at a time", "restart [APP|all]");
        add_action("stop", "Stop gracefully; the app stays listed as stopped", "stop [APP|all]");
        add_action("delete", "Stop and forget", "delete [APP|all]");

        auto* scale = add("scale", "Add or remove workers live", "scale APP N",
                          [this] { return Command{scale_}; });
        scale->add_option("app", scale_.app, "App name")->required();
        scale->add_option("n", scale_.instances, "Number of workers")->required()->check(CLI::NonNegativeNumber);

        auto* status = add("status", "Workers and proxy as a table", "status [--json]",
                           [this] { return Command{status_}; });
        status->alias("ls")->alias("list");
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

        auto* flush = add("flush", "Empty the log files", "flush [APP]", [this] { return Command{flush_}; });
        flush->add_option("app", flush_.app, "Only this app");

        auto* describe = add("describe", "Config, workers and recent events of one app", "describe APP",
                             [this] { return Command{describe_}; });
        describe->add_option("app", describe_.app, "App name")->required();

        add("save", "Persist the running apps and servers", "save", [] { return Command{SaveCmd{}}; });
        add("resurrect", "Start what `save` stored", "resurrect", [] { return Command{ResurrectCmd{}}; });

        auto* check = add("check", "Validate an ecosystem.toml (like nginx -t)", "check <ecosystem.toml>",
                          [this] { return Command{check_}; });
        check->add_option("file", check_.file, "ecosystem.toml to validate")->required();

        auto* import = add("import", "Write an ecosystem.toml from a PM2 ecosystem file and nginx configuration",
                           "import [ecosystem] [--nginx FILE]... [-o ecosystem.toml]",
                           [this] { return Command{import_}; },
                           [this] { return import_.apps.empty() && import_.nginx.empty() ? "nothing to import: give an ecosystem file, --nginx FILE, or both" : ""; });
        import->add_option("ecosystem", import_.apps, "The apps' file (ecosystem.toml)");
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

        add("kill", "Stop every app and the daemon", "kill", [] { return Command{KillCmd{}}; });
        add("version", "Print the version", "version", [] { return Command{VersionCmd{}}; });
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

    void add_action(const std::string& name, const std::string& description, std::string usage) {
        CLI::App* sub = add(name, description, std::move(usage), [this, name] {
            ActionCmd c = action_;
            c.action = name;
            return Command{c};
        });
        sub->add_option("target", action_.target, "App name, all, or (reload) an ecosystem.toml");
    }

    LogsCmd logs_with_streams() const {
        LogsCmd c = logs_;
        c.streams = err_only_ ? Streams::Err : out_only_ ? Streams::Out : Streams::Both;
        return c;
    }

    // An ecosystem.toml names its apps; a script is one app.
    std::string start_mismatch() const {
        bool file = is_ecosystem_file(start_.target);
        if (file && !start_.name.empty()) return "--name applies to a script; " + start_.target + " names its apps";
        if (!file && !start_.only.empty()) return "--only applies to an ecosystem.toml, not to " + start_.target;
        return "";
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
    ActionCmd action_;
    ScaleCmd scale_;
    StatusCmd status_;
    LogsCmd logs_;
    bool err_only_ = false;
    bool out_only_ = false;
    FlushCmd flush_;
    DescribeCmd describe_;
    CheckCmd check_;
    StartupCmd startup_;
    DaemonCmd daemon_;
    ImportCmd import_;
};

}  // namespace

bool is_ecosystem_file(const std::string& target) { return target.size() > 5 && target.ends_with(".toml"); }

std::variant<Command, ParseExit> parse_args(const std::vector<std::string>& args) {
    Parser parser;
    return parser.parse(args);
}

std::variant<Command, ParseExit> parse_args(int argc, const char* const argv[]) {
    return parse_args(std::vector<std::string>(argv + 1, argv + argc));
}

}  // namespace ne::cli
