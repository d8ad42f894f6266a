// fork/exec of one Node worker. A close-on-exec pipe reports a failed exec (the child writes
// its errno only if execve returned), so "node: No such file" becomes an error value, not a
// mysterious exit. The child gets its own process group (setsid) so its whole tree can be
// signalled, stdout/stderr on pipes, and optionally Node's IPC channel (NODE_CHANNEL_FD).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::supervisor {

struct SpawnSpec {
    std::string exe;                 // resolved through PATH (of `env`) when it has no '/'
    std::vector<std::string> argv;   // argv[0] included
    std::vector<std::string> env;    // "K=V", the complete environment
    std::string cwd;                 // empty: the daemon's
    bool node_ipc = false;           // give the child a socketpair end as NODE_CHANNEL_FD=3
    // Run as this user (name or uid) and group (default: the user's); empty: as the daemon.
    // The child's HOME, USER and LOGNAME then name that user.
    std::string user;
    std::string group;
};

struct Spawned {
    pid_t pid = -1;
    unsigned long long start_ticks = 0;  // /proc/<pid>/stat field 22: pid + start time = identity
    UniqueFd out;                    // read end of the child's stdout (non-blocking, cloexec)
    UniqueFd err;                    // read end of the child's stderr
    UniqueFd ipc;                    // our end of Node's IPC channel (when node_ipc)
};

// Returns once the child has exec'd. A failed chdir or exec is an Error ("exec node: No such
// file or directory", "chdir /srv/api: Permission denied", "run as user nobody: Operation
// not permitted"; the caller prefixes "app:i") and
// the failed child is already reaped. The child runs in a new session with default signal
// dispositions and an empty mask, stdin on /dev/null, and no other fd of ours: it outlives
// the daemon (no PDEATHSIG) so that the next daemon can adopt or stop it.
Result<Spawned> spawn(const SpawnSpec& spec);

// The spec for instance `instance` of `app` listening on `port`: interpreter + node_args +
// script + args (interpreter "none" runs the script itself), cwd = app.cwd, user/group =
// app.user/app.group, and env = the
// daemon's environment, then app.env, then PORT, NODE_APP_INSTANCE, name (PM2's names) and
// NODEEDGE_APP, NODEEDGE_INSTANCE, which app.env cannot override (the proxy relies on PORT).
// With increment_var, that variable is its value from there (0 when unset or not an integer)
// plus the instance, PM2's increment_var.
// node_ipc is on for every interpreter but "none" unless wait_ready, as under PM2, where apps
// may call process.send() unconditionally: the caller must keep reading the ipc fd
// (NodeIpcReader does) or the app's messages pile up in it.
SpawnSpec worker_spec(const config::App& app, int instance, int port);

// Start time (clock ticks since boot) of a live pid, 0 if it is gone.
unsigned long long process_start_ticks(pid_t pid);

}  // namespace ne::supervisor
