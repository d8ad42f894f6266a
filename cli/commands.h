// One function per command: the control request it sends (pure, so unit-tested: `cwd`
// anchors the paths the user typed) and run(), which sends it and prints the reply.
// `logs` lives in cli/logs.h and `startup` in cli/startup.h; `daemon` is an entry point
// dispatched by main/main.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>

#include "cli/args.h"
#include "config/config.h"
#include "config/pm2_ecosystem.h"
#include "ipc/result.h"

namespace ne::cli {

// file (.toml) or script, made absolute; Error when it is not a regular file. A bare word that
// is no file (no '/', not .toml, no file flags), or several targets, go as names or ids of apps
// to start again (PM2's `start NAME`), with the file's error for the daemon to add when no app
// has that name. Those need a running daemon (exit 3 without one); files start one.
// A PM2 file is evaluated by the caller, in the user's environment (its process.env is the
// shell's, as with pm2), and goes as `pm2`, the Config it evaluated to, beside its path.
Result<nlohmann::json> start_request(const StartCmd& c, const std::filesystem::path& cwd,
                                     const config::Config* pm2 = nullptr);
// The file goes as `start` sends a file; Error when it is no ecosystem file.
Result<nlohmann::json> start_or_request(const StartOrCmd& c, const std::filesystem::path& cwd,
                                        const config::Config* pm2 = nullptr);
// reload with an ecosystem file sends its absolute path (and `pm2`, as start); app names, ids
// and "all" go as typed.
nlohmann::json action_request(const ActionCmd& c, const std::filesystem::path& cwd,
                              const config::Config* pm2 = nullptr);
// scale's count as typed: "4" -> instances, "+2" / "-1" -> delta.
nlohmann::json scale_request(const ScaleCmd& c);
nlohmann::json describe_request(const DescribeCmd& c);
nlohmann::json flush_request(const FlushCmd& c);
nlohmann::json cache_purge_request(const CachePurgeCmd& c);
nlohmann::json signal_request(const SignalCmd& c);
// PM2's `env` output: "KEY: value" per variable of the reply's env ("K=V" strings).
std::string render_env(const nlohmann::json& reply);

Status run(const StartCmd& c);
Status run(const ActionCmd& c);
Status run(const ScaleCmd& c);
Status run(const StartOrCmd& c);
Status run(const JlistCmd& c);
Status run(const EnvCmd& c);
Status run(const ResetCmd& c);
Status run(const SignalCmd& c);
Status run(const StatusCmd& c);
Status run(const FlushCmd& c);
Status run(const CachePurgeCmd& c);
Status run(const DescribeCmd& c);
Status run(const CertsCmd& c);
Status run(const SaveCmd& c);
Status run(const ResurrectCmd& c);
Status run(const KillCmd& c);
Status run(const UpgradeCmd& c);
Status run(const VersionCmd& c);
Status run(const CheckCmd& c);

// Evaluates a PM2 file (as typed, relative to the cwd) and prints its warnings on stderr, once
// each, naming the file as typed. Used by start/reload/check and by import.
Result<config::Pm2Ecosystem> evaluate_pm2(const std::string& typed, const std::string& env);

}  // namespace ne::cli
