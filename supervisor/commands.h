// The control socket's requests, dispatched by "cmd" to the command group that handles them.
#pragma once

#include <nlohmann/json.hpp>

#include "supervisor/command_host.h"
#include "supervisor/inspect_commands.h"
#include "supervisor/lifecycle_commands.h"
#include "supervisor/persist_commands.h"
#include "supervisor/process_commands.h"

namespace ne::supervisor {

class Commands {
public:
    explicit Commands(CommandHost& host) : host_(host), lifecycle_(host), inspect_(host), process_(host), persist_(host, lifecycle_) {}

    void handle(const nlohmann::json& req, Reply reply);
    void restore_running() { persist_.restore_running(); }

private:
    // `certs` lists the tls = "auto" certificates; `certs {renew: NAME}` forces one's renewal.
    void certs(const nlohmann::json& req, Reply reply);
    void purge_cache(const nlohmann::json& req, Reply reply);

    CommandHost& host_;
    LifecycleCommands lifecycle_;
    InspectCommands inspect_;
    ProcessCommands process_;
    PersistCommands persist_;
};

}  // namespace ne::supervisor
