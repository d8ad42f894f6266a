// DrainTracker on a real loop with a short deadline: only the drains still open when it passes
// are reported, each once.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "ipc/event_ptr.h"
#include "supervisor/drain_tracker.h"

namespace ne::supervisor {
namespace drain_tracker_test {

using namespace std::chrono_literals;

class DrainTrackerTest : public ::testing::Test {
protected:
    // Runs the loop for `span`.
    void run_for(std::chrono::milliseconds span) {
        timeval tv{0, static_cast<suseconds_t>(span.count() * 1000)};
        event_base_loopexit(base_.get(), &tv);
        event_base_dispatch(base_.get());
    }

    EventBasePtr base_{event_base_new()};
    std::vector<uint64_t> expired_;
    DrainTracker drains_{base_.get(), 50ms, [this](uint64_t id) { expired_.push_back(id); }};
};

TEST_F(DrainTrackerTest, ReportsOnlyTheDrainsStillOpenAtTheDeadline) {
    drains_.start(1);
    drains_.start(2);
    drains_.start(3);
    drains_.finish(2);
    run_for(200ms);
    std::sort(expired_.begin(), expired_.end());   // equal deadlines fire in no set order
    EXPECT_EQ(expired_, (std::vector<uint64_t>{1, 3}));
    run_for(100ms);
    EXPECT_EQ(expired_.size(), 2u) << "each deadline fires once";
}

TEST_F(DrainTrackerTest, StartingAgainRearmsTheDeadline) {
    drains_.start(7);
    run_for(30ms);
    drains_.start(7);
    run_for(30ms);
    EXPECT_TRUE(expired_.empty()) << "60 ms after the first start, 30 ms after the second";
    run_for(100ms);
    EXPECT_EQ(expired_, (std::vector<uint64_t>{7}));
}

TEST_F(DrainTrackerTest, FinishingWhatIsNotDrainingIsHarmless) {
    drains_.finish(9);
    drains_.start(9);
    drains_.finish(9);
    drains_.finish(9);
    run_for(100ms);
    EXPECT_TRUE(expired_.empty());
}

}  // namespace drain_tracker_test
}  // namespace ne::supervisor
