// fork/exec of one Node worker. A close-on-exec pipe reports a failed exec (the child writes
// its errno only if execve returned), so "node: No such file" becomes an error value, not a
// mysterious exit. The child gets its own process group (setsid) so its whole tree can be
// signalled, stdout/stderr on pipes, and optionally Node's IPC channel (NODE_CHANNEL_FD).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::supervisor {

struct SpawnSpec {
    std::string exe;                 // resolved through PATH when it has no '/'
    std::vector<std::string> argv;   // argv[0] included
    std::vector<std::string> env;    // "K=V", the complete environment
    std::string cwd;
    bool node_ipc = false;           // give the child a socketpair end as NODE_CHANNEL_FD
};

struct Spawned {
    pid_t pid = -1;
    unsigned long long start_ticks = 0;  // /proc/<pid>/stat field 22: pid + start time = identity
    UniqueFd out;                    // read end of the child's stdout (non-blocking, cloexec)
    UniqueFd err;                    // read end of the child's stderr
    UniqueFd ipc;                    // our end of Node's IPC channel (when node_ipc)
};

Result<Spawned> spawn(const SpawnSpec& spec);

// The spec for instance `instance` of `app` listening on `port`: interpreter + node_args +
// script + args; env = inherited environment + app.env + PORT, NODE_APP_INSTANCE, NODE_ENV
// (only if unset) and name. interpreter "none" runs the script itself.
SpawnSpec worker_spec(const config::App& app, int instance, int port);

// Start time (clock ticks since boot) of a live pid, 0 if it is gone.
unsigned long long process_start_ticks(pid_t pid);

}  // namespace ne::supervisor
