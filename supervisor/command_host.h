// What the control commands need of the daemon: its apps, the running configuration, state.db,
// the log files, and a way to finish a request later. Master implements it; the command classes
// (lifecycle_commands, inspect_commands, persist_commands, rolling_reload) hold only this, so
// none of them reaches the loop, the signals or the proxy workers.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "ipc/result.h"
#include "supervisor/app.h"
#include "supervisor/control_server.h"
#include "supervisor/log_files.h"
#include "supervisor/state_db.h"

namespace ne::supervisor {

using Reply = ControlServer::Reply;

class AcmeCerts;

class CommandHost {
public:
    // A request that completes later: polled after every state change until it returns true.
    using Pending = std::function<bool()>;

    virtual ~CommandHost() = default;

    virtual const std::vector<std::unique_ptr<App>>& apps() const = 0;
    virtual App& add_app(std::shared_ptr<const config::App> cfg, int instances) = 0;
    virtual void remove_apps(const std::vector<std::string>& names) = 0;   // once stopped

    virtual const config::Config& running() const = 0;
    // Validates next, then applies its listeners, proxy and metrics settings and persists it;
    // on error the running configuration is left as it was.
    virtual Status apply_running(config::Config next) = 0;

    virtual StateDb& db() = 0;
    virtual LogFiles& logs() = 0;
    virtual const std::string& home() const = 0;
    virtual void event(Worker& w, const std::string& kind, const std::string& detail) = 0;
    virtual void wait_for(Pending p) = 0;
    virtual nlohmann::json status_json() const = 0;   // the `status` reply
    // `cache purge`: the stored answers removed.
    virtual Result<size_t> purge_cache(const std::string& location, const std::string& prefix) = 0;
    virtual bool stopping() const = 0;                // the daemon is shutting down
    // Stops every app and the proxy workers, calls then(), and ends the loop.
    virtual void shutdown(std::function<void()> then) = 0;
    virtual AcmeCerts& certificates() = 0;            // tls = "auto" servers' (acme_certs.h)
    // `upgrade`: replace the daemon's program in place (supervisor/master_upgrade.cpp); the
    // reply comes before the exec, the outcome through ping's "upgrade".
    virtual void upgrade(const std::string& binary, std::function<void(const nlohmann::json&)> reply) = 0;
    virtual nlohmann::json upgrade_outcome() const = 0;

    App* find_app(const std::string& name) const;     // nullptr when there is none
    Worker* find_worker(uint64_t id) const;           // in any app; nullptr when gone
};

// The string argument `key` of a request; "" when absent or not a string.
std::string str_arg(const nlohmann::json& req, const char* key);
// Appended to a start failure: where its reason is most likely written.
std::string logs_hint(const std::string& app);

}  // namespace ne::supervisor
