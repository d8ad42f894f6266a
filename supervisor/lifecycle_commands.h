// The control commands that start and stop workers: start, reload, restart, stop, delete,
// scale and startOrReload/startOrRestart. Each turns one request into changes to the apps and
// replies once they are complete (or with the first failure), through CommandHost::wait_for.
// Their targets go through resolve_targets (supervisor/targets.h): names, worker ids, all.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "supervisor/command_host.h"
#include "supervisor/targets.h"

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
    // PM2's startOrReload / startOrRestart FILE: the file's apps that do not run start, those
    // that run take the file's config and are reloaded (rolling) or restarted.
    void start_or(const nlohmann::json& req, const std::string& then, Reply reply);

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
    // `start` of apps already known (stopped ones come back with their stored config).
    void start_targets(const std::vector<Target>& targets, Reply reply);
    // Replies once each of these workers is up, or with the first that failed to start.
    void reply_when_started(std::vector<uint64_t> ids, std::vector<std::string> notes, Reply reply);
    // Applies a file's config (loaded, or evaluated by the CLI): changed apps roll, new ones start.
    void reload_config(Result<config::Config> cfg, Reply reply);
    // Restarts these workers one at a time (stop, then start), then replies.
    void restart_workers(std::vector<uint64_t> ids, Reply reply);
    // Stops the targets (drain, SIGTERM, SIGKILL), then calls then() once all have stopped.
    void stop_then(const std::vector<Target>& targets, const std::string& why, std::function<void()> then);

    CommandHost& host_;
};

}  // namespace ne::supervisor
