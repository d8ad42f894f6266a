// RestartPolicy as tables: each row is one exit (how long the worker ran) and what the
// policy must answer (the delay, or give up) and the unstable count after it.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "supervisor/restart_policy.h"

namespace ne::supervisor {
namespace {

using ms = config::Duration;
constexpr std::nullopt_t kGiveUp = std::nullopt;

struct Step {
    int uptime_ms;
    std::optional<int> delay_ms;
    int unstable;
};

struct Case {
    std::string name;
    int min_uptime_ms;
    int max_restarts;
    int restart_delay_ms;
    int backoff_ms;
    std::vector<Step> steps;
};

class RestartPolicyTable : public ::testing::TestWithParam<Case> {};

TEST_P(RestartPolicyTable, Sequence) {
    const Case& c = GetParam();
    config::App app;
    app.min_uptime = ms{c.min_uptime_ms};
    app.max_restarts = c.max_restarts;
    app.restart_delay = ms{c.restart_delay_ms};
    app.exp_backoff_restart_delay = ms{c.backoff_ms};
    RestartPolicy policy(app);
    for (size_t i = 0; i < c.steps.size(); ++i) {
        const Step& s = c.steps[i];
        SCOPED_TRACE("exit #" + std::to_string(i + 1) + " after " + std::to_string(s.uptime_ms) + " ms");
        auto delay = policy.on_exit(ms{s.uptime_ms});
        if (s.delay_ms) {
            ASSERT_TRUE(delay.has_value());
            EXPECT_EQ(delay->count(), *s.delay_ms);
        } else {
            EXPECT_FALSE(delay.has_value());
        }
        EXPECT_EQ(policy.unstable_restarts(), s.unstable);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RestartPolicyTable,
    ::testing::Values(
        Case{"BackoffDoublesThenGivesUpAfterMaxRestarts", 1000, 3, 0, 100,
             {{10, 100, 1}, {10, 200, 2}, {10, 400, 3}, {10, kGiveUp, 4}}},
        Case{"BackoffIsCappedAt15s", 1000, 15, 0, 100,
             {{5000, 100, 0}, {5000, 200, 0}, {5000, 400, 0}, {5000, 800, 0}, {5000, 1600, 0},
              {5000, 3200, 0}, {5000, 6400, 0}, {5000, 12800, 0}, {5000, 15000, 0}, {5000, 15000, 0}}},
        Case{"StableRunResetsBackoffAndUnstable", 1000, 15, 0, 100,
             {{10, 100, 1}, {10, 200, 2}, {10, 400, 3}, {30000, 100, 0}, {10, 200, 1}}},
        Case{"RunBetweenMinUptimeAnd30sNeitherCountsNorResets", 1000, 15, 0, 100,
             {{10, 100, 1}, {29999, 200, 1}, {10, 400, 2}}},
        Case{"StableMeansAtLeastMinUptimeWhenThatIsLonger", 60000, 15, 0, 100,
             {{30000, 100, 1}, {59999, 200, 2}, {60000, 100, 0}}},
        Case{"FixedRestartDelayWhenBackoffIsZero", 1000, 2, 250, 0,
             {{10, 250, 1}, {5000, 250, 1}, {10, 250, 2}, {10, kGiveUp, 3}}},
        Case{"ZeroMaxRestartsGivesUpOnFirstUnstableExit", 1000, 0, 0, 100,
             {{5000, 100, 0}, {10, kGiveUp, 1}}},
        Case{"BaseAboveTheCapIsKept", 1000, 15, 0, 20000,
             {{5000, 20000, 0}, {5000, 20000, 0}}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace ne::supervisor
