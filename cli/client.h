// The CLI's side of the control socket (protocol in ipc/control.h): one connection, one
// request, one reply. Starts the daemon for the commands that need one running.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "ipc/result.h"

namespace ne::cli {

// $NODEEDGE_HOME (or ~/.nodeedge) made absolute, so a daemon that changes directory agrees.
std::string resolve_home();

// What every verb that needs the daemon ends with when none runs (kind no_daemon: exit 3).
// When a daemon died and left its workers serving (the keeper still answers), it says so and
// how to bring one back that adopts them.
Error no_daemon_error(const std::string& home);

class Client {
public:
    explicit Client(std::string home);

    // The reply's data (the daemon's {"ok": false, "error"} becomes an Error carrying it), or
    // nullopt when no daemon is running; nothing is started.
    Result<std::optional<nlohmann::json>> call_if_running(const nlohmann::json& request) const;
    // As call_if_running, but no daemon is an Error that says so (no_daemon_error()).
    Result<nlohmann::json> call(const nlohmann::json& request) const;
    // As call, but first starts the daemon when none runs (start, resurrect): creates the home
    // folder (0700), execs this binary's `daemon`, and waits up to 10 s for its socket.
    Result<nlohmann::json> call_starting_daemon(const nlohmann::json& request) const;

    // After `kill`: waits until the daemon process is gone (its lock on daemon.pid released),
    // so a following `start` or a look at state.db cannot meet the daemon that is exiting.
    // Error when it is still there after `timeout`.
    Status wait_until_gone(std::chrono::milliseconds timeout) const;

    const std::string& home() const { return home_; }

private:
    Status start_daemon() const;
    std::string home_;
    std::string socket_path_;
};

}  // namespace ne::cli
