// A PM2 ecosystem file (ecosystem.config.js/.cjs/.mjs, .json, .yml/.yaml) -> Config, so
// `nodeedge start ecosystem.config.js` runs what `pm2 start ecosystem.config.js` runs.
// The file is evaluated by node in the caller's environment (config/pm2_evaluate), then each
// `apps` entry is mapped with PM2's meaning (config/pm2_app) and ports are placed:
//  - an app's port is its PORT as the file gives it (env / env_<NAME> after --env, or `port`);
//    instance i gets PORT = port + i, as with every nodeedge app.
//  - fork mode without a PORT: the first base from 3000 up whose ports (and reload twins,
//    +10000) no other app of the file takes.
//  - cluster mode (PM2 shares one port among the instances): a [[servers]] entry listens on
//    0.0.0.0:PORT (3000, or the next free port, without one) and proxies to the workers,
//    which run on the first free ports above it (PORT+1.. unless another app takes them).
// Keys nodeedge does not do are warnings ("apps[1].vizion: not supported by nodeedge
// (ignored)"); a bad value, an entry without script or a name nodeedge refuses are errors
// naming the file and the key path.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "config/config.h"
#include "ipc/result.h"

namespace ne::config {

// By name, as PM2 tells a config file from a script: .json, .yml, .yaml, .config.js,
// .config.cjs, .config.mjs (so `start app.js` is still a script; .toml is nodeedge's own).
bool is_pm2_ecosystem(const std::string& path);

struct Pm2Ecosystem {
    Config config;
    std::vector<std::string> warnings;
};

// Evaluates the file with node, maps it and validates the result (validate()). `env_name`
// is --env's NAME ("" for none). Config::source and every item's where.file are the file's
// absolute path, so a reload of the same file replaces what it brought.
Result<Pm2Ecosystem> load_pm2_ecosystem(const std::string& path, const std::string& env_name);

// The mapping alone, from what the file exported (what config/pm2_evaluate returns); `path`
// absolute. Not validated; `cpus` resolves "max" when ports are placed.
Result<Pm2Ecosystem> pm2_ecosystem_from_json(const nlohmann::json& exported, const std::string& path,
                                             const std::string& env_name, int cpus);

// For `start`'s output: one line per cluster-mode app of `c` that a PM2 file brought,
// "api: cluster mode: clients connect to the proxy on 0.0.0.0:3000 (workers on ports 3001-3004)".
std::vector<std::string> pm2_cluster_notes(const Config& c, int cpus);

}  // namespace ne::config
