// When to restart a worker that exited, or whether to give up (pure: time comes in as values).
// PM2 semantics: an exit sooner than min_uptime after start is "unstable"; once there have
// been more than max_restarts unstable exits the worker is given up on (errored), so
// max_restarts = 15 allows 15 restarts. The delay is exp_backoff_restart_delay doubled per
// consecutive restart (base, 2*base, 4*base ...) up to 15 s, or restart_delay when the
// backoff is 0. A run of at least max(min_uptime, 30 s) - PM2's notion of a stable run -
// resets both the backoff and the unstable count.
#pragma once

#include <chrono>
#include <optional>

#include "config/config.h"

namespace ne::supervisor {

class RestartPolicy {
public:
    explicit RestartPolicy(const config::App& app);

    // Called on each unexpected exit with how long the worker ran. Returns the delay before the
    // next start, or nullopt to give up (status errored).
    std::optional<config::Duration> on_exit(config::Duration uptime);
    int unstable_restarts() const { return unstable_; }

private:
    config::Duration min_uptime_;
    int max_restarts_;
    config::Duration restart_delay_;
    config::Duration backoff_base_;
    config::Duration backoff_current_{0};
    int unstable_ = 0;
};

}  // namespace ne::supervisor
