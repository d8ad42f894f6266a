// One worker as PM2's process list describes a process (`pm2 jlist`), so scripts written
// against PM2's JSON read nodeedge's: the field names are PM2's, and so are the values where
// PM2 has one (exec_mode "cluster_mode"/"fork_mode", status "stopping" for a draining worker).
// The fields are listed in docs/ARCHITECTURE.md's control protocol and README's `jlist` row.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "supervisor/app.h"

namespace ne::supervisor {

struct LogPaths {
    std::string out;
    std::string err;
};

// `cluster`: the proxy routes to the app (status's mode); `logs`: the worker's log files.
nlohmann::json pm2_process(const App& app, const Worker& w, bool cluster, const LogPaths& logs);

}  // namespace ne::supervisor
