// What survives the daemon: `save` writes the running configuration to state.db, `resurrect`
// starts what was saved, and after a crash the next daemon starts what was running.
#pragma once

#include "supervisor/command_host.h"
#include "supervisor/lifecycle_commands.h"

namespace ne::supervisor {

class PersistCommands {
public:
    PersistCommands(CommandHost& host, LifecycleCommands& lifecycle) : host_(host), lifecycle_(lifecycle) {}

    void save(Reply reply);
    void resurrect(Reply reply);
    // At start-up: starts the apps a previous daemon was running when it died. A clean stop
    // leaves nothing to restore.
    void restore_running();

private:
    CommandHost& host_;
    LifecycleCommands& lifecycle_;
};

}  // namespace ne::supervisor
