// One entry of a PM2 file's `apps` -> an App, with PM2's meaning for every key (its schema's
// aliases and camelCase spellings, numbers as milliseconds or bytes, `args` strings split as
// PM2 splits them, `env_<name>` merged over `env`). Ports are not decided here: the entry's
// PORT (env after --env, or `port`) is handed back for config/pm2_ecosystem to place.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "ipc/result.h"

namespace ne::config {

struct Pm2AppContext {
    std::filesystem::path base;  // the file's folder: relative cwd and script hang from it
    std::string file;            // the file's absolute path, App::where.file
    std::string env_name;        // --env NAME; "" = none
    nlohmann::json deploy_env;   // deploy.<NAME>.env, merged under env as PM2 does; null = none
};

struct Pm2App {
    App app;                     // port still at its default
    std::optional<int> port;     // PORT the app's clients expect, when the file gives one
    bool cluster = false;        // exec_mode cluster (said, or PM2's default for `instances`)
};

// `label` is the entry's key path ("apps[1]"); errors name "apps[1].key: ...". Keys nodeedge
// ignores are appended to `warnings` as "apps[1].key: ...".
Result<Pm2App> map_pm2_app(const nlohmann::json& entry, const std::string& label, const Pm2AppContext& cx,
                           std::vector<std::string>& warnings);

// PM2's splitting of a string `args` / `node_args` / `ignore_watch`: whitespace-separated,
// "double" or 'single' quoted words kept whole (quotes removed), also key="a b".
std::vector<std::string> pm2_split_args(const std::string& text);

// A dayjs/moment format (PM2's log_date_format, "YYYY-MM-DD HH:mm:ss Z") as strftime's.
// Tokens strftime has no spelling for are dropped and named in `dropped`.
std::string pm2_date_format_to_strftime(const std::string& format, std::vector<std::string>& dropped);

}  // namespace ne::config
