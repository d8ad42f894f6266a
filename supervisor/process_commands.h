// The control commands that act on running worker processes without starting or stopping any,
// as PM2's: env (a worker's environment), reset (restart counters to 0) and signal
// (`sendSignal`). Targets as every verb names them (supervisor/targets.h).
#pragma once

#include <nlohmann/json.hpp>

#include "supervisor/command_host.h"

namespace ne::supervisor {

class ProcessCommands {
public:
    explicit ProcessCommands(CommandHost& host) : host_(host) {}

    // {id} -> {worker: "api:0", pid, env: ["K=V", ...]}: /proc/<pid>/environ, the environment
    // the kernel started the process with (what the daemon spawned it with; later changes
    // to process.env inside Node do not show).
    void env(const nlohmann::json& req, Reply reply);
    // {targets} -> the status reply.
    void reset(const nlohmann::json& req, Reply reply);
    // {signal: number, targets} -> {signalled: ["api:0 pid 123", ...]}.
    void signal(const nlohmann::json& req, Reply reply);

private:
    CommandHost& host_;
};

}  // namespace ne::supervisor
