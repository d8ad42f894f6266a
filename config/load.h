// ecosystem.toml -> Config. Every error is "file:line:column: message" (unknown key, wrong
// type, bad unit, duplicate app name, overlapping port ranges, a listen address that clashes
// with an app port, a missing script, a location naming an unknown app). Loading has no side
// effects, so `nodeedge check` and a reload can both call it before anything changes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "ipc/result.h"

namespace ne::config {

// Reads, parses, resolves relative paths against the file's folder, validates (validate()
// with usable_cpus()). Relative paths are taken against the folder holding the file: script,
// cwd, root, alias, tls cert/key and error_page; `script` too when `cwd` is set (SPEC's
// "Precise rules"). Log paths (out_file, error_file, access_log) stay as written, for the
// supervisor to resolve against $NODEEDGE_HOME. When a file has several problems the one
// nearest its top is reported. A relative `path` is taken against the process's cwd, so
// the CLI should resolve it before sending it to the daemon.
Result<Config> load_file(const std::string& path);
// Same from text; `path` names the file in messages (as given) and anchors relative paths.
Result<Config> load_string(std::string_view text, const std::string& path);

// `nodeedge start script.js`: one app named `name` (default: the script's basename without
// extension), cwd = the script's folder, instances as written ("" = "1"), other keys at their
// defaults, validated. The app has no `where` and Config::source is "".
Result<Config> config_for_script(const std::string& script_path, const std::string& name,
                                 const std::string& instances, int port);

// Why `name` cannot name an app, or nullopt. Names end up in log file names and on the
// command line, where "all" already means every app.
std::optional<std::string> app_name_problem(const std::string& name);

}  // namespace ne::config
