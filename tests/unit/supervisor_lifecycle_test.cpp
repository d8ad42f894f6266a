#include <gtest/gtest.h>

#include "supervisor/lifecycle.h"

using namespace ne::supervisor;

namespace {

struct Row {
    State from;
    Event event;
    State to;
    std::vector<Action> actions;
};

}  // namespace

TEST(Lifecycle, TransitionTable) {
    using A = Action;
    const std::vector<Row> rows = {
        {State::Stopped, Event::Restart, State::Launching, {A::Spawn}},
        {State::Launching, Event::Ready, State::Online, {A::PoolAdd}},
        {State::Launching, Event::ReadyTimeout, State::Stopping, {A::SendTerm}},
        {State::Launching, Event::ExitUnexpected, State::Launching, {A::ScheduleRestart}},
        {State::Launching, Event::ExitNoRestart, State::Stopped, {}},
        {State::Launching, Event::GiveUp, State::Errored, {}},
        {State::Online, Event::Drain, State::Draining, {A::PoolDrain}},
        {State::Online, Event::Stop, State::Stopping, {A::PoolRemove, A::SendTerm}},
        {State::Online, Event::ExitUnexpected, State::Launching, {A::PoolRemove, A::ScheduleRestart}},
        {State::Online, Event::ExitNoRestart, State::Stopped, {A::PoolRemove}},
        {State::Online, Event::HealthFailed, State::Unhealthy, {A::PoolRemove}},
        {State::Unhealthy, Event::HealthOk, State::Online, {A::PoolAdd}},
        {State::Unhealthy, Event::Drain, State::Draining, {A::PoolDrain}},
        {State::Unhealthy, Event::Stop, State::Stopping, {A::PoolRemove, A::SendTerm}},
        {State::Unhealthy, Event::ExitUnexpected, State::Launching, {A::PoolRemove, A::ScheduleRestart}},
        {State::Unhealthy, Event::ExitNoRestart, State::Stopped, {A::PoolRemove}},
        {State::Draining, Event::DrainDone, State::Stopping, {A::PoolRemove, A::SendTerm}},
        {State::Draining, Event::ExitUnexpected, State::Stopped, {A::PoolRemove}},
        {State::Stopping, Event::KillTimeout, State::Stopping, {A::SendKill}},
        {State::Stopping, Event::ExitExpected, State::Stopped, {}},
        {State::Stopped, Event::GiveUp, State::Errored, {}},
        {State::Errored, Event::Restart, State::Launching, {A::Spawn}},
    };
    for (const auto& r : rows) {
        auto t = on(r.from, r.event);
        ASSERT_TRUE(t.has_value()) << to_string(r.from) << " + " << to_string(r.event);
        EXPECT_EQ(t->next, r.to) << to_string(r.from) << " + " << to_string(r.event);
        EXPECT_EQ(t->actions, r.actions) << to_string(r.from) << " + " << to_string(r.event);
    }
}

TEST(Lifecycle, IrrelevantEventsAreIgnored) {
    // A late readiness probe after a stop, or a second drain, must not resurrect a worker.
    EXPECT_FALSE(on(State::Stopping, Event::Ready).has_value());
    EXPECT_FALSE(on(State::Stopped, Event::Ready).has_value());
    EXPECT_FALSE(on(State::Draining, Event::Drain).has_value());
    EXPECT_FALSE(on(State::Errored, Event::ExitUnexpected).has_value());
    EXPECT_FALSE(on(State::Online, Event::Ready).has_value());
    // Health results count only while up; a late one must not put a leaving worker back.
    EXPECT_FALSE(on(State::Online, Event::HealthOk).has_value());
    EXPECT_FALSE(on(State::Unhealthy, Event::HealthFailed).has_value());
    EXPECT_FALSE(on(State::Unhealthy, Event::Ready).has_value());
    EXPECT_FALSE(on(State::Launching, Event::HealthFailed).has_value());
    EXPECT_FALSE(on(State::Draining, Event::HealthOk).has_value());
    EXPECT_FALSE(on(State::Stopping, Event::HealthOk).has_value());
}

TEST(Lifecycle, UpMeansReadyAndNotLeaving) {
    for (State s : {State::Launching, State::Online, State::Unhealthy, State::Draining, State::Stopping, State::Stopped,
                    State::Errored})
        EXPECT_EQ(up(s), s == State::Online || s == State::Unhealthy) << to_string(s);
}

TEST(Lifecycle, StateNamesMatchStatusWords) {
    EXPECT_STREQ(to_string(State::Launching), "launching");
    EXPECT_STREQ(to_string(State::Online), "online");
    EXPECT_STREQ(to_string(State::Unhealthy), "unhealthy");
    EXPECT_STREQ(to_string(State::Draining), "draining");
    EXPECT_STREQ(to_string(State::Stopping), "stopping");
    EXPECT_STREQ(to_string(State::Stopped), "stopped");
    EXPECT_STREQ(to_string(State::Errored), "errored");
}
