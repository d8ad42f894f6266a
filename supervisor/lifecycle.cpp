#include "supervisor/lifecycle.h"

namespace ne::supervisor {

const char* to_string(State s) {
    switch (s) {
        case State::Launching: return "launching";
        case State::Online: return "online";
        case State::Unhealthy: return "unhealthy";
        case State::Draining: return "draining";
        case State::Stopping: return "stopping";
        case State::Stopped: return "stopped";
        case State::Errored: return "errored";
    }
    return "?";
}

const char* to_string(Event e) {
    switch (e) {
        case Event::Ready: return "ready";
        case Event::ReadyTimeout: return "listen_timeout";
        case Event::Drain: return "drain";
        case Event::DrainDone: return "drained";
        case Event::Stop: return "stop";
        case Event::KillTimeout: return "kill_timeout";
        case Event::ExitExpected: return "exit";
        case Event::ExitUnexpected: return "crash";
        case Event::ExitNoRestart: return "exit, autorestart off";
        case Event::Restart: return "restart";
        case Event::GiveUp: return "give_up";
        case Event::HealthFailed: return "health_failed";
        case Event::HealthOk: return "health_ok";
    }
    return "?";
}

bool up(State s) { return s == State::Online || s == State::Unhealthy; }

std::optional<Transition> on(State s, Event e) {
    using A = Action;
    switch (s) {
        case State::Launching:
            switch (e) {
                case Event::Ready: return Transition{State::Online, {A::PoolAdd}};
                // Never announced to the proxies, so there is nothing to drain.
                case Event::ReadyTimeout:
                case Event::Drain:
                case Event::Stop: return Transition{State::Stopping, {A::SendTerm}};
                case Event::ExitUnexpected: return Transition{State::Launching, {A::ScheduleRestart}};
                case Event::ExitNoRestart: return Transition{State::Stopped, {}};
                case Event::Restart: return Transition{State::Launching, {A::Spawn}};
                case Event::GiveUp: return Transition{State::Errored, {}};
                default: return std::nullopt;
            }
        case State::Online:
            switch (e) {
                case Event::Drain: return Transition{State::Draining, {A::PoolDrain}};
                case Event::Stop: return Transition{State::Stopping, {A::PoolRemove, A::SendTerm}};
                case Event::ExitUnexpected:
                    return Transition{State::Launching, {A::PoolRemove, A::ScheduleRestart}};
                case Event::ExitNoRestart: return Transition{State::Stopped, {A::PoolRemove}};
                case Event::HealthFailed: return Transition{State::Unhealthy, {A::PoolRemove}};
                default: return std::nullopt;
            }
        case State::Unhealthy:
            // Leaving goes as from Online: a drain still lets the requests it had before it was
            // taken out finish, and a removal of what is no longer in the pools is harmless.
            switch (e) {
                case Event::HealthOk: return Transition{State::Online, {A::PoolAdd}};
                case Event::Drain: return Transition{State::Draining, {A::PoolDrain}};
                case Event::Stop: return Transition{State::Stopping, {A::PoolRemove, A::SendTerm}};
                case Event::ExitUnexpected:
                    return Transition{State::Launching, {A::PoolRemove, A::ScheduleRestart}};
                case Event::ExitNoRestart: return Transition{State::Stopped, {A::PoolRemove}};
                default: return std::nullopt;
            }
        case State::Draining:
            switch (e) {
                case Event::DrainDone: return Transition{State::Stopping, {A::PoolRemove, A::SendTerm}};
                case Event::Stop: return Transition{State::Stopping, {A::PoolRemove, A::SendTerm}};
                // It was leaving anyway: no restart, just forget it.
                case Event::ExitUnexpected:
                case Event::ExitNoRestart:
                case Event::ExitExpected: return Transition{State::Stopped, {A::PoolRemove}};
                default: return std::nullopt;
            }
        case State::Stopping:
            switch (e) {
                case Event::KillTimeout: return Transition{State::Stopping, {A::SendKill}};
                case Event::ExitExpected:
                case Event::ExitUnexpected:
                case Event::ExitNoRestart: return Transition{State::Stopped, {}};
                default: return std::nullopt;
            }
        case State::Stopped:
            switch (e) {
                case Event::Restart: return Transition{State::Launching, {A::Spawn}};
                // A start that failed (listen_timeout) ends errored, not merely stopped.
                case Event::GiveUp: return Transition{State::Errored, {}};
                default: return std::nullopt;
            }
        case State::Errored:
            switch (e) {
                case Event::Restart: return Transition{State::Launching, {A::Spawn}};
                default: return std::nullopt;
            }
    }
    return std::nullopt;
}

}  // namespace ne::supervisor
