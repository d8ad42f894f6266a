// The daemon: supervises apps, forks proxy workers, serves the control socket.
#pragma once

namespace ne::supervisor {

struct DaemonOptions {
    bool foreground = false;   // stay attached (systemd Type=notify, containers); else daemonize
};

// Runs the daemon until `kill` or SIGTERM/SIGINT; returns the exit code.
int run_daemon(const DaemonOptions& opts);

}  // namespace ne::supervisor
