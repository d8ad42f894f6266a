#include "supervisor/restart_policy.h"

#include <algorithm>

namespace ne::supervisor {

namespace {
// PM2's caps: the backoff never exceeds 15 s, and 30 s of running counts as stable.
constexpr config::Duration kMaxBackoff{15000};
constexpr config::Duration kStableRun{30000};
}  // namespace

RestartPolicy::RestartPolicy(const config::App& app)
    : min_uptime_(app.min_uptime),
      max_restarts_(app.max_restarts),
      restart_delay_(app.restart_delay),
      backoff_base_(app.exp_backoff_restart_delay) {}

std::optional<config::Duration> RestartPolicy::on_exit(config::Duration uptime) {
    if (uptime >= std::max(min_uptime_, kStableRun)) {
        unstable_ = 0;
        backoff_current_ = config::Duration{0};
    } else if (uptime < min_uptime_) {
        ++unstable_;
    }
    if (unstable_ > max_restarts_) return std::nullopt;
    if (backoff_base_.count() <= 0) return restart_delay_;
    // A base above the cap is used as it is rather than shortened.
    backoff_current_ = backoff_current_.count() == 0
                           ? backoff_base_
                           : std::min(backoff_current_ * 2, std::max(kMaxBackoff, backoff_base_));
    return backoff_current_;
}

}  // namespace ne::supervisor
