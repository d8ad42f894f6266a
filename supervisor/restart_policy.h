// When to restart a worker that exited, or whether to give up (pure: time comes in as values).
// PM2 semantics: an exit sooner than min_uptime after start is "unstable"; max_restarts
// unstable exits in a row -> errored. The delay is restart_delay, or, with
// exp_backoff_restart_delay, that value doubled per consecutive restart up to 15 s, reset
// after a stable run.
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
