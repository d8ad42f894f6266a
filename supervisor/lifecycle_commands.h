// The control commands that start and stop workers: start, reload, restart, stop, delete and
// scale. Each turns one request into changes to the apps and replies once they are complete
// (or with the first failure), through CommandHost::wait_for.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "supervisor/command_host.h"

namespace ne::supervisor {

class LifecycleCommands {
public:
    explicit LifecycleCommands(CommandHost& host) : host_(host) {}

    void start(const nlohmann::json& req, Reply reply);
    void reload(const nlohmann::json& req, Reply reply);
    void restart(const nlohmann::json& req, Reply reply);
    void stop(const nlohmann::json& req, Reply reply);
    void remove(const nlohmann::json& req, Reply reply);   // `delete`
    void scale(const nlohmann::json& req, Reply reply);

    // What `start` says besides the file: `only` that app, `instances` overriding their count,
    // `no_retry`: a worker that crashes before its first ready is not restarted.
    struct LaunchOptions {
        std::string only;
        std::string instances;
        bool no_retry = false;
    };
    // Merges a loaded config into the running one, starts its apps and replies once they are
    // ready or have failed. Also resurrect's.
    void launch(config::Config cfg, const LaunchOptions& opts, Reply reply);

private:
    // Applies a file's config (loaded, or evaluated by the CLI): changed apps roll, new ones start.
    void reload_config(Result<config::Config> cfg, Reply reply);
    // Stops the target apps (drain, SIGTERM, SIGKILL), then calls then(names) once all stopped.
    void stop_then(const nlohmann::json& req, Reply reply, const std::string& why,
                   std::function<void(const std::vector<std::string>&)> then);

    CommandHost& host_;
};

}  // namespace ne::supervisor
